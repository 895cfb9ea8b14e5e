/*
 * `kizuna warninglist import|list`: MISP warninglists (known-benign values:
 * public resolvers, CDNs, top sites) kept in the node's store. `kizuna
 * match` suppresses hits on them and `kizuna import` warns of indicators
 * that name them (the producer probably made a mistake).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "match/warninglist.h"
#include "node/node.h"
#include "store/store_blobs.h"
#include "util/buf.h"

#define BLOB_NAME "warninglists"

static const char help[] =
        "usage: kizuna [--home DIR] warninglist import DIR|FILE...\n"
        "       kizuna [--home DIR] warninglist list [--json]\n\n"
        "import reads MISP warninglists (a list.json, a folder of them, or MISP's\n"
        "lists/NAME/list.json tree) into the node; a list already there with the same\n"
        "name is replaced. list shows them. kizuna match suppresses hits on listed values\n"
        "(--show-suppressed shows them) and kizuna import warns of indicators that name\n"
        "one.\n";

int cli_load_warninglists(struct node *n, struct warninglist_set **out, struct kz_error *err)
{
    struct warninglist_set *set = NULL;
    char *blob = NULL;
    size_t len;

    *out = NULL;
    if (store_blob_get(node_store(n), BLOB_NAME, &blob, &len, err) < 0) {
        if (err->code == KZ_ENOTFOUND) {
            kz_error_clear(err);
            return 0; /* none imported */
        }
        return -1;
    }
    set = warninglist_set_new(err);
    if (!set || warninglist_set_load_blob(set, blob, len, err) < 0 ||
        warninglist_set_finish(set, err) < 0) {
        warninglist_set_free(set);
        free(blob);
        return -1;
    }
    free(blob);
    *out = set;
    return 0;
}

/* Rebuilds a list's MISP JSON from what the set holds. */
static int list_json(const struct warninglist_set *s, size_t i, struct kz_buf *b)
{
    struct warninglist_info w;

    if (warninglist_get(s, i, &w) < 0)
        return -1;
    kz_buf_addstr(b, "{\"name\":\"");
    kz_buf_add_json_escaped(b, w.name, strlen(w.name));
    kz_buf_addstr(b, "\",\"description\":\"");
    kz_buf_add_json_escaped(b, w.description ? w.description : "",
                            w.description ? strlen(w.description) : 0);
    kz_buf_printf(b, "\",\"type\":\"%s\",\"version\":%lld,\"matching_attributes\":[", w.type,
                  (long long)w.version);
    for (size_t k = 0; k < w.nattributes; k++) {
        kz_buf_addstr(b, k ? ",\"" : "\"");
        kz_buf_add_json_escaped(b, w.matching_attributes[k], strlen(w.matching_attributes[k]));
        kz_buf_addc(b, '"');
    }
    kz_buf_addstr(b, "],\"list\":[");
    for (size_t k = 0; k < w.entries; k++) {
        const char *e = warninglist_entry(s, i, k);
        kz_buf_addstr(b, k ? ",\"" : "\"");
        kz_buf_add_json_escaped(b, e, strlen(e));
        kz_buf_addc(b, '"');
    }
    kz_buf_addstr(b, "]}");
    return b->failed ? -1 : 0;
}

static int has_list(const struct warninglist_set *s, const char *name)
{
    struct warninglist_info w;

    for (size_t i = 0; i < warninglist_count(s); i++)
        if (warninglist_get(s, i, &w) == 0 && strcmp(w.name, name) == 0)
            return 1;
    return 0;
}

static int import(struct node *n, int argc, char **argv)
{
    struct warninglist_set *fresh = NULL, *old = NULL;
    struct kz_buf b;
    struct kz_error err;
    size_t before;
    int rc = 2;

    kz_error_clear(&err);
    kz_buf_init(&b, (size_t)1 << 30);
    fresh = warninglist_set_new(&err);
    if (!fresh)
        goto out;
    for (int i = 0; i < argc; i++)
        if (warninglist_set_load_path(fresh, argv[i], &err) < 0)
            goto out;
    before = warninglist_count(fresh);
    /* keep the lists already imported that this import does not replace */
    if (cli_load_warninglists(n, &old, &err) < 0)
        goto out;
    for (size_t i = 0; old && i < warninglist_count(old); i++) {
        struct warninglist_info w;
        if (warninglist_get(old, i, &w) < 0 || has_list(fresh, w.name))
            continue;
        kz_buf_reset(&b);
        if (list_json(old, i, &b) < 0 || warninglist_set_add_json(fresh, b.data, b.len, &err) < 0)
            goto out;
    }
    kz_buf_reset(&b);
    if (warninglist_set_serialize(fresh, &b, &err) < 0 ||
        store_blob_put(node_store(n), BLOB_NAME, b.data, b.len, &err) < 0)
        goto out;
    printf("%zu warninglists imported, %zu in all\n", before, warninglist_count(fresh));
    rc = 0;
out:
    if (rc)
        cli_fail(&err);
    warninglist_set_free(fresh);
    warninglist_set_free(old);
    kz_buf_free(&b);
    return rc;
}

static int list(struct node *n, int json)
{
    struct warninglist_set *set = NULL;
    struct kz_error err;
    struct kz_buf b;

    kz_error_clear(&err);
    if (cli_load_warninglists(n, &set, &err) < 0)
        return cli_fail(&err);
    kz_buf_init(&b, 1 << 20);
    for (size_t i = 0; set && i < warninglist_count(set); i++) {
        struct warninglist_info w;
        if (warninglist_get(set, i, &w) < 0)
            continue;
        if (!json) {
            printf("%-48s %-10s %8zu  %s\n", w.name, w.type, w.entries,
                   w.description ? w.description : "");
            continue;
        }
        kz_buf_reset(&b);
        kz_buf_addstr(&b, "{\"name\":\"");
        kz_buf_add_json_escaped(&b, w.name, strlen(w.name));
        kz_buf_printf(&b, "\",\"type\":\"%s\",\"entries\":%zu,\"description\":\"", w.type,
                      w.entries);
        kz_buf_add_json_escaped(&b, w.description ? w.description : "",
                                w.description ? strlen(w.description) : 0);
        kz_buf_addstr(&b, "\"}\n");
        if (!b.failed)
            fputs(b.data, stdout);
    }
    kz_buf_free(&b);
    warninglist_set_free(set);
    return 0;
}

int cmd_warninglist(struct cli *cli, int argc, char **argv)
{
    struct node *n;

    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "import") == 0) {
        if (argc < 3)
            return cli_usage_error("warninglist import", "give a folder or list.json files");
        if (!(n = cli_node(cli)))
            return 2;
        return import(n, argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "list") == 0) {
        if (!(n = cli_node(cli)))
            return 2;
        return list(n, argc > 2 && strcmp(argv[2], "--json") == 0);
    }
    return cli_usage_error("warninglist", "unknown subcommand \"%s\"", argv[1]);
}
