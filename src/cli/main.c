/*
 * kizuna's entry point: global options, then the command table. Adding a
 * command is adding a row to `commands` and a handler in a cmd_*.c file.
 */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "node/node.h"
#include "sign/sign.h"
#include "sync/sync.h"

struct command {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
        {"init", cmd_init, "create a node's home: store, configuration, keys, admin token"},
        {"validate", cmd_validate, "check STIX 2.1 files against the specification"},
        {"collection", cmd_collection, "add and list collections"},
        {"import", cmd_import, "store a bundle's objects in a collection"},
        {"export", cmd_export, "write a collection as a STIX 2.1 bundle"},
        {"show", cmd_show, "print one object"},
        {"pattern", cmd_pattern, "check, explain and match STIX patterns"},
        {"serve", cmd_serve, "run the node's TAXII 2.1 server"},
        {"org", cmd_org, "add and list organisations"},
        {"community", cmd_community, "add communities and their member organisations"},
        {"user", cmd_user, "add and list users"},
        {"token", cmd_token, "create, list and revoke API tokens"},
        {"grant", cmd_grant, "give users, organisations, communities or roles access"},
        {"audit", cmd_audit, "read and verify the audit log"},
        {"peer", cmd_peer, "add, list and remove federation peers"},
        {"sync", cmd_sync, "run one sync round with peers"},
        {"node", cmd_node, "the node's public key"},
        {"match", cmd_match, "scan logs for the indicators one may see"},
        {"warninglist", cmd_warninglist, "import and list MISP warninglists"},
        {"store", cmd_store, "bring the store's schema up to date (store migrate)"},
        {"apply", cmd_apply, "make the node's accounts and collections match a file"},
        {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: kizuna [--home DIR] COMMAND [ARGS...]\n"
               "       kizuna --version | --help\n\n"
               "A node for sharing STIX 2.1 threat intelligence over TAXII 2.1.\n"
               "The home is --home, else $KIZUNA_HOME, else ./kizuna-home.\n\n"
               "commands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(f, "  %-12s %s\n", c->name, c->summary);
    fprintf(f,
            "\nRun `kizuna help COMMAND` (or `kizuna COMMAND --help`) for a command's options.\n");
}

int cli_fail(const struct kz_error *e)
{
    char msg[1400];

    fprintf(stderr, "kizuna: %s\n", kz_error_format(e, msg, sizeof(msg)));
    return kz_error_exit_status(e);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "kizuna %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(run `kizuna %s --help` for usage)\n", cmd);
    return 2;
}

int cli_option_error(const char *cmd, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";

    /* getopt_long sets optopt to a long option's value when its argument
     * is missing, and to 0 when the long option is unknown; for a short
     * option it holds the letter either way */
    if (arg[0] == '-' && arg[1] == '-') {
        if (optopt != 0)
            return cli_usage_error(cmd, "%s needs a value", arg);
        return cli_usage_error(cmd, "unknown option %.*s", (int)strcspn(arg, "="), arg);
    }
    return cli_usage_error(cmd, "-%c is an unknown option or needs a value", optopt);
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* `kizuna help CMD`: what `kizuna CMD --help` prints. */
static int help_command(struct cli *cli, const char *name)
{
    char *argv[] = {(char *)name, "--help", NULL};

    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c->run(cli, 2, argv);
    fprintf(stderr, "kizuna: no command \"%s\"\n\n", name);
    usage(stderr);
    return 2;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

const char *cli_actor(void)
{
    static char actor[KZ_MAX_NAME + 1];
    struct passwd pw, *found = NULL;
    char buf[4096];

    /* the account the process runs as, from the system's user database
     * (not $USER, which the caller sets) */
    if (!actor[0]) {
        if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) == 0 && found)
            snprintf(actor, sizeof(actor), "operator:%s", found->pw_name);
        else
            snprintf(actor, sizeof(actor), "operator:uid%lu", (unsigned long)getuid());
    }
    return actor;
}

int cli_audit(struct node *n, const struct audit_event *e)
{
    const struct node_config *cfg = node_config(n);
    struct audit_opts o = {.backend = cfg->store_backend,
                           .path = cfg->audit_path,
                           .witness_path = cfg->store_path,
                           .syslog = cfg->audit_syslog};
    struct audit_event ev = e ? *e : (struct audit_event){0};
    unsigned char key[AUDIT_KEY_BYTES];
    struct audit_log *l;
    struct kz_error err;
    int rc = -1;

    kz_error_clear(&err);
    /* the command line's own rows name the operator; a row in the name of
     * an --as user says which operator it was in `remote` */
    if (!ev.remote || !ev.remote[0])
        ev.remote = ev.user ? cli_actor() : "local";
    if (!ev.user)
        ev.user = cli_actor();
    ev.durable = 1;
    if (sign_derive_key(cfg->signing_key, SIGN_PURPOSE_AUDIT, key, sizeof(key), &err) < 0) {
        cli_fail(&err);
        return -1;
    }
    l = audit_log_open(&o, key, &err);
    sodium_memzero(key, sizeof(key));
    if (!l) {
        cli_fail(&err);
        return -1;
    }
    if (e && audit_record(l, &ev, &err) < 0)
        cli_fail(&err);
    else
        rc = 0;
    audit_log_close(l);
    return rc;
}

int cli_audit_change(struct node *n, const char *action, const char *collection, const char *fmt,
                     ...)
{
    struct audit_event e = {.action = action, .collection = collection};
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    e.detail = what;
    return cli_audit(n, &e) < 0 ? 2 : 0;
}

struct node *cli_node(struct cli *cli)
{
    struct kz_error err;

    if (cli->node)
        return cli->node;
    kz_error_clear(&err);
    cli->node = node_open(cli->home, &err);
    if (!cli->node)
        cli_fail(&err);
    return cli->node;
}

/* Removes "--home DIR" / "--home=DIR" from anywhere before a "--", so that
 * it may be given before or after the command. Returns -1 on a missing DIR. */
static int take_home(int *argc, char **argv, const char **home)
{
    int out = 1;

    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--home") == 0) {
            if (i + 1 >= *argc)
                return -1;
            *home = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--home=", 7) == 0) {
            *home = argv[i] + 7;
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    const char *home = NULL;
    int rc;

    opterr = 0; /* each command says what is wrong itself (cli_option_error) */
    /* a full disk must surface as a write error, not kill the process */
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    umask(027); /* the store, keys and logs are the node's alone */
    if (sodium_init() < 0 || sync_global_init() < 0) {
        fprintf(stderr, "kizuna: libsodium or libcurl failed to initialise\n");
        return 2;
    }
    if (take_home(&argc, argv, &home) < 0) {
        fprintf(stderr, "kizuna: --home needs a folder\n");
        return 2;
    }
    cli.home = node_home_default(home);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("kizuna %s\n", KZ_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 && argc > 2)
        return help_command(&cli, argv[2]);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (const struct command *c = commands; c->name; c++) {
        if (strcmp(c->name, argv[1]) != 0)
            continue;
        rc = c->run(&cli, argc - 1, argv + 1);
        node_close(cli.node);
        return rc;
    }
    fprintf(stderr, "kizuna: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
