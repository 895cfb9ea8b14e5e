/*
 * `kizuna export`: a collection as a STIX 2.1 bundle, each object's stored
 * text written as it was received, so what was imported comes back out;
 * or, with --format, its active indicators as files for sensors and
 * scripts (export/: Zeek intel, Suricata datasets and rules, CSV, lists).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "export/export.h"
#include "match/match.h"
#include "node/node.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/kztime.h"
#include "util/uuid.h"

static const char help[] =
        "usage: kizuna [--home DIR] export --collection NAME|ID [--out FILE] [--all-versions]\n"
        "                                  [--as USER]\n"
        "       kizuna [--home DIR] export --collection NAME|ID --format F [--type T]\n"
        "                                  [--out FILE] [--as USER] [--sid-base N]\n"
        "                                  [--psl FILE]\n\n"
        "Writes the collection's objects as a STIX 2.1 bundle, in the order they were\n"
        "added, to FILE (atomically) or standard output. Only the latest version of\n"
        "each object unless --all-versions. An export is a bulk path: objects marked\n"
        "TLP:RED never leave in one (docs/SHARING.md). --as USER exports what USER\n"
        "may see; without it, the node operator's view (everything else).\n\n"
        "--format writes the collection's active indicators (not revoked, inside\n"
        "valid_from/valid_until, pattern_type stix) for sensors instead: their values,\n"
        "normalised and checked, each once; a value that proves its pattern only\n"
        "together with others (one side of an AND) is left out. F is one of:\n"
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
        "(default /usr/share/publicsuffix/public_suffix_list.dat): a domain that is\n"
        "a public suffix never matches its subdomains. A summary goes to stderr.\n"
        "Setting up Zeek and Suricata: docs/EXPORTS.md.\n";

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

struct sensor_args {
    enum export_format format;
    enum export_type type;
    uint32_t sid_base;
    const char *psl;
};

/* The summary line (always) and what the operator must do next. */
static void summary(const struct sensor_args *a, const struct export_stats *st)
{
    fprintf(stderr,
            "kizuna export: %s: %llu %s from %llu of %llu active indicators; left out: %llu "
            "non-exact, %llu invalid, %llu unsupported, %llu of other types; %llu inactive, "
            "%llu not stix patterns\n",
            export_format_name(a->format), (unsigned long long)st->lines,
            a->format == EXPORT_SURICATA_RULES ? "rules" : "lines", (unsigned long long)st->used,
            (unsigned long long)st->indicators, (unsigned long long)st->non_exact,
            (unsigned long long)st->invalid, (unsigned long long)st->unsupported,
            (unsigned long long)st->filtered, (unsigned long long)st->inactive,
            (unsigned long long)st->other);
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

/* --format other than stix: the active indicators, through export/. */
static int export_sensor(struct node *n, const struct store_collection *col, const char *as,
                         const char *outpath, const struct sensor_args *a)
{
    const char *colls[1] = {col->id};
    struct export_opts o = {.format = a->format,
                            .type = a->type,
                            .collections = colls,
                            .ncollections = 1,
                            .node_name = node_config(n)->name,
                            .default_tlp = node_config(n)->default_tlp,
                            .now_us = kz_now_micros(),
                            .sid_base = a->sid_base};
    struct export_stats st;
    struct match_psl *psl = NULL;
    struct policy_view view;
    struct auth_user u;
    struct kz_out *out = NULL;
    struct kz_error err;
    char detail[1100];
    int rc = 2;

    kz_error_clear(&err);
    if (export_view(n, col, as, &view, &err) < 0)
        goto out;
    if (as && auth_user_load(node_store(n), as, &u, &err) < 0)
        goto out;
    o.as = as ? &u : NULL;
    psl = match_psl_load(a->psl ? a->psl : MATCH_PSL_DEFAULT_PATH, &err);
    if (!psl && a->psl)
        goto out;
    if (!psl) {
        fprintf(stderr,
                "kizuna: warning: no public suffix list (%s): only single labels are "
                "treated as public suffixes\n",
                MATCH_PSL_DEFAULT_PATH);
        kz_error_clear(&err);
    }
    o.psl = psl;
    out = kz_out_open(outpath, &err);
    if (!out)
        goto out;
    if (export_write(node_store(n), &o, out, &st, &err) < 0)
        goto out;
    if (kz_out_commit(out, &err) < 0) {
        out = NULL; /* commit freed it */
        goto out;
    }
    out = NULL;
    summary(a, &st);
    snprintf(detail, sizeof(detail), "%s:%s", export_format_name(a->format), outpath);
    {
        struct audit_event e = {.user = as ? as : "operator",
                                .action = "export",
                                .collection = col->id,
                                .count = st.used,
                                .detail = detail};
        memcpy(e.markings, st.markings, sizeof(e.markings));
        cli_audit(n, &e);
    }
    rc = 0;
out:
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
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *collection = NULL, *outpath = "-", *as = NULL;
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
    int c, all = 0;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hc:o:au:f:t:s:p:", opts, NULL)) != -1) {
        switch (c) {
        case 'u': as = optarg; break;
        case 'c': collection = optarg; break;
        case 'o': outpath = optarg; break;
        case 'a': all = 1; break;
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
        default: return cli_usage_error("export", "unknown option");
        }
    }
    if (!collection)
        return cli_usage_error("export", "--collection is required");
    if (optind != argc)
        return cli_usage_error("export", "unexpected argument \"%s\"", argv[optind]);
    if (!sensor && typed)
        return cli_usage_error("export", "--type, --sid-base and --psl go with --format "
                                         "zeek-intel, suricata-*, csv or txt");
    if (sensor && all)
        return cli_usage_error("export", "--all-versions goes with --format stix only");
    kz_error_clear(&err);
    if (sensor && export_check(sa.format, sa.type, &err) < 0)
        return cli_usage_error("export", "%s", err.text);
    n = cli_node(cli);
    if (!n)
        return 2;
    kz_error_clear(&err);
    if (store_collection_find(node_store(n), NULL, collection, &col, &err) < 0)
        return cli_fail(&err);
    if (sensor)
        return export_sensor(n, &col, as, outpath, &sa);
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
