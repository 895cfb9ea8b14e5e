/*
 * `kizuna audit`: read and verify the audit log.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "node/node.h"
#include "sign/sign.h"
#include "store/store_audit.h"
#include "store/store_peers.h"
#include "util/buf.h"
#include "util/kztime.h"

static const char help[] =
        "usage: kizuna [--home DIR] audit [--since TIMESTAMP] [--user USER] [--json]\n"
        "       kizuna [--home DIR] audit --verify\n\n"
        "Prints the audit log: who read or wrote objects or changed accounts and access,\n"
        "when, from where, in which collection, how many and under which TLP markings.\n"
        "--verify checks the hash chain end to end and that audit.db still holds the\n"
        "head the main store recorded, and exits 1 if a row was removed, altered or\n"
        "inserted, if audit.db was removed, emptied or rolled back, or if a partner's\n"
        "audit log went backwards (docs/FEDERATION.md, \"Audit heads\").\n";

struct print_ctx {
    int json;
};

static int print_row(void *ctx, const struct store_audit *a)
{
    struct print_ctx *p = ctx;
    char ts[KZ_TS_MICROS_LEN];
    struct kz_buf b;

    kz_ts_format_micros(a->ts_us, ts);
    if (!p->json) {
        printf("%6lld %s %-12s %-15s %-7s %-36s %6llu %s  %s\n", (long long)a->seq, ts, a->user,
               a->remote[0] ? a->remote : "-", a->action, a->collection[0] ? a->collection : "-",
               (unsigned long long)a->count, a->markings[0] ? a->markings : "-", a->detail);
        return 0;
    }
    kz_buf_init(&b, 8192);
    kz_buf_printf(&b, "{\"seq\":%lld,\"ts\":\"%s\",\"user\":\"", (long long)a->seq, ts);
    kz_buf_add_json_escaped(&b, a->user, strlen(a->user));
    kz_buf_addstr(&b, "\",\"remote\":\"");
    kz_buf_add_json_escaped(&b, a->remote, strlen(a->remote));
    kz_buf_printf(&b, "\",\"action\":\"%s\",\"collection\":\"%s\",\"count\":%llu,\"markings\":\"",
                  a->action, a->collection, (unsigned long long)a->count);
    kz_buf_add_json_escaped(&b, a->markings, strlen(a->markings));
    kz_buf_addstr(&b, "\",\"detail\":\"");
    kz_buf_add_json_escaped(&b, a->detail, strlen(a->detail));
    kz_buf_addstr(&b, "\"}\n");
    if (!b.failed)
        fputs(b.data, stdout);
    kz_buf_free(&b);
    return 0;
}

struct partners_ctx {
    struct store *s;
    int bad;
};

/* Prints each partner whose audit log stopped extending what this node saw
 * of it (sync records it; docs/FEDERATION.md). */
static int check_partner(void *ctx, const struct store_peer *p)
{
    struct partners_ctx *c = ctx;
    struct store_peer_head h;
    struct kz_error err;

    if (store_peer_head_get(c->s, p->key, &h, &err) == 0 && h.problem[0]) {
        fprintf(stderr, "kizuna: partner %s: %s\n", p->name, h.problem);
        c->bad++;
    }
    return 0;
}

static int verify_all(struct node *n, struct store *as)
{
    struct partners_ctx pc = {.s = node_store(n)};
    unsigned char key[AUDIT_KEY_BYTES];
    struct kz_error err;
    int64_t rows;
    int rc = 0;

    kz_error_clear(&err);
    if (sign_derive_key(node_config(n)->signing_key, SIGN_PURPOSE_AUDIT, key, sizeof(key), &err) <
                0 ||
        audit_verify(as, node_store(n), key, &rows, &err) < 0)
        rc = cli_fail(&err);
    else
        printf("audit log intact: %lld rows\n", (long long)rows);
    sodium_memzero(key, sizeof(key));
    kz_error_clear(&err);
    if (store_peer_each(pc.s, check_partner, &pc, &err) < 0)
        return cli_fail(&err);
    return rc ? rc : pc.bad ? 1 : 0;
}

int cmd_audit(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"since", required_argument, NULL, 's'}, {"user", required_argument, NULL, 'u'},
            {"verify", no_argument, NULL, 'v'},      {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    struct print_ctx p = {0};
    const char *user = NULL;
    int64_t since = INT64_MIN;
    int c, verify = 0, rc;
    struct store *as;
    struct kz_error err;
    struct node *n;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hs:u:vj", opts, NULL)) != -1) {
        switch (c) {
        case 's': {
            struct kz_ts t;
            const char *why;
            if (kz_ts_parse(optarg, strlen(optarg), &t, &why) < 0)
                return cli_usage_error("audit", "--since %s", why);
            since = kz_ts_micros(&t);
            break;
        }
        case 'u': user = optarg; break;
        case 'v': verify = 1; break;
        case 'j': p.json = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("audit", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("audit", "unexpected argument \"%s\"", argv[optind]);
    if (!(n = cli_node(cli)))
        return 2;
    /* rows a crashed server answered but had not committed come in first */
    if (cli_audit(n, NULL) < 0)
        return 2;
    kz_error_clear(&err);
    as = store_open_audit(node_config(n)->store_backend, node_config(n)->audit_path, 1, &err);
    if (!as)
        return cli_fail(&err);
    if (verify) {
        rc = verify_all(n, as);
        store_close(as);
        return rc;
    }
    rc = store_audit_each(as, since, user, print_row, &p, &err);
    store_close(as);
    return rc < 0 ? cli_fail(&err) : 0;
}
