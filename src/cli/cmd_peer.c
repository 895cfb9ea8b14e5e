/*
 * Federation commands (docs/FEDERATION.md): `kizuna peer add|list|remove`,
 * `kizuna sync [PEER]` and `kizuna node key`.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "node/node.h"
#include "sign/sign.h"
#include "store/store.h"
#include "sync/sync.h"
#include "util/buf.h"
#include "util/kztime.h"
#include "util/limits.h"
#include "util/progress.h"

static const char peer_help[] =
        "usage: kizuna [--home DIR] peer add NAME --url URL --token TOKEN [--pull "
        "LOCAL=REMOTE]...\n"
        "                 [--push LOCAL=REMOTE]... [--community C]... [--org ORG]\n"
        "                 [--key PUBLIC-KEY] [--ca FILE]\n"
        "       kizuna [--home DIR] peer list [--json]\n"
        "       kizuna [--home DIR] peer remove NAME\n\n"
        "A peer is another node (or any TAXII 2.1 server). NAME is its node name; URL its\n"
        "API root (https, or http on loopback); TOKEN the token of the account it gave\n"
        "this node (stored encrypted). --pull and --push link a local collection to one\n"
        "of the peer's (alias or id). --org is the local organisation standing for the\n"
        "peer, --community the communities it belongs to: pushes follow TLP with the\n"
        "peer as the reader (docs/FEDERATION.md). --key ed25519:... (from `kizuna node\n"
        "key` on the peer) makes pulls refuse pages not signed by it; --ca a CA file for\n"
        "its TLS certificate.\n";

static int add_link(struct node *n, const char *spec, int dir, struct store_peer_link *links,
                    size_t *nl, struct kz_error *err)
{
    const char *eq = strchr(spec, '=');
    char local[KZ_MAX_NAME + 64];
    struct store_collection c;

    if (!eq || eq == spec || !eq[1] || strlen(eq + 1) >= sizeof(links[0].remote) ||
        (size_t)(eq - spec) >= sizeof(local))
        return kz_error_set(err, KZ_EUSAGE, "a link is LOCAL=REMOTE, got \"%s\"", spec);
    if (*nl >= CLI_MAX_PEER_LINKS)
        return kz_error_set(err, KZ_EUSAGE, "at most %d links", CLI_MAX_PEER_LINKS);
    snprintf(local, sizeof(local), "%.*s", (int)(eq - spec), spec);
    if (store_collection_find(node_store(n), NULL, local, &c, err) < 0)
        return -1;
    memset(&links[*nl], 0, sizeof(links[0]));
    links[*nl].direction = dir;
    links[*nl].local = c.key;
    snprintf(links[*nl].remote, sizeof(links[0].remote), "%s", eq + 1);
    (*nl)++;
    return 0;
}

static int peer_add(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"url", required_argument, NULL, 'u'},
            {"token", required_argument, NULL, 't'},
            {"pull", required_argument, NULL, 'p'},
            {"push", required_argument, NULL, 'P'},
            {"community", required_argument, NULL, 'c'},
            {"org", required_argument, NULL, 'o'},
            {"key", required_argument, NULL, 'k'},
            {"ca", required_argument, NULL, 'a'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *pulls[CLI_MAX_PEER_LINKS], *pushes[CLI_MAX_PEER_LINKS],
            *comms[CLI_MAX_PEER_COMMUNITIES];
    size_t npull = 0, npush = 0, ncomm = 0, nl = 0, nc = 0;
    const char *url = NULL, *token = NULL, *org = NULL, *key = NULL, *ca = "";
    struct store_peer_link links[CLI_MAX_PEER_LINKS];
    int64_t communities[CLI_MAX_PEER_COMMUNITIES];
    unsigned char pk[SIGN_PUBLIC_BYTES];
    struct store_peer p;
    struct kz_error err;
    struct node *n;
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hu:t:p:P:c:o:k:a:", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 't': token = optarg; break;
        case 'p':
            if (npull < CLI_MAX_PEER_LINKS)
                pulls[npull++] = optarg;
            break;
        case 'P':
            if (npush < CLI_MAX_PEER_LINKS)
                pushes[npush++] = optarg;
            break;
        case 'c':
            if (ncomm < CLI_MAX_PEER_COMMUNITIES)
                comms[ncomm++] = optarg;
            break;
        case 'o': org = optarg; break;
        case 'k': key = optarg; break;
        case 'a': ca = optarg; break;
        case 'h': fputs(peer_help, stdout); return 0;
        default: return cli_option_error("peer add", argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("peer add", "give one NAME (the peer's node name)");
    if (!url || !token)
        return cli_usage_error("peer add", "--url and --token are required");
    if (strlen(argv[optind]) > KZ_MAX_NAME || strlen(url) >= sizeof(p.url) ||
        strlen(ca) >= sizeof(p.ca))
        return cli_usage_error("peer add", "NAME, --url or --ca is too long");
    if (key && sign_public_parse(key, pk) < 0)
        return cli_usage_error("peer add", "--key must be ed25519:BASE64 (kizuna node key)");
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", argv[optind]);
    snprintf(p.url, sizeof(p.url), "%s", url);
    snprintf(p.ca, sizeof(p.ca), "%s", ca);
    if (key)
        snprintf(p.public_key, sizeof(p.public_key), "%s", key);
    if (sync_url_ok(url, &err) < 0)
        return cli_fail(&err);
    if (org) {
        struct store_org o;
        if (store_org_find(node_store(n), org, &o, &err) < 0)
            return cli_fail(&err);
        p.org = o.key;
    }
    for (size_t i = 0; i < ncomm; i++) {
        struct store_community cm;
        if (store_community_find(node_store(n), comms[i], &cm, &err) < 0)
            return cli_fail(&err);
        communities[nc++] = cm.key;
    }
    for (size_t i = 0; i < npull; i++)
        if (add_link(n, pulls[i], STORE_LINK_PULL, links, &nl, &err) < 0)
            return cli_fail(&err);
    for (size_t i = 0; i < npush; i++)
        if (add_link(n, pushes[i], STORE_LINK_PUSH, links, &nl, &err) < 0)
            return cli_fail(&err);
    if (sync_token_seal(node_config(n)->signing_key, token, p.token, sizeof(p.token), &p.token_len,
                        &err) < 0 ||
        store_peer_add(node_store(n), &p, communities, nc, links, nl, &err) < 0)
        return cli_fail(&err);
    return cli_audit_change(n, "peer-add", NULL, "peer=%s url=%s key=%s", p.name, p.url,
                            p.public_key[0] ? p.public_key : "none");
}

struct list_ctx {
    struct store *s;
    int json;
};

struct link_print {
    struct store *s;
    struct kz_buf *b;
    int json;
    int n;
};

struct alias_find {
    int64_t key;
    char *out;
    size_t cap;
};

static int match_alias(void *ctx, const struct store_collection *c)
{
    struct alias_find *a = ctx;

    if (c->key != a->key)
        return 0;
    snprintf(a->out, a->cap, "%s", c->alias);
    return STORE_STOP;
}

static void alias_of(struct store *s, int64_t key, char *out, size_t cap)
{
    struct alias_find a = {.key = key, .out = out, .cap = cap};
    struct kz_error err;

    snprintf(out, cap, "?");
    store_collection_each(s, NULL, match_alias, &a, &err);
}

static int print_link(void *ctx, const struct store_peer_link *l)
{
    struct link_print *lp = ctx;
    char cp[KZ_TS_MICROS_LEN], alias[KZ_MAX_NAME + 1];
    const char *dir = l->direction == STORE_LINK_PULL ? "pull" : "push";

    alias_of(lp->s, l->local, alias, sizeof(alias));
    if (l->checkpoint)
        kz_ts_format_micros(l->checkpoint, cp);
    else
        snprintf(cp, sizeof(cp), "-");
    if (!lp->json) {
        printf("    %s %s=%s  checkpoint %s\n", dir, alias, l->remote,
               l->direction == STORE_LINK_PULL && l->checkpoint_text[0] ? l->checkpoint_text : cp);
        return 0;
    }
    kz_buf_printf(lp->b, "%s{\"direction\":\"%s\",\"local\":\"", lp->n++ ? "," : "", dir);
    kz_buf_add_json_escaped(lp->b, alias, strlen(alias));
    kz_buf_addstr(lp->b, "\",\"remote\":\"");
    kz_buf_add_json_escaped(lp->b, l->remote, strlen(l->remote));
    kz_buf_printf(lp->b, "\",\"checkpoint\":\"%s\"}",
                  l->direction == STORE_LINK_PULL && l->checkpoint_text[0]
                          ? l->checkpoint_text
                          : (l->checkpoint ? cp : ""));
    return 0;
}

/* What this node last saw of the peer's audit log; 0 when nothing. */
static int peer_head(struct store *s, const struct store_peer *p, struct store_peer_head *h,
                     char seen[KZ_TS_MICROS_LEN], char bad[KZ_TS_MICROS_LEN])
{
    struct kz_error err;

    if (store_peer_head_get(s, p->key, h, &err) < 0)
        return 0;
    kz_ts_format_micros(h->seen_us, seen);
    bad[0] = '\0';
    if (h->problem_us)
        kz_ts_format_micros(h->problem_us, bad);
    return 1;
}

static int print_peer(void *ctx, const struct store_peer *p)
{
    struct list_ctx *lc = ctx;
    struct kz_buf b;
    struct link_print lp = {.s = lc->s, .b = &b, .json = lc->json};
    struct kz_error err;
    char ok[KZ_TS_MICROS_LEN] = "never", bad[KZ_TS_MICROS_LEN] = "";
    struct store_peer_head head;
    char seen[KZ_TS_MICROS_LEN], head_bad[KZ_TS_MICROS_LEN], hex[2 * STORE_AUDIT_HASH_LEN + 1];
    int has_head = peer_head(lc->s, p, &head, seen, head_bad);
    int64_t now = kz_now_micros();
    double lag = p->last_success_us ? (double)(now - p->last_success_us) / 1e6 : -1;

    if (p->last_success_us)
        kz_ts_format_micros(p->last_success_us, ok);
    if (p->last_error_us)
        kz_ts_format_micros(p->last_error_us, bad);
    kz_buf_init(&b, 1 << 20);
    kz_error_clear(&err);
    if (!lc->json) {
        printf("%s  %s\n  last success %s%s", p->name, p->url, ok, lag >= 0 ? "" : "\n");
        if (lag >= 0)
            printf(" (lag %.0f s)\n", lag);
        if (p->last_error[0])
            printf("  last error %s: %s\n", bad, p->last_error);
        printf("  signatures %s\n", p->public_key[0] ? "checked" : "not checked");
        if (has_head && head.problem[0])
            printf("  AUDIT LOG PROBLEM %s: %s\n", head_bad, head.problem);
        else if (has_head)
            printf("  audit head row %lld, seen %s\n", (long long)head.seq, seen);
        store_peer_links(lc->s, p->key, print_link, &lp, &err);
        kz_buf_free(&b);
        return 0;
    }
    kz_buf_addstr(&b, "{\"name\":\"");
    kz_buf_add_json_escaped(&b, p->name, strlen(p->name));
    kz_buf_addstr(&b, "\",\"url\":\"");
    kz_buf_add_json_escaped(&b, p->url, strlen(p->url));
    kz_buf_printf(&b, "\",\"key\":\"%s\",\"last_success\":\"%s\",\"lag_seconds\":", p->public_key,
                  p->last_success_us ? ok : "");
    if (lag >= 0)
        kz_buf_printf(&b, "%.3f", lag);
    else
        kz_buf_addstr(&b, "null");
    kz_buf_addstr(&b, ",\"last_error\":\"");
    kz_buf_add_json_escaped(&b, p->last_error, strlen(p->last_error));
    kz_buf_printf(&b, "\",\"last_error_at\":\"%s\",\"audit_head\":", bad);
    if (has_head) {
        sodium_bin2hex(hex, sizeof(hex), head.hash, sizeof(head.hash));
        kz_buf_printf(&b, "{\"seq\":%lld,\"hash\":\"%s\",\"seen\":\"%s\",\"problem\":\"",
                      (long long)head.seq, hex, seen);
        kz_buf_add_json_escaped(&b, head.problem, strlen(head.problem));
        kz_buf_printf(&b, "\",\"problem_at\":\"%s\"}", head_bad);
    } else {
        kz_buf_addstr(&b, "null");
    }
    kz_buf_addstr(&b, ",\"links\":[");
    store_peer_links(lc->s, p->key, print_link, &lp, &err);
    kz_buf_addstr(&b, "]}\n");
    if (!b.failed)
        fputs(b.data, stdout);
    kz_buf_free(&b);
    return 0;
}

int cmd_peer(struct cli *cli, int argc, char **argv)
{
    struct list_ctx lc = {0};
    struct kz_error err;
    struct node *n;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(peer_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "add") == 0)
        return peer_add(cli, argc - 1, argv + 1);
    if (cli_wants_help(argc - 1, argv + 1)) {
        fputs(peer_help, stdout);
        return 0;
    }
    kz_error_clear(&err);
    if (strcmp(argv[1], "remove") == 0) {
        if (argc != 3)
            return cli_usage_error("peer remove", "give the peer's NAME");
        if (!(n = cli_node(cli)))
            return 2;
        if (store_peer_remove(node_store(n), argv[2], &err) < 0)
            return cli_fail(&err);
        return cli_audit_change(n, "peer-remove", NULL, "peer=%s", argv[2]);
    }
    if (strcmp(argv[1], "list") != 0)
        return cli_usage_error("peer", "unknown subcommand \"%s\"", argv[1]);
    lc.json = argc > 2 && strcmp(argv[2], "--json") == 0;
    if (!(n = cli_node(cli)))
        return 2;
    lc.s = node_store(n);
    return store_peer_each(lc.s, print_peer, &lc, &err) < 0 ? cli_fail(&err) : 0;
}

static const char sync_help[] =
        "usage: kizuna [--home DIR] sync [PEER] [--json] [--no-progress]\n\n"
        "Runs one sync round with every peer (or the one named): pulls, then pushes\n"
        "(docs/FEDERATION.md). Exit status 0 when every link completed, 1 when a peer\n"
        "failed (the reason is printed and kept for `kizuna peer list`). --json prints\n"
        "one object per peer: {\"peer\", \"pulled\", \"pushed\", \"rejected\", \"error\"}\n"
        "(error null when the round completed). On a terminal, standard error shows\n"
        "the progress unless --no-progress.\n";

struct sync_all {
    const struct node_config *cfg;
    int failures;
    int json;
    int progress; /* 0: --no-progress */
};

static void sync_progress(void *ctx, const struct sync_report *rep)
{
    kz_progress_set(ctx, rep->pulled + rep->pushed, 0, 0);
}

static void print_sync_json(const struct store_peer *p, const struct sync_report *rep)
{
    struct kz_buf b;

    kz_buf_init(&b, 4096);
    kz_buf_addstr(&b, "{\"peer\":\"");
    kz_buf_add_json_escaped(&b, p->name, strlen(p->name));
    kz_buf_printf(&b, "\",\"pulled\":%llu,\"pushed\":%llu,\"rejected\":%llu,\"error\":",
                  (unsigned long long)rep->pulled, (unsigned long long)rep->pushed,
                  (unsigned long long)rep->rejected);
    if (rep->error[0]) {
        kz_buf_addc(&b, '"');
        kz_buf_add_json_escaped(&b, rep->error, strlen(rep->error));
        kz_buf_addstr(&b, "\"}\n");
    } else {
        kz_buf_addstr(&b, "null}\n");
    }
    if (!b.failed)
        fputs(b.data, stdout);
    kz_buf_free(&b);
}

static int sync_one(void *ctx, const struct store_peer *p)
{
    struct sync_all *sa = ctx;
    struct sync_report rep;
    struct kz_error err;
    struct kz_progress pr;
    int rc;

    kz_error_clear(&err);
    kz_progress_start(&pr, p->name, "objects pulled and pushed", sa->progress);
    rc = sync_peer_progress(sa->cfg, p->name, &rep, sync_progress, &pr, &err);
    kz_progress_done(&pr);
    if (rc < 0) {
        fprintf(stderr, "kizuna: sync %s: %s\n", p->name, rep.error[0] ? rep.error : err.text);
        sa->failures++;
    }
    if (sa->json) {
        print_sync_json(p, &rep);
        return 0;
    }
    printf("%s: %llu pulled, %llu pushed, %llu rejected%s\n", p->name,
           (unsigned long long)rep.pulled, (unsigned long long)rep.pushed,
           (unsigned long long)rep.rejected, rep.error[0] ? " (failed)" : "");
    return 0;
}

int cmd_sync(struct cli *cli, int argc, char **argv)
{
    struct sync_all sa = {.progress = 1};
    struct store_peer p;
    struct kz_error err;
    struct node *n;
    const char *name = NULL;

    if (cli_wants_help(argc, argv)) {
        fputs(sync_help, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            sa.json = 1;
        else if (strcmp(argv[i], "--no-progress") == 0)
            sa.progress = 0;
        else if (!name && argv[i][0] != '-')
            name = argv[i];
        else
            return cli_usage_error("sync", "give at most one PEER, and --json");
    }
    if (!(n = cli_node(cli)))
        return 2;
    sa.cfg = node_config(n);
    kz_error_clear(&err);
    if (name) {
        if (store_peer_find(node_store(n), name, &p, &err) < 0)
            return cli_fail(&err);
        sync_one(&sa, &p);
    } else if (store_peer_each(node_store(n), sync_one, &sa, &err) < 0) {
        return cli_fail(&err);
    }
    return sa.failures ? 1 : 0;
}

static const char node_help[] = "usage: kizuna [--home DIR] node key\n\n"
                                "Prints this node's Ed25519 public key (ed25519:BASE64), to give\n"
                                "to partners for `kizuna peer add --key`.\n";

int cmd_node(struct cli *cli, int argc, char **argv)
{
    struct sign_key *k;
    char text[SIGN_PUBLIC_TEXT_MAX];
    struct kz_error err;
    struct node *n;

    if (cli_wants_help(argc, argv)) {
        fputs(node_help, stdout);
        return 0;
    }
    if (argc != 2 || strcmp(argv[1], "key") != 0)
        return cli_usage_error("node", "the subcommand is: key");
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    k = sign_key_open(node_config(n)->signing_key, &err);
    if (!k)
        return cli_fail(&err);
    sign_key_public_text(k, text);
    sign_key_close(k);
    printf("%s\n", text);
    return 0;
}
