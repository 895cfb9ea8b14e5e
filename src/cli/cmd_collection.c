/*
 * `kizuna collection add|list|remove`: the collections of a node's API roots.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "cli/cli.h"
#include "policy/policy.h"
#include "node/node.h"
#include "store/store_objects.h"
#include "store/store_remove.h"
#include "util/buf.h"
#include "util/kztime.h"

static const char help[] =
        "usage: kizuna [--home DIR] collection add NAME [--title T] [--description D]\n"
        "                                          [--api-root R] [--id UUID]\n"
        "       kizuna [--home DIR] collection list [--json]\n"
        "       kizuna [--home DIR] collection remove NAME [--force]\n\n"
        "add prints the new collection's id (a UUIDv4); NAME becomes its alias, by\n"
        "which it can be addressed everywhere an id is accepted. The API root\n"
        "defaults to \"default\".\n\n"
        "remove deletes a collection and the grants on it. It refuses while the\n"
        "collection holds objects or peer links; --force deletes those too, and says\n"
        "how many object versions went. Deleted objects are not announced to peers.\n";

/* `collection remove NAME [--force]` */
static int collection_remove(struct cli *cli, int argc, char **argv)
{
    const char *name = NULL;
    struct store_collection c;
    struct store_refs refs;
    struct auth_user op;
    struct kz_error err;
    struct node *n;
    int force = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return 0;
        } else if (!name && argv[i][0] != '-')
            name = argv[i];
        else
            return cli_usage_error("collection remove", "give one NAME and, optionally, --force");
    }
    if (!name)
        return cli_usage_error("collection remove", "give the collection's NAME or id");
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    policy_operator_caller(&op);
    if (admin_collection_remove(node_store(n), &op, name, force, &c, &refs, &err) < 0)
        return cli_fail(&err);
    printf("removed collection %s (%s): %llu object version(s), %llu grant(s), %llu peer "
           "link(s) deleted\n",
           c.alias, c.id, (unsigned long long)refs.objects, (unsigned long long)refs.grants,
           (unsigned long long)refs.links);
    return cli_audit_change(n, "collection-drop", c.id, "collection=%s objects=%llu force=%d",
                            c.alias, (unsigned long long)refs.objects, force);
}

static int check_alias(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > KZ_MAX_NAME)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return -1;
    }
    return 0;
}

static int collection_add(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"title", required_argument, NULL, 't'},
            {"description", required_argument, NULL, 'd'},
            {"api-root", required_argument, NULL, 'r'},
            {"id", required_argument, NULL, 'i'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct store_collection col;
    struct store_api_root root;
    struct kz_error err;
    struct node *n;
    const char *api_root = "default", *title = NULL, *desc = "", *id = "";
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "ht:d:r:i:", opts, NULL)) != -1) {
        switch (c) {
        case 't': title = optarg; break;
        case 'd': desc = optarg; break;
        case 'r': api_root = optarg; break;
        case 'i': id = optarg; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("collection add", argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("collection add", "give exactly one NAME");
    if (check_alias(argv[optind]) < 0)
        return cli_usage_error("collection add",
                               "NAME must be 1-%d letters, digits, '-', '_' or '.'", KZ_MAX_NAME);
    if ((title && strlen(title) > KZ_MAX_TEXT) || strlen(desc) > KZ_MAX_TEXT)
        return cli_usage_error("collection add", "title and description are limited to %d bytes",
                               KZ_MAX_TEXT);
    n = cli_node(cli);
    if (!n)
        return 2;
    kz_error_clear(&err);
    if (store_api_root_find(node_store(n), api_root, &root, &err) < 0)
        return cli_fail(&err);
    memset(&col, 0, sizeof(col));
    snprintf(col.alias, sizeof(col.alias), "%s", argv[optind]);
    snprintf(col.api_root, sizeof(col.api_root), "%s", api_root);
    snprintf(col.title, sizeof(col.title), "%s", title ? title : argv[optind]);
    snprintf(col.description, sizeof(col.description), "%s", desc);
    snprintf(col.id, sizeof(col.id), "%s", id);
    if (store_collection_add(node_store(n), &col, &err) < 0)
        return cli_fail(&err);
    printf("%s\n", col.id);
    return cli_audit_change(n, "collection-add", col.id, "collection=%s api_root=%s", col.alias,
                            col.api_root);
}

struct list_ctx {
    struct store *store;
    int json;
    int first;
    struct cli_table *table; /* the text listing's rows */
};

static int print_collection(void *ctx, const struct store_collection *c)
{
    struct list_ctx *l = ctx;
    struct kz_error err;
    uint64_t count = 0;
    char when[KZ_TS_MICROS_LEN];
    struct kz_buf b;

    store_count(l->store, c->key, &count, &err);
    kz_ts_format_micros(c->created_us, when);
    if (!l->json) {
        char objects[24];
        snprintf(objects, sizeof(objects), "%" PRIu64, count);
        const char *row[] = {c->id, c->alias, c->api_root, objects, c->title};
        return cli_table_add(l->table, row);
    }
    kz_buf_init(&b, 64 * 1024);
    kz_buf_addstr(&b, "{\"id\":\"");
    kz_buf_addstr(&b, c->id);
    kz_buf_addstr(&b, "\",\"alias\":\"");
    kz_buf_add_json_escaped(&b, c->alias, strlen(c->alias));
    kz_buf_addstr(&b, "\",\"api_root\":\"");
    kz_buf_add_json_escaped(&b, c->api_root, strlen(c->api_root));
    kz_buf_addstr(&b, "\",\"title\":\"");
    kz_buf_add_json_escaped(&b, c->title, strlen(c->title));
    kz_buf_addstr(&b, "\",\"description\":\"");
    kz_buf_add_json_escaped(&b, c->description, strlen(c->description));
    kz_buf_printf(&b, "\",\"created\":\"%s\",\"objects\":%" PRIu64 "}\n", when, count);
    if (!b.failed)
        fputs(b.data, stdout);
    kz_buf_free(&b);
    return 0;
}

static int collection_list(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct list_ctx l = {.first = 1};
    struct kz_error err;
    struct node *n;
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
        switch (c) {
        case 'j': l.json = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("collection list", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("collection list", "unexpected argument \"%s\"", argv[optind]);
    n = cli_node(cli);
    if (!n)
        return 2;
    l.store = node_store(n);
    kz_error_clear(&err);
    if (!l.json) {
        static const char *const header[] = {"ID", "ALIAS", "API ROOT", "OBJECTS", "TITLE"};
        l.table = cli_table_new(5);
        if (!l.table || cli_table_add(l.table, header) < 0) {
            cli_table_free(l.table);
            kz_error_set(&err, KZ_ENOMEM, "out of memory");
            return cli_fail(&err);
        }
    }
    c = store_collection_each(l.store, NULL, print_collection, &l, &err);
    if (c == 0)
        cli_table_print(l.table, stdout);
    cli_table_free(l.table);
    return c < 0 ? cli_fail(&err) : 0;
}

int cmd_collection(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        if (argc == 1)
            fputs(help, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(help, stdout);
        return 0;
    }
    if (strcmp(argv[1], "add") == 0)
        return collection_add(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return collection_list(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "remove") == 0)
        return collection_remove(cli, argc - 1, argv + 1);
    return cli_usage_error("collection", "unknown subcommand \"%s\"", argv[1]);
}
