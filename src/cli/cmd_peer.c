/*
 * Federation commands (docs/FEDERATION.md): `kizuna peer add|credentials|
 * check|list|remove`, `kizuna sync [PEER]` and `kizuna node key`. What a
 * peer is and how it is registered and checked is sync/'s (peer_admin.c):
 * these handlers parse flags and print.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "node/node.h"
#include "sign/sign.h"
#include "store/store_objects.h"
#include "store/store_peers.h"
#include "sync/sync.h"
#include "util/buf.h"
#include "util/kztime.h"
#include "util/limits.h"
#include "util/progress.h"

static const char peer_help[] =
        "usage: kizuna [--home DIR] peer add NAME --url URL --token-file FILE|- [--user USER]\n"
        "                 [--pull LOCAL=REMOTE]... [--push LOCAL=REMOTE]... [--community C]...\n"
        "                 [--org ORG] [--key PUBLIC-KEY] [--ca FILE] [--check]\n"
        "       kizuna [--home DIR] peer credentials NAME --token-file FILE|- [--user USER | "
        "--bearer]\n"
        "       kizuna [--home DIR] peer check NAME\n"
        "       kizuna [--home DIR] peer list [--json]\n"
        "       kizuna [--home DIR] peer remove NAME\n\n"
        "A peer is another node (or any TAXII 2.1 server). NAME is its node name; URL its\n"
        "API root (https, or http on loopback), without credentials in it. The token of the\n"
        "account the peer gave this node is read from the first line of FILE, or of\n"
        "standard input for \"-\", and stored encrypted. --token TOKEN still works, but a\n"
        "token on the command line shows in ps and in the shell's history.\n"
        "The token is sent as a Bearer token (kizuna, OpenTAXII); with --user USER it is the\n"
        "password of HTTP Basic as USER instead (medallion). --pull and --push link a local\n"
        "collection to one of the peer's (alias or id). --org is the local organisation\n"
        "standing for the peer, --community the communities it belongs to: pushes follow\n"
        "TLP with the peer as the reader (docs/FEDERATION.md). --key ed25519:... (from\n"
        "`kizuna node key` on the peer) makes pulls refuse pages not signed by it; --ca a\n"
        "CA file for its TLS certificate. --check connects once first and reports the TLS\n"
        "connection, the API root, the credentials and each linked collection; when a\n"
        "check fails the peer is not added (exit 1). `peer check` does the same for a peer\n"
        "already added. `peer credentials` replaces a peer's token (a rotated token, an\n"
        "expired JWT) and, with --user or --bearer, how it is sent.\n";

/* Prints one check of sync_peer_check. */
static void print_check(void *ctx, const char *what, int ok, const char *detail)
{
    (void)ctx;
    printf("%-4s  %s: %s\n", ok ? "ok" : "FAIL", what, detail);
    fflush(stdout);
}

/* The token of --token-file FILE|- or --token TOKEN, into buf. */
static int read_token(const char *cmd, const char *file, const char *given, char *buf, size_t cap)
{
    struct kz_error err;

    if (file && given)
        return cli_usage_error(cmd, "give --token-file or --token, not both");
    if (!file && !given)
        return cli_usage_error(cmd, "--token-file FILE (or - for standard input) is required");
    kz_error_clear(&err);
    if (given) {
        if (strlen(given) >= cap)
            return cli_usage_error(cmd, "the token is too long");
        snprintf(buf, cap, "%s", given);
        return 0;
    }
    return sync_token_read(file, buf, cap, &err) < 0 ? cli_fail(&err) : 0;
}

/* "LOCAL=REMOTE" into a link whose strings point into buf. */
static int parse_link(const char *arg, int dir, struct sync_link_spec *l, char *buf, size_t cap)
{
    const char *eq = strchr(arg, '=');

    if (!eq || eq == arg || !eq[1] || strlen(arg) >= cap)
        return cli_usage_error("peer add", "a link is LOCAL=REMOTE, got \"%s\"", arg);
    snprintf(buf, cap, "%s", arg);
    buf[eq - arg] = '\0';
    l->direction = dir;
    l->local = buf;
    l->remote = buf + (eq - arg) + 1;
    return 0;
}

static int peer_add(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"url", required_argument, NULL, 'u'},
            {"token", required_argument, NULL, 't'},
            {"token-file", required_argument, NULL, 'T'},
            {"user", required_argument, NULL, 'U'},
            {"bearer", no_argument, NULL, 'B'},
            {"check", no_argument, NULL, 'C'},
            {"pull", required_argument, NULL, 'p'},
            {"push", required_argument, NULL, 'P'},
            {"community", required_argument, NULL, 'c'},
            {"org", required_argument, NULL, 'o'},
            {"key", required_argument, NULL, 'k'},
            {"ca", required_argument, NULL, 'a'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    static char link_text[CLI_MAX_PEER_LINKS][KZ_MAX_NAME * 2 + 128];
    struct sync_link_spec links[CLI_MAX_PEER_LINKS];
    const char *comms[CLI_MAX_PEER_COMMUNITIES];
    struct sync_peer_spec sp = {.links = links, .communities = comms};
    const char *token_file = NULL, *token_arg = NULL;
    char token[STORE_PEER_TOKEN_MAX];
    struct kz_error err;
    struct node *n;
    int c, rc, bearer = 0;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hu:t:T:U:BCp:P:c:o:k:a:", opts, NULL)) != -1) {
        switch (c) {
        case 'u': sp.url = optarg; break;
        case 't': token_arg = optarg; break;
        case 'T': token_file = optarg; break;
        case 'U': sp.user = optarg; break;
        case 'B': bearer = 1; break;
        case 'C': sp.check = print_check; break;
        case 'p':
        case 'P':
            if (sp.nlinks >= CLI_MAX_PEER_LINKS)
                return cli_usage_error("peer add", "at most %d links", CLI_MAX_PEER_LINKS);
            if (parse_link(optarg, c == 'p' ? STORE_LINK_PULL : STORE_LINK_PUSH, &links[sp.nlinks],
                           link_text[sp.nlinks], sizeof(link_text[0])) != 0)
                return 2;
            sp.nlinks++;
            break;
        case 'c':
            if (sp.ncommunities >= CLI_MAX_PEER_COMMUNITIES)
                return cli_usage_error("peer add", "at most %d communities",
                                       CLI_MAX_PEER_COMMUNITIES);
            comms[sp.ncommunities++] = optarg;
            break;
        case 'o': sp.org = optarg; break;
        case 'k': sp.key = optarg; break;
        case 'a': sp.ca = optarg; break;
        case 'h': fputs(peer_help, stdout); return 0;
        default: return cli_option_error("peer add", argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("peer add", "give one NAME (the peer's node name)");
    if (!sp.url)
        return cli_usage_error("peer add", "--url is required");
    if (bearer && sp.user)
        return cli_usage_error("peer add", "give --user (HTTP Basic) or --bearer, not both");
    sp.name = argv[optind];
    if ((rc = read_token("peer add", token_file, token_arg, token, sizeof(token))) != 0)
        return rc;
    sp.token = token;
    kz_error_clear(&err);
    if (!(n = cli_node(cli))) {
        sodium_memzero(token, sizeof(token));
        return 2;
    }
    rc = sync_peer_add(n, &sp, &err);
    sodium_memzero(token, sizeof(token));
    if (rc < 0)
        return cli_fail(&err);
    return cli_audit_change(n, "peer-add", NULL, "peer=%s url=%s key=%s auth=%s%s%s", sp.name,
                            sp.url, sp.key ? sp.key : "none",
                            sp.user && sp.user[0] ? "basic" : "bearer",
                            sp.user && sp.user[0] ? " user=" : "", sp.user ? sp.user : "");
}

static int peer_credentials(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"token-file", required_argument, NULL, 'T'},
            {"user", required_argument, NULL, 'U'},
            {"bearer", no_argument, NULL, 'B'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *token_file = NULL, *user = NULL;
    char token[STORE_PEER_TOKEN_MAX];
    struct kz_error err;
    struct node *n;
    int c, rc, bearer = 0;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hT:U:B", opts, NULL)) != -1) {
        switch (c) {
        case 'T': token_file = optarg; break;
        case 'U': user = optarg; break;
        case 'B': bearer = 1; break;
        case 'h': fputs(peer_help, stdout); return 0;
        default: return cli_option_error("peer credentials", argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("peer credentials", "give one NAME (the peer's node name)");
    if (bearer && user)
        return cli_usage_error("peer credentials",
                               "give --user (HTTP Basic) or --bearer, not both");
    if (bearer)
        user = ""; /* from now on Bearer; neither flag keeps the scheme */
    if ((rc = read_token("peer credentials", token_file, NULL, token, sizeof(token))) != 0)
        return rc;
    kz_error_clear(&err);
    if (!(n = cli_node(cli))) {
        sodium_memzero(token, sizeof(token));
        return 2;
    }
    rc = sync_peer_credentials(n, argv[optind], token, user, &err);
    sodium_memzero(token, sizeof(token));
    if (rc < 0)
        return cli_fail(&err);
    return cli_audit_change(n, "peer-auth", NULL, "peer=%s auth=%s%s%s", argv[optind],
                            !user     ? "unchanged"
                            : user[0] ? "basic"
                                      : "bearer",
                            user && user[0] ? " user=" : "", user ? user : "");
}

static int peer_check(struct cli *cli, int argc, char **argv)
{
    struct kz_error err;
    struct node *n;

    if (argc != 2 || argv[1][0] == '-')
        return cli_usage_error("peer check", "give the peer's NAME");
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    return sync_peer_check(n, argv[1], print_check, NULL, &err) < 0 ? cli_fail(&err) : 0;
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
        if (p->user[0])
            printf("  auth HTTP Basic as %s\n", p->user);
        else
            printf("  auth Bearer\n");
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
    kz_buf_printf(&b, "\",\"auth\":\"%s\",\"user\":", p->user[0] ? "basic" : "bearer");
    if (p->user[0]) {
        kz_buf_addc(&b, '"');
        kz_buf_add_json_escaped(&b, p->user, strlen(p->user));
        kz_buf_addc(&b, '"');
    } else {
        kz_buf_addstr(&b, "null");
    }
    kz_buf_printf(&b, ",\"key\":\"%s\",\"last_success\":\"%s\",\"lag_seconds\":", p->public_key,
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
    if (strcmp(argv[1], "credentials") == 0)
        return peer_credentials(cli, argc - 1, argv + 1);
    if (cli_wants_help(argc - 1, argv + 1)) {
        fputs(peer_help, stdout);
        return 0;
    }
    kz_error_clear(&err);
    if (strcmp(argv[1], "check") == 0)
        return peer_check(cli, argc - 1, argv + 1);
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
