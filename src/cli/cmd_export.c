/*
 * `kizuna export`: a collection as a STIX 2.1 bundle, each object's stored
 * text written as it was received, so what was imported comes back out.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "node/node.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/uuid.h"

static const char help[] =
        "usage: kizuna [--home DIR] export --collection NAME|ID [--out FILE] [--all-versions]\n"
        "                                  [--as USER]\n\n"
        "Writes the collection's objects as a STIX 2.1 bundle, in the order they were\n"
        "added, to FILE (atomically) or standard output. Only the latest version of\n"
        "each object unless --all-versions. An export is a bulk path: objects marked\n"
        "TLP:RED never leave in one (docs/SHARING.md). --as USER exports what USER\n"
        "may see; without it, the node operator's view (everything else).\n";

/* Objects are written in batches: large enough to amortise write(2), small
 * enough to keep memory flat whatever the collection's size. */
#define EXPORT_FLUSH_BYTES (1u << 20)

struct export_ctx {
    struct kz_out *out;
    struct kz_buf buf;
    size_t n;
    uint64_t markings[STIX_TLP_RED + 1];
};

static int flush(struct export_ctx *x, struct kz_error *err)
{
    if (x->buf.failed)
        return kz_error_set(err, KZ_ENOMEM, "out of memory writing the bundle");
    if (kz_out_write(x->out, x->buf.data, x->buf.len, err) < 0)
        return -1;
    kz_buf_reset(&x->buf);
    return 0;
}

static int on_row(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct export_ctx *x = ctx;

    kz_buf_addstr(&x->buf, x->n++ ? ",\n" : "\n");
    if (r->tlp >= 0 && r->tlp <= STIX_TLP_RED)
        x->markings[r->tlp]++;
    kz_buf_add(&x->buf, r->raw, r->rawlen);
    if (x->buf.len >= EXPORT_FLUSH_BYTES || x->buf.failed)
        return flush(x, err);
    return 0;
}

/* The operator's view, or USER's: an export is a bulk path either way. */
static int export_view(struct node *n, const struct store_collection *col, const char *as,
                       struct policy_view *view, struct kz_error *err)
{
    struct policy_reader r = {.node_name = node_config(n)->name,
                              .default_tlp = node_config(n)->default_tlp,
                              .bulk = 1};
    struct auth_user u;

    if (!as) {
        policy_operator_view(col, node_config(n)->default_tlp, 1, view);
        return 0;
    }
    if (auth_user_load(node_store(n), as, &u, err) < 0)
        return -1;
    r.user = &u;
    if (policy_view_open(node_store(n), &r, col, view, err) < 0)
        return -1;
    if (!view->can_read)
        return kz_error_set(err, KZ_EDENIED, "%s may not read collection %s", as, col->alias);
    return 0;
}

int cmd_export(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"collection", required_argument, NULL, 'c'},
            {"out", required_argument, NULL, 'o'},
            {"all-versions", no_argument, NULL, 'a'},
            {"as", required_argument, NULL, 'u'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *collection = NULL, *outpath = "-", *as = NULL;
    struct export_ctx x = {0};
    struct store_collection col;
    struct store_filter f;
    struct store_page page;
    struct policy_view view;
    struct kz_error err;
    char uuid[KZ_UUID_LEN];
    struct node *n;
    int c, all = 0;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hc:o:au:", opts, NULL)) != -1) {
        switch (c) {
        case 'u': as = optarg; break;
        case 'c': collection = optarg; break;
        case 'o': outpath = optarg; break;
        case 'a': all = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_usage_error("export", "unknown option");
        }
    }
    if (!collection)
        return cli_usage_error("export", "--collection is required");
    if (optind != argc)
        return cli_usage_error("export", "unexpected argument \"%s\"", argv[optind]);
    n = cli_node(cli);
    if (!n)
        return 2;
    kz_error_clear(&err);
    if (store_collection_find(node_store(n), NULL, collection, &col, &err) < 0)
        return cli_fail(&err);
    if (export_view(n, &col, as, &view, &err) < 0)
        return cli_fail(&err);
    x.out = kz_out_open(outpath, &err);
    if (!x.out)
        return cli_fail(&err);
    kz_buf_init(&x.buf, EXPORT_FLUSH_BYTES + KZ_MAX_OBJECT_BYTES + 64);
    kz_uuid_v4(uuid);
    kz_buf_printf(&x.buf, "{\"type\":\"bundle\",\"id\":\"bundle--%s\",\"objects\":[", uuid);
    store_filter_init(&f, col.key);
    f.versions = all ? STORE_V_ALL : STORE_V_LAST;
    policy_filter(&view, &f);
    if (store_list(node_store(n), &f, 1, on_row, &x, &page, &err) < 0)
        goto fail;
    kz_buf_addstr(&x.buf, x.n ? "\n]}\n" : "]}\n");
    if (flush(&x, &err) < 0)
        goto fail;
    if (kz_out_commit(x.out, &err) < 0) {
        x.out = NULL; /* commit freed it */
        goto fail;
    }
    {
        struct audit_event e = {.user = as ? as : "operator",
                                .action = "export",
                                .collection = col.id,
                                .count = page.count,
                                .detail = outpath};
        memcpy(e.markings, x.markings, sizeof(e.markings));
        cli_audit(n, &e);
    }
    kz_buf_free(&x.buf);
    return 0;
fail:
    kz_out_abort(x.out);
    kz_buf_free(&x.buf);
    return cli_fail(&err);
}
