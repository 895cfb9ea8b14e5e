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
#include "node/node.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/file.h"

static const char help[] =
        "usage: kizuna [--home DIR] import --collection NAME|ID [--strict] [--quiet] FILE...|-\n\n"
        "Validates each FILE (a STIX 2.1 bundle, a TAXII envelope or one object; '-'\n"
        "for standard input) and stores its valid objects in the collection, all of a\n"
        "file's objects in one transaction. Prints the counts of added, duplicate\n"
        "(same id and version already stored) and rejected objects, and each\n"
        "rejection's reason on standard error.\n"
        "Exit status: 0 everything stored, 1 something rejected, 2 usage or I/O error.\n\n"
        "  --collection C   the collection's alias or id (required)\n"
        "  --strict         store nothing from a file that has any invalid object\n"
        "  --quiet          do not print the per-file counts\n";

struct import_ctx {
    size_t shown;
    struct node *node;
    struct policy_resolved resolved;
    uint64_t markings[STIX_TLP_RED + 1];
};

#define MAX_SHOWN_REJECTIONS 1000

static void on_report(void *ctx, const struct ingest_report *r)
{
    struct import_ctx *ic = ctx;
    char msg[1400];

    if (r->outcome != INGEST_REJECTED)
        return;
    if (ic->shown++ < MAX_SHOWN_REJECTIONS)
        fprintf(stderr, "rejected: %s\n", kz_error_format(r->why, msg, sizeof(msg)));
    else if (ic->shown == MAX_SHOWN_REJECTIONS + 1)
        fprintf(stderr, "rejected: (further rejections not shown)\n");
}

/* What the store records beside each object: its producer (the
 * organisation named by created_by_ref, if it is one of ours) and the
 * recipients it names. */
static int on_meta(void *ctx, const struct stix_obj *o, struct store_put_meta *m,
                   struct kz_error *why)
{
    struct import_ctx *ic = ctx;

    ic->markings[o->tlp]++;
    return policy_recipients(node_store(ic->node), node_config(ic->node)->name, o, &ic->resolved, m,
                             why);
}

static int import_file(struct node *n, const struct store_collection *col, const char *path,
                       int strict, int quiet)
{
    struct import_ctx ic = {.node = n};
    struct ingest_opts opts = {.strict = strict,
                               .report = on_report,
                               .report_ctx = &ic,
                               .meta = on_meta,
                               .meta_ctx = &ic};
    struct ingest_counts counts;
    struct kz_error err;
    char *data = NULL;
    size_t len;
    int rc;

    kz_error_clear(&err);
    opts.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    if (kz_read_file(path, KZ_MAX_FILE_BYTES, &data, &len, &err) < 0)
        return cli_fail(&err);
    rc = ingest_buffer(node_store(n), col->key, data, len, &opts, &counts, &err);
    free(data);
    if (rc < 0) {
        cli_fail(&err);
        fprintf(stderr, "kizuna: %s: nothing was stored\n", opts.name);
        return err.code == KZ_EINVALID || err.code == KZ_ELIMIT ? 1 : 2;
    }
    {
        struct audit_event e = {.user = "operator",
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
    if (!quiet)
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
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *collection = NULL;
    struct store_collection col;
    struct kz_error err;
    struct node *n;
    int c, strict = 0, quiet = 0, worst = 0;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hc:sq", opts, NULL)) != -1) {
        switch (c) {
        case 'c': collection = optarg; break;
        case 's': strict = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_usage_error("import", "unknown option");
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
    if (store_collection_find(node_store(n), NULL, collection, &col, &err) < 0)
        return cli_fail(&err);
    for (int i = optind; i < argc; i++) {
        int rc = import_file(n, &col, argv[i], strict, quiet);
        if (rc > worst)
            worst = rc;
    }
    return worst;
}
