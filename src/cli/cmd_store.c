/*
 * `kizuna store migrate`: bring the store's schema up to date and say which
 * version it is at. Every server and command does the same when it opens the
 * store (PostgreSQL: under an advisory lock, so servers starting at once
 * wait for one another); this command does it alone, for an upgrade window
 * before the servers are started again. With --to it copies the whole store
 * into another (store_copy): PostgreSQL when the node outgrows one
 * machine, or back into SQLite.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "node/node.h"
#include "store/store.h"
#include "store/store_audit.h"
#include "store/store_copy.h"

static const char help[] =
        "usage: kizuna [--home DIR] store migrate [--to DSN | --to sqlite:PATH]\n\n"
        "Brings the node's store schema up to the version this kizuna knows\n"
        "(SQLite or PostgreSQL, as kizuna.conf says) and prints it. Safe while other\n"
        "servers of the node run or start: migrations run one at a time, and a\n"
        "store already up to date is left alone.\n\n"
        "  --to DSN          copy the whole store (objects, accounts, tokens, grants,\n"
        "                    peers, the audit log) into the PostgreSQL database DSN,\n"
        "                    which must be empty; then verify it (rows per table; per\n"
        "                    collection the count and a hash of every version). Run\n"
        "                    again after an interruption, it goes on where it stopped.\n"
        "                    Stop the node's servers first: writes made during the\n"
        "                    copy are not in it. kizuna.conf is not changed.\n"
        "  --to sqlite:PATH  the same into a new SQLite store at PATH (its audit log\n"
        "                    is audit.db in the same folder)\n";

/* Where --to points: a backend, the store's location and its audit log's. */
struct target {
    const char *backend;
    char location[1024];
    char audit[1024];
};

static int parse_target(const char *to, struct target *t)
{
    const char *slash;

    if (strncmp(to, "sqlite:", 7) != 0) {
        t->backend = "postgresql";
        if (!to[0] || strlen(to) >= sizeof(t->location))
            return cli_usage_error("store migrate", "--to: a DSN of 1 to %zu characters",
                                   sizeof(t->location) - 1);
        snprintf(t->location, sizeof(t->location), "%s", to);
        snprintf(t->audit, sizeof(t->audit), "%s", to);
        return 0;
    }
    t->backend = "sqlite";
    to += 7;
    slash = strrchr(to, '/');
    if (!to[0] || to[strlen(to) - 1] == '/' || strlen(to) + 16 >= sizeof(t->location))
        return cli_usage_error("store migrate", "--to sqlite:PATH names the new database file");
    snprintf(t->location, sizeof(t->location), "%s", to);
    snprintf(t->audit, sizeof(t->audit), "%.*saudit.db", slash ? (int)(slash - to + 1) : 0, to);
    return 0;
}

static void print_note(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "kizuna: %s\n", line);
}

/* Opens the destination (creating its schema), copies, verifies. */
static int copy_to(struct node *n, const struct target *t)
{
    const struct node_config *cfg = node_config(n);
    struct store_copy_end from = {.store = node_store(n)}, to = {0};
    struct store_copy_report r;
    struct kz_error err;
    int rc = 2;

    kz_error_clear(&err);
    if (strcmp(t->backend, cfg->store_backend) == 0 && strcmp(t->location, cfg->store_path) == 0)
        return cli_usage_error("store migrate", "--to names the node's own store");
    if (!(from.audit = store_open_audit(cfg->store_backend, cfg->audit_path, 0, &err)) ||
        !(to.store = store_open(t->backend, t->location, 1, &err)) ||
        !(to.audit = store_open_audit(t->backend, t->audit, 1, &err)))
        goto done;
    if (store_copy(&from, &to, print_note, NULL, &r, &err) < 0)
        goto done;
    printf("store: copied %llu rows%s; verified %u collections, %llu object versions\n",
           (unsigned long long)r.rows, r.resumed ? " (resumed)" : "", r.collections,
           (unsigned long long)r.objects);
    printf("store: to use it, set in kizuna.conf: [store] backend = %s and %s\n", t->backend,
           strcmp(t->backend, "sqlite") == 0 ? "path = (PATH) and audit_path = (audit.db beside it)"
                                             : "dsn = (the DSN given to --to), or KIZUNA_DSN");
    rc = cli_audit_change(n, "store-copy", NULL, "to=%s", t->backend) == 0 ? 0 : 1;
done:
    if (rc == 2 && err.code)
        rc = cli_fail(&err);
    store_close(to.audit);
    store_close(to.store);
    store_close(from.audit);
    return rc;
}

static int store_migrate(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"to", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct target t = {0};
    const char *to = NULL;
    struct kz_error err;
    struct node *n;
    int c, have = 0, known = 0;

    optind = 0;
    while ((c = getopt_long(argc, argv, "+ht:", opts, NULL)) != -1) {
        switch (c) {
        case 't': to = optarg; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("store migrate", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("store migrate", "unexpected argument \"%s\"", argv[optind]);
    if (to && parse_target(to, &t) != 0)
        return 2;
    /* opening the store is what migrates it */
    if (!(n = cli_node(cli)))
        return 2;
    if (to)
        return copy_to(n, &t);
    kz_error_clear(&err);
    if (store_schema_version(node_store(n), &have, &known, &err) < 0)
        return cli_fail(&err);
    printf("store: %s schema at version %d (this kizuna knows %d)\n", node_config(n)->store_backend,
           have, known);
    return 0;
}

int cmd_store(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "migrate") == 0)
        return store_migrate(cli, argc - 1, argv + 1);
    return cli_usage_error("store", "unknown subcommand \"%s\" (migrate)", argv[1]);
}
