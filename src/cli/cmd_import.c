/*
 * `kizuna import`: store the objects of bundles or envelopes in a
 * collection, one transaction per file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "ingest/ingest.h"
#include "json/json.h"
#include "match/match.h"
#include "match/warninglist.h"
#include "pattern/pattern.h"
#include "node/node.h"
#include "policy/policy.h"
#include "store/store.h"
#include "store/store_objects.h"
#include "util/progress.h"
#include "util/buf.h"
#include "util/file.h"

static const char help[] =
        "usage: kizuna [--home DIR] import --collection NAME|ID [--strict] [--quiet] [--json]\n"
        "                                  [--no-progress] FILE...|-\n\n"
        "Validates each FILE (a STIX 2.1 bundle, a TAXII envelope or one object; '-'\n"
        "for standard input) and stores its valid objects in the collection, all of a\n"
        "file's objects in one transaction. Prints the counts of added, duplicate\n"
        "(same id and version already stored) and rejected objects, and each\n"
        "rejection's reason on standard error.\n"
        "Exit status: 0 everything stored, 1 something rejected, 2 usage or I/O error.\n\n"
        "  --collection C   the collection's alias or id (required)\n"
        "  --strict         store nothing from a file that has any invalid object\n"
        "  --quiet          do not print the per-file counts\n"
        "  --json           print each file's counts as one JSON object per line:\n"
        "                   {\"file\", \"added\", \"duplicate\", \"rejected\", \"stored\"}\n"
        "  --no-progress    no progress line (shown on standard error when it is a terminal)\n";

struct import_ctx {
    size_t shown;
    const char *file;
    const struct warninglist_set *wl;
    struct node *node;
    struct policy_resolved resolved;
    uint64_t markings[STIX_TLP_RED + 1];
    struct kz_progress *progress;
    uint64_t *objects; /* read so far, every file */
};

#define MAX_SHOWN_REJECTIONS 1000

/* The object's other errors, one line each like the first, so that one run
 * shows everything to fix in it. */
static void print_more_errors(const struct ingest_report *r)
{
    struct kz_error e = *r->why;
    char msg[1400];

    for (const char *p = r->more_errors; p && *p;) {
        const char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');
        if (!tab || !nl || tab > nl)
            break;
        kz_error_property(&e, "%.*s", (int)(tab - p), p);
        snprintf(e.text, sizeof(e.text), "%.*s", (int)(nl - tab - 1), tab + 1);
        fprintf(stderr, "rejected: %s\n", kz_error_format(&e, msg, sizeof(msg)));
        p = nl + 1;
    }
}

static void on_report(void *ctx, const struct ingest_report *r)
{
    struct import_ctx *ic = ctx;
    char msg[1400];

    kz_progress_set(ic->progress, ++*ic->objects, 0, 0);
    if (r->outcome != INGEST_REJECTED)
        return;
    kz_progress_clear(ic->progress);
    if (ic->shown++ < MAX_SHOWN_REJECTIONS) {
        fprintf(stderr, "rejected: %s\n", kz_error_format(r->why, msg, sizeof(msg)));
        print_more_errors(r);
    } else if (ic->shown == MAX_SHOWN_REJECTIONS + 1)
        fprintf(stderr, "rejected: (further rejections not shown)\n");
}

struct listed_ctx {
    struct import_ctx *ic;
    const struct stix_obj *o;
};

static int check_listed(void *ctx, const struct kzp_cond *c)
{
    struct listed_ctx *l = ctx;
    const char *kname = kzp_cond_kind_name(c->kind);
    const struct warninglist_info *w;
    enum match_kind kind;
    char norm[MATCH_MAX_VALUE_BYTES + 1];
    size_t nlen;
    struct kz_error err;

    if (match_kind_parse(kname, strlen(kname), &kind) < 0 ||
        match_normalise(kind, c->value, c->len, norm, sizeof(norm), &nlen, &err) < 0)
        return 0;
    w = warninglist_check(l->ic->wl, kind, c->value, c->len, norm, nlen);
    if (w)
        kz_progress_clear(l->ic->progress);
    if (w)
        fprintf(stderr,
                "warning: %s: %s: pattern: %.*s is on the warninglist \"%s\" (probably a false "
                "positive)\n",
                l->ic->file, l->o->id, (int)(c->len > 200 ? 200 : c->len), c->value, w->name);
    return 0;
}

/* Warns when an indicator names a warninglisted value: the producer most
 * likely made a mistake (a public resolver, a CDN, a top site). */
static void warn_listed(struct import_ctx *ic, const struct stix_obj *o)
{
    const struct kzj_doc *d = o->doc;
    uint32_t pt = KZJ_GET(d, o->node, "pattern_type"), pv = KZJ_GET(d, o->node, "pattern");
    struct listed_ctx l = {.ic = ic, .o = o};
    struct kzp_pattern *p = NULL;
    struct kz_buf b;
    struct kz_error err;
    int complete;

    if (!pt || !pv || !KZJ_STR_EQ(d, pt, "stix") || kzj_type(d, pv) != KZJ_STRING)
        return;
    kz_buf_init(&b, KZP_MAX_PATTERN_BYTES + 1);
    if (kzj_unescape(kzj_raw(d, pv) + 1, kzj_at(d, pv)->len - 2, &b) == 0 &&
        kzp_parse(b.data ? b.data : "", b.len, &p, &err) == 0)
        kzp_extract(p, check_listed, &l, &complete);
    kzp_free(p);
    kz_buf_free(&b);
}

/* What the store records beside each object: its producer (the
 * organisation named by created_by_ref, if it is one of ours) and the
 * recipients it names. */
static int on_meta(void *ctx, const struct stix_obj *o, struct store_put_meta *m,
                   struct kz_error *why)
{
    struct import_ctx *ic = ctx;

    ic->markings[o->tlp]++;
    if (ic->wl && strcmp(o->type, "indicator") == 0)
        warn_listed(ic, o);
    return policy_recipients(node_store(ic->node), node_config(ic->node)->name, o, &ic->resolved, m,
                             why);
}

/* One file's counts as a JSON line (--json); "stored" is false when --strict
 * threw the valid objects away. */
static void print_counts_json(const char *file, const struct ingest_counts *c)
{
    struct kz_buf b;

    kz_buf_init(&b, 8192);
    kz_buf_addstr(&b, "{\"file\":\"");
    kz_buf_add_json_escaped(&b, file, strlen(file));
    kz_buf_printf(&b, "\",\"added\":%zu,\"duplicate\":%zu,\"rejected\":%zu,\"stored\":%s}\n",
                  c->added, c->duplicates, c->rejected, c->rolled_back ? "false" : "true");
    if (!b.failed)
        fwrite(b.data, 1, b.len, stdout);
    kz_buf_free(&b);
}

static int import_file(struct node *n, const struct store_collection *col, const char *path,
                       int strict, int quiet, int json, const struct warninglist_set *wl,
                       struct kz_progress *progress, uint64_t *objects)
{
    struct import_ctx ic = {.node = n, .wl = wl, .progress = progress, .objects = objects};
    struct ingest_opts opts = {.strict = strict,
                               .report = on_report,
                               .report_ctx = &ic,
                               .meta = on_meta,
                               .meta_ctx = &ic,
                               .delete_any = 1}; /* the operator sees all */
    struct ingest_counts counts;
    struct kz_error err;
    char *data = NULL;
    size_t len;
    int rc;

    kz_error_clear(&err);
    opts.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    opts.stix_file = 1;
    ic.file = opts.name;
    if (kz_read_file(path, KZ_MAX_FILE_BYTES, &data, &len, &err) < 0)
        return cli_fail(&err);
    rc = ingest_buffer(node_store(n), col->key, data, len, &opts, &counts, &err);
    free(data);
    kz_progress_clear(progress);
    if (rc < 0) {
        cli_fail(&err);
        fprintf(stderr, "kizuna: %s: nothing was stored\n", opts.name);
        return err.code == KZ_EINVALID || err.code == KZ_ELIMIT ? 1 : 2;
    }
    {
        struct audit_event e = {.user = NULL,
                                .action = "import",
                                .collection = col->id,
                                .count = counts.added,
                                .detail = opts.name};
        memcpy(e.markings, ic.markings, sizeof(e.markings));
        cli_audit(n, &e);
    }
    if (counts.rolled_back)
        fprintf(stderr, "kizuna: %s: --strict: %zu invalid objects, nothing was stored\n",
                opts.name, counts.rejected);
    if (json)
        print_counts_json(opts.name, &counts);
    else if (!quiet)
        printf("%s: %zu added, %zu duplicate, %zu rejected\n", opts.name, counts.added,
               counts.duplicates, counts.rejected);
    return counts.rejected ? 1 : 0;
}

int cmd_import(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"collection", required_argument, NULL, 'c'},
            {"strict", no_argument, NULL, 's'},
            {"quiet", no_argument, NULL, 'q'},
            {"json", no_argument, NULL, 'j'},
            {"no-progress", no_argument, NULL, 'P'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *collection = NULL;
    struct kz_progress progress;
    uint64_t objects = 0;
    struct store_collection col;
    struct warninglist_set *wl = NULL;
    struct kz_error err;
    struct node *n;
    int c, strict = 0, quiet = 0, json = 0, worst = 0, show = 1;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hc:sqj", opts, NULL)) != -1) {
        switch (c) {
        case 'c': collection = optarg; break;
        case 's': strict = 1; break;
        case 'q': quiet = 1; break;
        case 'j': json = 1; break;
        case 'P': show = 0; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("import", argv);
        }
    }
    if (!collection)
        return cli_usage_error("import", "--collection is required");
    if (optind >= argc)
        return cli_usage_error("import", "no file given ('-' reads standard input)");
    n = cli_node(cli);
    if (!n)
        return 2;
    kz_error_clear(&err);
    store_set_bulk(node_store(n));
    if (store_collection_find(node_store(n), NULL, collection, &col, &err) < 0 ||
        cli_load_warninglists(n, &wl, &err) < 0)
        return cli_fail(&err);
    kz_progress_start(&progress, "import", "objects", show);
    for (int i = optind; i < argc; i++) {
        int rc = import_file(n, &col, argv[i], strict, quiet, json, wl, &progress, &objects);
        if (rc > worst)
            worst = rc;
    }
    kz_progress_done(&progress);
    warninglist_set_free(wl);
    /* once, now, rather than every few thousand pages during the import;
     * and the log, as large as what was imported, is emptied */
    if (store_checkpoint_truncate(node_store(n), &err) < 0)
        cli_fail(&err);
    return worst;
}
