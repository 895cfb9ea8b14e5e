/*
 * `kizuna export`: a collection as a STIX 2.1 bundle, each object's stored
 * text written as it was received, so what was imported comes back out;
 * or, with --format, its active indicators as files for sensors and
 * scripts (export/: Zeek intel, Suricata datasets and rules, CSV, lists).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "export/export.h"
#include "ingest/tombstone.h"
#include "match/match.h"
#include "node/node.h"
#include "policy/policy.h"
#include "store/store_objects.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/kztime.h"
#include "util/progress.h"
#include "util/uuid.h"

static const char help[] =
        "usage: kizuna [--home DIR] export --collection NAME|ID [--out FILE] [--all-versions]\n"
        "                                  [--as USER] [--tombstones] [--no-progress]\n"
        "       kizuna [--home DIR] export --collection NAME|ID... --format F [--type T]\n"
        "                                  [--out FILE] [--as USER] [--sid-base N]\n"
        "                                  [--psl FILE]\n\n"
        "Writes the collection's objects as a STIX 2.1 bundle, in the order they were\n"
        "added, to FILE (atomically) or standard output. Only the latest version of\n"
        "each object unless --all-versions. Deletions (x-kizuna-tombstone objects, which\n"
        "strict STIX tools refuse) are left out unless --tombstones.\n"
        "An export is a bulk path: objects marked\n"
        "TLP:RED never leave in one (docs/SHARING.md). --as USER exports what USER\n"
        "may see; without it, the node operator's view (everything else). On a terminal,\n"
        "standard error shows the progress unless --no-progress.\n\n"
        "--format writes the active indicators (not revoked, inside valid_from/\n"
        "valid_until, pattern_type stix) of one or more collections (--collection\n"
        "again, up to 16) for sensors instead: the values of their equality\n"
        "conditions, normalised and checked, each once, sorted. A value whose pattern\n"
        "needs more than it (one side of an AND, an address with a port) is written\n"
        "and marked partial where the format can say so. F is one of:\n"
        "  stix              the bundle (the default)\n"
        "  zeek-intel        a Zeek Intelligence Framework file (Intel::ADDR, SUBNET,\n"
        "                    DOMAIN, URL, EMAIL, FILE_HASH)\n"
        "  suricata-dataset  one Suricata dataset; needs --type ip, domain, md5, sha1\n"
        "                    or sha256 (write it to the file the rules load, e.g.\n"
        "                    kizuna-domains.lst)\n"
        "  suricata-rules    rules using those datasets, with subdomain matching of\n"
        "                    domains, URL rules, CIDR groups and file hash lists\n"
        "  csv               RFC 4180, one row per indicator value\n"
        "  txt               one value per line\n"
        "T limits the values: ip (addresses and CIDR blocks), domain, url, email,\n"
        "hash, or one of md5, sha1, sha256, sha512. --sid-base N puts the rules' sids\n"
        "in [N, N+999999] (default 1000000). --psl FILE is the public suffix list\n"
        "(default: the newer of Debian's publicsuffix package and libpsl's built-in\n"
        "copy): a domain that is a public suffix never matches its subdomains.\n"
        "Internationalised names are written as IDNA A-labels. A summary goes to\n"
        "stderr.\n"
        "Setting up Zeek and Suricata: docs/EXPORTS.md.\n";

/* Objects are written in batches: large enough to amortise write(2), small
 * enough to keep memory flat whatever the collection's size. */
#define EXPORT_FLUSH_BYTES (1u << 20)

struct export_ctx {
    struct kz_out *out;
    struct kz_buf buf;
    size_t n;
    uint64_t markings[STIX_TLP_RED + 1];
    struct kz_progress progress;
    uint64_t bytes;
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
    x->bytes += r->rawlen;
    kz_progress_set(&x->progress, x->n, x->bytes, 0);
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

struct sensor_args {
    enum export_format format;
    enum export_type type;
    uint32_t sid_base;
    const char *psl;
    int progress; /* 0 for --no-progress */
};

static void sensor_progress(void *ctx, uint64_t indicators)
{
    kz_progress_set(ctx, indicators, 0, 0);
}

/* The summary line (always) and what the operator must do next. */
static void summary(const struct sensor_args *a, const struct export_stats *st)
{
    fprintf(stderr,
            "kizuna export: %s: %llu %s from %llu of %llu active indicators, %llu values "
            "partial; left out: %llu invalid, %llu unsupported, %llu of other types; %llu "
            "inactive, %llu not stix patterns\n",
            export_format_name(a->format), (unsigned long long)st->lines,
            a->format == EXPORT_SURICATA_RULES ? "rules" : "lines", (unsigned long long)st->used,
            (unsigned long long)st->indicators, (unsigned long long)st->partial,
            (unsigned long long)st->invalid, (unsigned long long)st->unsupported,
            (unsigned long long)st->filtered, (unsigned long long)st->inactive,
            (unsigned long long)st->other);
    if (st->invalid || st->unsupported)
        fprintf(stderr,
                "kizuna export: warning: %llu values could not be written as %s "
                "(docs/EXPORTS.md says which and why)\n",
                (unsigned long long)(st->invalid + st->unsupported), export_format_name(a->format));
    if (st->partial)
        fprintf(stderr,
                "kizuna export: %llu values come from patterns that need more than the "
                "value (an AND, a port, a qualifier): a hit on one is a lead, not proof\n",
                (unsigned long long)st->partial);
    if (a->format == EXPORT_SURICATA_DATASET && st->unsupported && a->type == EXPORT_T_IP)
        fprintf(stderr, "kizuna export: CIDR blocks are not dataset values; "
                        "--format suricata-rules matches them in address groups\n");
    if (a->format == EXPORT_SURICATA_DATASET && st->unsupported && a->type == EXPORT_T_DOMAIN)
        fprintf(stderr, "kizuna export: domains that are public suffixes are left out of the "
                        "dataset; --format suricata-rules matches them exactly\n");
    if (a->format == EXPORT_SURICATA_RULES && st->needs) {
        fprintf(stderr, "kizuna export: the rules load, from their own folder:");
        for (int t = EXPORT_T_IP; t <= EXPORT_T_SHA512; t++)
            if (st->needs & (1u << t))
                fprintf(stderr, " %s (--format suricata-dataset --type %s)",
                        export_dataset_file((enum export_type)t),
                        export_type_name((enum export_type)t));
        fputc('\n', stderr);
    }
}

/* The collections of a sensor export, each once, each one USER (or the
 * operator) may read; their TAXII ids go to ids[0..*nids). */
static int sensor_collections(struct node *n, const char *const *names, size_t nnames,
                              const char *as, char ids[][KZ_UUID_LEN], size_t *nids,
                              struct kz_error *err)
{
    struct store_collection col;
    struct policy_view view;

    *nids = 0;
    for (size_t i = 0; i < nnames; i++) {
        size_t k = 0;
        if (store_collection_find(node_store(n), NULL, names[i], &col, err) < 0 ||
            export_view(n, &col, as, &view, err) < 0)
            return -1;
        while (k < *nids && strcmp(ids[k], col.id) != 0)
            k++;
        if (k == *nids)
            memcpy(ids[(*nids)++], col.id, KZ_UUID_LEN);
    }
    return 0;
}

/* One audit event per collection, with what it contributed. */
static void sensor_audit(struct node *n, const char *as, const struct sensor_args *a,
                         const char *outpath, const struct export_opts *o)
{
    char detail[1100];

    snprintf(detail, sizeof(detail), "%s:%s", export_format_name(a->format), outpath);
    for (size_t i = 0; i < o->ncollections; i++) {
        struct audit_event e = {.user = as,
                                .action = "export",
                                .collection = o->collections[i],
                                .count = o->coll_stats[i].used,
                                .detail = detail};
        memcpy(e.markings, o->coll_stats[i].markings, sizeof(e.markings));
        cli_audit(n, &e);
    }
}

/* The public suffix list: --psl FILE must load; the default is libpsl's
 * newest (Debian's list or its built-in copy), missing only when memory
 * runs out (then only single labels are public suffixes, with a warning). */
static int sensor_psl(const char *path, struct match_psl **psl, struct kz_error *err)
{
    if (path) {
        *psl = match_psl_load(path, err);
        return *psl ? 0 : -1;
    }
    *psl = match_psl_default(err);
    if (!*psl) {
        fprintf(stderr,
                "kizuna: warning: no public suffix list (%s): only single labels are treated "
                "as public suffixes\n",
                err->text);
        kz_error_clear(err);
    }
    return 0;
}

/* --format other than stix: the active indicators of the collections
 * named, through export/. */
static int export_sensor(struct node *n, const char *const *names, size_t nnames, const char *as,
                         const char *outpath, const struct sensor_args *a)
{
    char ids[EXPORT_MAX_COLLECTIONS][KZ_UUID_LEN];
    const char *idp[EXPORT_MAX_COLLECTIONS];
    struct export_coll_stats cs[EXPORT_MAX_COLLECTIONS];
    struct export_opts o = {.format = a->format,
                            .type = a->type,
                            .collections = idp,
                            .coll_stats = cs,
                            .node_name = node_config(n)->name,
                            .default_tlp = node_config(n)->default_tlp,
                            .now_us = kz_now_micros(),
                            .sid_base = a->sid_base};
    struct export_stats st;
    struct match_psl *psl = NULL;
    struct auth_user u;
    struct kz_out *out = NULL;
    struct kz_error err;
    struct kz_progress progress;
    int rc = 2;

    kz_error_clear(&err);
    /* not over the export itself written to the same terminal */
    kz_progress_start(&progress, "export", "indicators",
                      a->progress && !(strcmp(outpath, "-") == 0 && isatty(STDOUT_FILENO)));
    o.progress = sensor_progress;
    o.progress_ctx = &progress;
    if (sensor_collections(n, names, nnames, as, ids, &o.ncollections, &err) < 0)
        goto out;
    for (size_t i = 0; i < o.ncollections; i++)
        idp[i] = ids[i];
    if (as && auth_user_load(node_store(n), as, &u, &err) < 0)
        goto out;
    o.as = as ? &u : NULL;
    if (sensor_psl(a->psl, &psl, &err) < 0)
        goto out;
    o.psl = psl;
    out = kz_out_open(outpath, &err);
    if (!out || export_write(node_store(n), &o, out, &st, &err) < 0)
        goto out;
    kz_progress_done(&progress);
    if (kz_out_commit(out, &err) < 0) {
        out = NULL; /* commit freed it */
        goto out;
    }
    out = NULL;
    summary(a, &st);
    sensor_audit(n, as, a, outpath, &o);
    rc = 0;
out:
    kz_progress_clear(&progress);
    kz_out_abort(out);
    match_psl_free(psl);
    if (rc)
        rc = cli_fail(&err);
    return rc;
}

int cmd_export(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"collection", required_argument, NULL, 'c'},
            {"out", required_argument, NULL, 'o'},
            {"all-versions", no_argument, NULL, 'a'},
            {"as", required_argument, NULL, 'u'},
            {"format", required_argument, NULL, 'f'},
            {"type", required_argument, NULL, 't'},
            {"sid-base", required_argument, NULL, 's'},
            {"psl", required_argument, NULL, 'p'},
            {"tombstones", no_argument, NULL, 'T'},
            {"no-progress", no_argument, NULL, 'P'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *names[EXPORT_MAX_COLLECTIONS], *outpath = "-", *as = NULL;
    size_t nnames = 0;
    struct sensor_args sa = {.type = EXPORT_T_ALL};
    int sensor = 0, typed = 0;
    long v;
    struct export_ctx x = {0};
    struct store_collection col;
    struct store_filter f;
    struct store_page page;
    struct policy_view view;
    struct kz_error err;
    char uuid[KZ_UUID_LEN];
    struct node *n;
    int c, all = 0, tombstones = 0, show = 1;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hc:o:au:f:t:s:p:T", opts, NULL)) != -1) {
        switch (c) {
        case 'u': as = optarg; break;
        case 'c':
            if (nnames == EXPORT_MAX_COLLECTIONS)
                return cli_usage_error("export", "at most %d --collection", EXPORT_MAX_COLLECTIONS);
            names[nnames++] = optarg;
            break;
        case 'o': outpath = optarg; break;
        case 'a': all = 1; break;
        case 'T': tombstones = 1; break;
        case 'P': show = 0; break;
        case 'f':
            sensor = strcmp(optarg, "stix") != 0;
            if (sensor && export_format_parse(optarg, &sa.format) < 0)
                return cli_usage_error("export", "--format is stix, zeek-intel, "
                                                 "suricata-dataset, suricata-rules, csv or txt");
            break;
        case 't':
            if (export_type_parse(optarg, &sa.type) < 0 || sa.type == EXPORT_T_ALL)
                return cli_usage_error("export", "--type is ip, domain, url, email, hash, md5, "
                                                 "sha1, sha256 or sha512");
            typed = 1;
            break;
        case 's':
            if (cli_parse_long(optarg, 1, (long)EXPORT_SID_BASE_MAX, &v) < 0)
                return cli_usage_error("export", "--sid-base must be 1 to %lu",
                                       (unsigned long)EXPORT_SID_BASE_MAX);
            sa.sid_base = (uint32_t)v;
            typed = 1;
            break;
        case 'p':
            sa.psl = optarg;
            typed = 1;
            break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("export", argv);
        }
    }
    if (!nnames)
        return cli_usage_error("export", "--collection is required");
    if (optind != argc)
        return cli_usage_error("export", "unexpected argument \"%s\"", argv[optind]);
    if (!sensor && typed)
        return cli_usage_error("export", "--type, --sid-base and --psl go with --format "
                                         "zeek-intel, suricata-*, csv or txt");
    if (sensor && (all || tombstones))
        return cli_usage_error("export", "--all-versions and --tombstones go with --format stix "
                                         "only");
    if (!sensor && nnames > 1)
        return cli_usage_error("export", "a STIX bundle holds one collection; more than one "
                                         "--collection goes with the other formats");
    kz_error_clear(&err);
    if (sensor && export_check(sa.format, sa.type, &err) < 0)
        return cli_usage_error("export", "%s", err.text);
    n = cli_node(cli);
    if (!n)
        return 2;
    sa.progress = show;
    if (sensor)
        return export_sensor(n, names, nnames, as, outpath, &sa);
    kz_error_clear(&err);
    if (store_collection_find(node_store(n), NULL, names[0], &col, &err) < 0)
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
    if (!tombstones) /* kizuna's own type: strict STIX tools refuse the bundle */
        f.exclude_type = TOMBSTONE_TYPE;
    /* not over a bundle being written to the same terminal */
    kz_progress_start(&x.progress, "export", "objects",
                      show && !(strcmp(outpath, "-") == 0 && isatty(STDOUT_FILENO)));
    if (store_list(node_store(n), &f, 1, on_row, &x, &page, &err) < 0)
        goto fail;
    kz_progress_done(&x.progress);
    kz_buf_addstr(&x.buf, x.n ? "\n]}\n" : "]}\n");
    if (flush(&x, &err) < 0)
        goto fail;
    if (kz_out_commit(x.out, &err) < 0) {
        x.out = NULL; /* commit freed it */
        goto fail;
    }
    {
        struct audit_event e = {.user = as,
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
    kz_progress_clear(&x.progress);
    kz_out_abort(x.out);
    kz_buf_free(&x.buf);
    return cli_fail(&err);
}
