/*
 * `kizuna show ID`: one object, from whichever collections hold it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "json/json.h"
#include "node/node.h"
#include "store/store_objects.h"
#include "util/buf.h"
#include "util/kztime.h"

static const char help[] =
        "usage: kizuna [--home DIR] show ID [--json] [--all-versions]\n\n"
        "Prints the object with this STIX id from every collection that holds it:\n"
        "where it is, its version, when it was added, its TLP marking, and its\n"
        "content indented. --json prints only the object's JSON, one per line.\n";

struct show_ctx {
    struct store *store;
    const char *id;
    int json;
    int all;
    unsigned found;
    struct node *node;
    const struct store_collection *col;
    uint64_t markings[STIX_TLP_RED + 1]; /* of the rows read in col */
    struct kzj_doc doc;
    struct kz_buf out;
    struct kz_error *err; /* a failure inside the walk over collections */
};

static int on_row(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct show_ctx *s = ctx;
    char when[KZ_TS_MICROS_LEN];

    s->found++;
    if (r->tlp >= 0 && r->tlp <= STIX_TLP_RED)
        s->markings[r->tlp]++;
    if (s->json) {
        fwrite(r->raw, 1, r->rawlen, stdout);
        fputc('\n', stdout);
        return 0;
    }
    kz_ts_format_micros(r->added, when);
    printf("%s%s\n", s->found > 1 ? "\n" : "", r->id);
    printf("  collection  %s (%s)\n", s->col->alias, s->col->id);
    printf("  version     %s\n", r->version);
    printf("  added       %s\n", when);
    printf("  marking     %s\n",
           r->tlp ? stix_tlp_name((enum stix_tlp)r->tlp) : "none (the node's default applies)");
    kz_buf_reset(&s->out);
    if (kzj_parse(&s->doc, r->raw, r->rawlen, err) < 0 || kzj_pretty(&s->doc, 0, &s->out) < 0)
        return -1;
    printf("%s\n", s->out.data);
    return 0;
}

static int each_collection(void *ctx, const struct store_collection *c)
{
    struct show_ctx *s = ctx;
    struct store_filter f;
    struct store_page page;
    struct kz_error err;

    store_filter_init(&f, c->key);
    store_filter_everything(&f); /* the node operator's command */
    f.ids[0] = s->id;
    f.nids = 1;
    f.versions = s->all ? STORE_V_ALL : STORE_V_LAST;
    s->col = c;
    kz_error_clear(&err);
    memset(s->markings, 0, sizeof(s->markings));
    if (store_list(s->store, &f, 1, on_row, s, &page, &err) < 0) {
        *s->err = err;
        return -1;
    }
    if (page.count) {
        struct audit_event e = {
                .action = "read", .collection = c->id, .count = page.count, .detail = s->id};
        memcpy(e.markings, s->markings, sizeof(e.markings));
        if (cli_audit(s->node, &e) < 0)
            return -1;
    }
    return 0;
}

int cmd_show(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"all-versions", no_argument, NULL, 'a'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct show_ctx s = {0};
    struct kz_error err;
    struct node *n;
    int c, rc;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hja", opts, NULL)) != -1) {
        switch (c) {
        case 'j': s.json = 1; break;
        case 'a': s.all = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("show", argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("show", "give exactly one STIX id");
    n = cli_node(cli);
    if (!n)
        return 2;
    s.store = node_store(n);
    s.node = n;
    s.id = argv[optind];
    kzj_doc_init(&s.doc);
    kz_buf_init(&s.out, (size_t)KZ_MAX_OBJECT_BYTES * 4);
    kz_error_clear(&err);
    s.err = &err;
    rc = store_collection_each(s.store, NULL, each_collection, &s, &err);
    kzj_doc_free(&s.doc);
    kz_buf_free(&s.out);
    if (rc < 0)
        return cli_fail(&err);
    if (!s.found) {
        fprintf(stderr, "kizuna: no object with id %s\n", s.id);
        return 1;
    }
    return 0;
}
