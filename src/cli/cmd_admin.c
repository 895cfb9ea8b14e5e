/*
 * The node operator's commands for accounts and access: organisations,
 * communities, users, API tokens and grants on collections. They act on the
 * store directly (the operator has the home folder), print one line per
 * item, and take --json where a script would want it. They act as the node
 * operator (policy_operator_caller), and ask policy/ about every account and
 * grant exactly as the account API does, so that one set of rules governs
 * both and a CLI path acting as a user would be held to that user's rights.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "auth/auth.h"
#include "auth/token.h"
#include "cli/cli.h"
#include "node/node.h"
#include "policy/policy.h"
#include "store/store_accounts.h"
#include "store/store_grants.h"
#include "store/store_objects.h"
#include "store/store_remove.h"
#include "util/buf.h"
#include "util/kztime.h"
#include "util/uuid.h"

static int name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KZ_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

static int is_help(int argc, char **argv)
{
    return argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
}

static void json_field(struct kz_buf *b, const char *key, const char *value, int first)
{
    kz_buf_printf(b, "%s\"%s\":\"", first ? "{" : ",", key);
    kz_buf_add_json_escaped(b, value, strlen(value));
    kz_buf_addc(b, '"');
}

/* The NAME and --force of `... remove NAME [--force]` (argv[0] is the
 * subcommand); -1 after printing a usage error. */
static int name_and_force(const char *cmd, int argc, char **argv, const char **name, int *force)
{
    *name = NULL;
    *force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            *force = 1;
        else if (!*name && argv[i][0] != '-')
            *name = argv[i];
        else {
            cli_usage_error(cmd, "give one NAME and, optionally, --force");
            return -1;
        }
    }
    if (!*name) {
        cli_usage_error(cmd, "give the NAME");
        return -1;
    }
    return 0;
}

/* The exit status for something policy/ refused. */
static int refused(const char *why)
{
    struct kz_error err;

    kz_error_clear(&err);
    kz_error_set(&err, KZ_EDENIED, "%s", why);
    return cli_fail(&err);
}

/* --- org ------------------------------------------------------------------ */

static const char org_help[] =
        "usage: kizuna [--home DIR] org add NAME [--country CC] [--sector S] [--kind K]\n"
        "                                        [--identity ID]\n"
        "       kizuna [--home DIR] org list [--json]\n"
        "       kizuna [--home DIR] org remove NAME [--force]\n\n"
        "An organisation: a CERT, a ministry, an operator, a company. Each stands for a\n"
        "STIX identity (made up when --identity is not given) that its users publish\n"
        "as. K is government, cert, cii-operator or business; CC an ISO 3166 code.\n\n"
        "remove deletes an organisation, the grants to it and its community\n"
        "memberships. It refuses while users, objects or recipients name it; --force\n"
        "also removes its users (and their tokens and grants) and leaves its objects\n"
        "with no producer. It always refuses while a peer stands for the organisation.\n"
        "A removed organisation's key is never given to a new one.\n";

static int org_add(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"country", required_argument, NULL, 'c'}, {"sector", required_argument, NULL, 's'},
            {"kind", required_argument, NULL, 'k'},    {"identity", required_argument, NULL, 'i'},
            {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    static const char *const kinds[] = {"government", "cert", "cii-operator", "business", NULL};
    struct store_org o;
    struct kz_error err;
    struct node *n;
    int c, ok = 0;

    memset(&o, 0, sizeof(o));
    optind = 0;
    while ((c = getopt_long(argc, argv, "hc:s:k:i:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (strlen(optarg) != 2 || optarg[0] < 'A' || optarg[0] > 'Z' || optarg[1] < 'A' ||
                optarg[1] > 'Z')
                return cli_usage_error("org add", "--country takes a two-letter code like IN");
            snprintf(o.country, sizeof(o.country), "%s", optarg);
            break;
        case 's': snprintf(o.sector, sizeof(o.sector), "%s", optarg); break;
        case 'k':
            for (int i = 0; kinds[i]; i++)
                ok |= strcmp(kinds[i], optarg) == 0;
            if (!ok)
                return cli_usage_error("org add",
                                       "--kind is government, cert, cii-operator or business");
            snprintf(o.kind, sizeof(o.kind), "%s", optarg);
            break;
        case 'i':
            if (strncmp(optarg, "identity--", 10) != 0 ||
                !kz_uuid_valid(optarg + 10, strlen(optarg + 10)))
                return cli_usage_error("org add", "--identity must be identity--UUID");
            snprintf(o.identity, sizeof(o.identity), "%s", optarg);
            break;
        case 'h': fputs(org_help, stdout); return 0;
        default: return cli_option_error("org add", argv);
        }
    }
    if (optind + 1 != argc || !name_ok(argv[optind]))
        return cli_usage_error("org add", "give one NAME of letters, digits, '-', '_' or '.'");
    snprintf(o.name, sizeof(o.name), "%s", argv[optind]);
    n = cli_node(cli);
    if (!n)
        return 2;
    kz_error_clear(&err);
    if (store_org_add(node_store(n), &o, &err) < 0)
        return cli_fail(&err);
    printf("%s\n", o.identity);
    return cli_audit_change(n, "org-add", NULL, "org=%s identity=%s", o.name, o.identity);
}

/* A listing's state: JSON lines, or rows of a table printed at the end. */
struct listing {
    int json;
    struct cli_table *table;
};

/* Starts a text listing of ncols columns (none for --json). */
static int listing_start(struct listing *l, unsigned ncols)
{
    l->table = l->json ? NULL : cli_table_new(ncols);
    return l->json || l->table ? 0 : -1;
}

/* Prints the table (when the listing went well) and frees it. */
static int listing_end(struct listing *l, int rc)
{
    if (rc == 0)
        cli_table_print(l->table, stdout);
    cli_table_free(l->table);
    return rc;
}

static int out_of_memory(void)
{
    struct kz_error err;

    kz_error_clear(&err);
    kz_error_set(&err, KZ_ENOMEM, "out of memory");
    return cli_fail(&err);
}

static const char *or_dash(const char *s)
{
    return s && s[0] ? s : "-";
}

static int print_org(void *ctx, const struct store_org *o)
{
    struct listing *l = ctx;
    struct kz_buf b;

    if (!l->json) {
        const char *row[] = {o->name, or_dash(o->country), or_dash(o->kind), or_dash(o->sector),
                             o->identity};
        return cli_table_add(l->table, row);
    }
    kz_buf_init(&b, 8192);
    json_field(&b, "name", o->name, 1);
    json_field(&b, "country", o->country, 0);
    json_field(&b, "kind", o->kind, 0);
    json_field(&b, "sector", o->sector, 0);
    json_field(&b, "identity", o->identity, 0);
    kz_buf_addstr(&b, "}\n");
    if (!b.failed)
        fputs(b.data, stdout);
    kz_buf_free(&b);
    return 0;
}

int cmd_org(struct cli *cli, int argc, char **argv)
{
    struct kz_error err;
    struct node *n;
    struct listing l = {0};

    if (argc < 2 || is_help(argc, argv)) {
        fputs(org_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "add") == 0)
        return org_add(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "remove") == 0) {
        struct store_refs refs;
        struct auth_user op;
        const char *name;
        int force;
        if (cli_wants_help(argc - 1, argv + 1)) {
            fputs(org_help, stdout);
            return 0;
        }
        if (name_and_force("org remove", argc - 1, argv + 1, &name, &force) < 0)
            return 2;
        if (!(n = cli_node(cli)))
            return 2;
        kz_error_clear(&err);
        policy_operator_caller(&op);
        if (admin_org_remove(node_store(n), &op, name, force, &refs, &err) < 0)
            return cli_fail(&err);
        printf("removed organisation %s: %llu user(s), %llu grant(s), %llu membership(s)\n", name,
               force ? (unsigned long long)refs.users : 0ULL, (unsigned long long)refs.grants,
               (unsigned long long)refs.members);
        return cli_audit_change(n, "org-remove", NULL, "org=%s users=%llu force=%d", name,
                                (unsigned long long)refs.users, force);
    }
    if (strcmp(argv[1], "list") != 0)
        return cli_usage_error("org", "unknown subcommand \"%s\"", argv[1]);
    if (cli_wants_help(argc - 1, argv + 1)) {
        fputs(org_help, stdout);
        return 0;
    }
    l.json = argc > 2 && strcmp(argv[2], "--json") == 0;
    n = cli_node(cli);
    if (!n)
        return 2;
    kz_error_clear(&err);
    if (listing_start(&l, 5) < 0)
        return out_of_memory();
    if (listing_end(&l, store_org_each(node_store(n), print_org, &l, &err)) < 0)
        return cli_fail(&err);
    return 0;
}

/* --- community ------------------------------------------------------------ */

static const char community_help[] =
        "usage: kizuna [--home DIR] community add NAME\n"
        "       kizuna [--home DIR] community join COMMUNITY ORG\n"
        "       kizuna [--home DIR] community list [--json]\n"
        "       kizuna [--home DIR] community leave COMMUNITY ORG\n"
        "       kizuna [--home DIR] community remove NAME [--force]\n\n"
        "A community is a named set of organisations (e.g. in-jp-g2g, in-jp-b2b).\n"
        "TLP:GREEN reaches the members of the communities a collection is shared with\n"
        "(kizuna grant COLLECTION --community C).\n\n"
        "leave takes an organisation out of a community: from then on the community's\n"
        "grants no longer reach it. remove deletes a community with its memberships\n"
        "and the grants to it; it refuses while peers list the community, unless\n"
        "--force, which takes them out of it.\n";

static int print_community(void *ctx, const struct store_community *c, const char *members)
{
    struct listing *l = ctx;
    struct kz_buf b;
    const char *m = members ? members : "";

    if (!l->json) {
        const char *row[] = {c->name, or_dash(m)};
        return cli_table_add(l->table, row);
    }
    /* {"name", "members": [...]}: members come comma-separated from the store */
    kz_buf_init(&b, 64 * 1024);
    json_field(&b, "name", c->name, 1);
    kz_buf_addstr(&b, ",\"members\":[");
    for (const char *p = m; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        kz_buf_addstr(&b, p == m ? "\"" : ",\"");
        kz_buf_add_json_escaped(&b, p, len);
        kz_buf_addc(&b, '"');
        p += len + (comma ? 1 : 0);
    }
    kz_buf_addstr(&b, "]}\n");
    if (!b.failed)
        fputs(b.data, stdout);
    kz_buf_free(&b);
    return 0;
}

int cmd_community(struct cli *cli, int argc, char **argv)
{
    struct store_community c;
    struct store_org o;
    struct kz_error err;
    struct node *n;

    if (argc < 2 || is_help(argc, argv) || cli_wants_help(argc, argv)) {
        fputs(community_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    kz_error_clear(&err);
    if (strcmp(argv[1], "add") == 0) {
        if (argc != 3 || !name_ok(argv[2]))
            return cli_usage_error("community add", "give one NAME of letters, digits, '-', "
                                                    "'_' or '.'");
        if (!(n = cli_node(cli)))
            return 2;
        memset(&c, 0, sizeof(c));
        snprintf(c.name, sizeof(c.name), "%s", argv[2]);
        if (store_community_add(node_store(n), &c, &err) < 0)
            return cli_fail(&err);
        return cli_audit_change(n, "community-add", NULL, "community=%s", c.name);
    }
    if (strcmp(argv[1], "join") == 0) {
        if (argc != 4)
            return cli_usage_error("community join", "give COMMUNITY and ORG");
        if (!(n = cli_node(cli)))
            return 2;
        if (store_community_find(node_store(n), argv[2], &c, &err) < 0 ||
            store_org_find(node_store(n), argv[3], &o, &err) < 0 ||
            store_community_join(node_store(n), c.key, o.key, &err) < 0)
            return cli_fail(&err);
        return cli_audit_change(n, "community-join", NULL, "community=%s org=%s", c.name, o.name);
    }
    if (strcmp(argv[1], "leave") == 0) {
        struct auth_user op;
        if (argc != 4)
            return cli_usage_error("community leave", "give COMMUNITY and ORG");
        if (!(n = cli_node(cli)))
            return 2;
        policy_operator_caller(&op);
        if (admin_community_leave(node_store(n), &op, argv[2], argv[3], &err) < 0)
            return cli_fail(&err);
        return cli_audit_change(n, "community-leave", NULL, "community=%s org=%s", argv[2],
                                argv[3]);
    }
    if (strcmp(argv[1], "remove") == 0) {
        struct store_refs refs;
        struct auth_user op;
        const char *name;
        int force;
        if (name_and_force("community remove", argc - 1, argv + 1, &name, &force) < 0)
            return 2;
        if (!(n = cli_node(cli)))
            return 2;
        policy_operator_caller(&op);
        if (admin_community_remove(node_store(n), &op, name, force, &refs, &err) < 0)
            return cli_fail(&err);
        printf("removed community %s: %llu membership(s), %llu grant(s)\n", name,
               (unsigned long long)refs.members, (unsigned long long)refs.grants);
        return cli_audit_change(n, "community-drop", NULL, "community=%s force=%d", name, force);
    }
    if (strcmp(argv[1], "list") == 0) {
        struct listing l = {.json = argc == 3 && strcmp(argv[2], "--json") == 0};
        if (argc > 3 || (argc == 3 && !l.json))
            return cli_usage_error("community list", "the only option is --json");
        if (!(n = cli_node(cli)))
            return 2;
        if (listing_start(&l, 2) < 0)
            return out_of_memory();
        if (listing_end(&l, store_community_each(node_store(n), print_community, &l, &err)) < 0)
            return cli_fail(&err);
        return 0;
    }
    return cli_usage_error("community", "unknown subcommand \"%s\"", argv[1]);
}

/* --- user ----------------------------------------------------------------- */

static const char user_help[] =
        "usage: kizuna [--home DIR] user add NAME --org ORG [--role ROLE]\n"
        "       kizuna [--home DIR] user list [--json]\n"
        "       kizuna [--home DIR] user disable|enable|remove NAME\n"
        "       kizuna [--home DIR] user role NAME ROLE\n\n"
        "ROLE is reader (the default: reads what grants allow), contributor (also\n"
        "publishes, as its organisation), org-admin, node-admin, or peer (the account\n"
        "another node syncs with: relays objects whoever produced them; see\n"
        "docs/FEDERATION.md). Give a user a token with `kizuna token create NAME`.\n\n"
        "disable makes every token of the user fail (within a second on a running\n"
        "server) until enable; the tokens are not revoked. remove deletes the user,\n"
        "its tokens and the grants to it; its name may be used again, its key never.\n"
        "role changes the user's role (what it may do from its next request on).\n";

static int user_add(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"org", required_argument, NULL, 'o'},
            {"role", required_argument, NULL, 'r'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *org = NULL, *role = "reader";
    struct auth_user op;
    struct store_user u;
    struct store_org o;
    struct kz_error err;
    struct node *n;
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "ho:r:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': org = optarg; break;
        case 'r': role = optarg; break;
        case 'h': fputs(user_help, stdout); return 0;
        default: return cli_option_error("user add", argv);
        }
    }
    if (optind + 1 != argc || !name_ok(argv[optind]))
        return cli_usage_error("user add", "give one NAME of letters, digits, '-', '_' or '.'");
    if (!org)
        return cli_usage_error("user add", "--org is required");
    if (auth_role_parse(role) == AUTH_ROLE_NONE)
        return cli_usage_error("user add",
                               "--role is reader, contributor, org-admin, node-admin or peer");
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    if (store_org_find(node_store(n), org, &o, &err) < 0)
        return cli_fail(&err);
    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "%s", argv[optind]);
    snprintf(u.role, sizeof(u.role), "%s", role);
    u.org = o.key;
    policy_operator_caller(&op);
    if (!policy_may_grant_role(&op, auth_role_parse(role)) || !policy_may_manage_account(&op, &u))
        return refused("you may not add that account");
    if (store_user_add(node_store(n), &u, &err) < 0)
        return cli_fail(&err);
    return cli_audit_change(n, "user-add", NULL, "user=%s role=%s org=%s", u.name, u.role, o.name);
}

/* `user disable|enable|remove NAME`, `user role NAME ROLE` */
static int user_change(struct cli *cli, int argc, char **argv)
{
    const char *what = argv[0];
    int role = strcmp(what, "role") == 0, changed = 1;
    char cmd[32];
    struct store_refs refs;
    struct store_user u;
    struct auth_user op;
    struct kz_error err;
    struct node *n;
    int rc;

    snprintf(cmd, sizeof(cmd), "user %s", what);
    if (cli_wants_help(argc, argv)) {
        fputs(user_help, stdout);
        return 0;
    }
    if (argc != (role ? 3 : 2))
        return cli_usage_error(cmd, role ? "give NAME and ROLE" : "give one NAME");
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    policy_operator_caller(&op);
    if (role)
        rc = admin_user_update(node_store(n), &op, argv[1], argv[2], -1, &u, &changed, &err);
    else if (strcmp(what, "remove") == 0)
        rc = admin_user_remove(node_store(n), &op, argv[1], &u, &refs, &err);
    else
        rc = admin_user_update(node_store(n), &op, argv[1], NULL, strcmp(what, "disable") == 0, &u,
                               &changed, &err);
    if (rc < 0)
        return cli_fail(&err);
    if (strcmp(what, "remove") == 0) {
        printf("removed user %s: %llu token(s), %llu grant(s)\n", u.name,
               (unsigned long long)refs.tokens, (unsigned long long)refs.grants);
        return cli_audit_change(n, "user-remove", NULL, "user=%s org=%s tokens=%llu", u.name,
                                u.org_name, (unsigned long long)refs.tokens);
    }
    if (role) {
        printf("user %s: role %s%s\n", u.name, u.role, changed ? "" : " (unchanged)");
        return cli_audit_change(n, "user-role", NULL, "user=%s role=%s", u.name, u.role);
    }
    printf("user %s %s\n", u.name, u.disabled ? "disabled" : "enabled");
    return cli_audit_change(n, u.disabled ? "user-disable" : "user-enable", NULL, "user=%s",
                            u.name);
}

struct users_ctx {
    struct auth_user caller;
    struct listing l;
};

static int print_user(void *ctx, const struct store_user *u)
{
    struct users_ctx *c = ctx;
    struct kz_buf b;

    if (!policy_may_manage_account(&c->caller, u))
        return 0;
    if (!c->l.json) {
        const char *row[] = {u->name, u->role, u->org_name, u->disabled ? "disabled" : ""};
        return cli_table_add(c->l.table, row);
    }
    kz_buf_init(&b, 4096);
    json_field(&b, "name", u->name, 1);
    json_field(&b, "role", u->role, 0);
    json_field(&b, "org", u->org_name, 0);
    kz_buf_printf(&b, ",\"disabled\":%s}\n", u->disabled ? "true" : "false");
    if (!b.failed)
        fputs(b.data, stdout);
    kz_buf_free(&b);
    return 0;
}

int cmd_user(struct cli *cli, int argc, char **argv)
{
    struct users_ctx c;
    struct kz_error err;
    struct node *n;

    if (argc < 2 || is_help(argc, argv)) {
        fputs(user_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "add") == 0)
        return user_add(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "disable") == 0 || strcmp(argv[1], "enable") == 0 ||
        strcmp(argv[1], "remove") == 0 || strcmp(argv[1], "role") == 0)
        return user_change(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") != 0)
        return cli_usage_error("user", "unknown subcommand \"%s\"", argv[1]);
    if (cli_wants_help(argc - 1, argv + 1)) {
        fputs(user_help, stdout);
        return 0;
    }
    policy_operator_caller(&c.caller);
    c.l.json = argc > 2 && strcmp(argv[2], "--json") == 0;
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    if (listing_start(&c.l, 4) < 0)
        return out_of_memory();
    if (listing_end(&c.l, store_user_each(node_store(n), print_user, &c, &err)) < 0)
        return cli_fail(&err);
    return 0;
}

/* --- token ---------------------------------------------------------------- */

static const char token_help[] =
        "usage: kizuna [--home DIR] token create USER\n"
        "       kizuna [--home DIR] token list [USER] [--json]\n"
        "       kizuna [--home DIR] token revoke TOKEN-ID\n\n"
        "create prints a new API token for USER on standard output, once: kizuna keeps\n"
        "only its hash. A token reads kz_<id>_<secret>; its 16-hex-digit id names it in\n"
        "`token list` and `token revoke`. A revoked token stops working within a second,\n"
        "also on a running server.\n";

struct tokens_ctx {
    struct store *s;
    struct auth_user caller;
    int json;
};

static int print_token(void *ctx, const struct store_token *t)
{
    struct tokens_ctx *c = ctx;
    struct store_user u;
    struct kz_error err;
    char when[KZ_TS_MICROS_LEN], rev[KZ_TS_MICROS_LEN];

    /* a token whose user is gone or out of reach is not listed */
    if (store_user_get(c->s, t->user, &u, &err) < 0 || !policy_may_manage_account(&c->caller, &u))
        return 0;
    kz_ts_format_micros(t->created_us, when);
    if (t->revoked_us)
        kz_ts_format_micros(t->revoked_us, rev);
    if (c->json) {
        struct kz_buf b;
        kz_buf_init(&b, 4096);
        json_field(&b, "id", t->token_id, 1);
        json_field(&b, "user", u.name, 0);
        json_field(&b, "created", when, 0);
        if (t->revoked_us)
            json_field(&b, "revoked", rev, 0);
        else
            kz_buf_addstr(&b, ",\"revoked\":null");
        kz_buf_addstr(&b, "}\n");
        if (!b.failed)
            fputs(b.data, stdout);
        kz_buf_free(&b);
        return 0;
    }
    printf("%s  %-20s created %s%s%s\n", t->token_id, u.name, when,
           t->revoked_us ? "  revoked " : "", t->revoked_us ? rev : "");
    return 0;
}

int cmd_token(struct cli *cli, int argc, char **argv)
{
    struct store_user u;
    struct store_token t;
    struct auth_user op;
    struct kz_error err;
    char text[AUTH_TOKEN_MAX];
    struct node *n;

    if (argc < 2 || is_help(argc, argv) || cli_wants_help(argc, argv)) {
        fputs(token_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    kz_error_clear(&err);
    policy_operator_caller(&op);
    if (strcmp(argv[1], "create") == 0) {
        if (argc != 3)
            return cli_usage_error("token create", "give the USER");
        if (!(n = cli_node(cli)))
            return 2;
        if (store_user_find(node_store(n), argv[2], &u, &err) < 0)
            return cli_fail(&err);
        if (!policy_may_manage_account(&op, &u))
            return refused("you may not make tokens for that account");
        auth_token_generate(u.key, text, &t);
        if (store_token_add(node_store(n), &t, &err) < 0) {
            sodium_memzero(text, sizeof(text));
            return cli_fail(&err);
        }
        printf("%s\n", text);
        fflush(stdout);
        sodium_memzero(text, sizeof(text));
        return cli_audit_change(n, "token-create", NULL, "token=%s user=%s", t.token_id, u.name);
    }
    if (strcmp(argv[1], "revoke") == 0) {
        char id[STORE_TOKEN_ID_LEN + 1];
        const char *which = argc == 3 ? argv[2] : "";
        if (argc != 3)
            return cli_usage_error("token revoke", "give the TOKEN-ID");
        /* accept the whole token too, but never print it */
        if (auth_token_id(which, strlen(which), id) == 0)
            which = id;
        if (!(n = cli_node(cli)))
            return 2;
        if (store_token_find(node_store(n), which, &t, &err) < 0 ||
            store_user_get(node_store(n), t.user, &u, &err) < 0)
            return cli_fail(&err);
        if (!policy_may_manage_account(&op, &u))
            return refused("you may not revoke that account's tokens");
        if (store_token_revoke(node_store(n), which, &err) < 0)
            return cli_fail(&err);
        return cli_audit_change(n, "token-revoke", NULL, "token=%s", which);
    }
    if (strcmp(argv[1], "list") == 0) {
        struct tokens_ctx tc = {.caller = op};
        int64_t user = 0;
        const char *who = NULL;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--json") == 0)
                tc.json = 1;
            else if (!who)
                who = argv[i];
            else
                return cli_usage_error("token list", "give at most one USER");
        }
        if (!(n = cli_node(cli)))
            return 2;
        if (who) {
            if (store_user_find(node_store(n), who, &u, &err) < 0)
                return cli_fail(&err);
            if (!policy_may_manage_account(&op, &u))
                return refused("you may not list that account's tokens");
            user = u.key;
        }
        tc.s = node_store(n);
        if (store_token_each(node_store(n), user, print_token, &tc, &err) < 0)
            return cli_fail(&err);
        return 0;
    }
    return cli_usage_error("token", "unknown subcommand \"%s\"", argv[1]);
}

/* --- grant ---------------------------------------------------------------- */

static const char grant_help[] =
        "usage: kizuna [--home DIR] grant COLLECTION --user U|--org O|--community C|--role R\n"
        "                                 [--read] [--write] [--revoke]\n"
        "       kizuna [--home DIR] grant COLLECTION [--json]\n\n"
        "Gives access to a collection (by alias or id). Without --read or --write the\n"
        "grant is --read; --revoke takes both away. With no subject, lists the\n"
        "collection's grants. What a reader then sees inside the collection follows\n"
        "TLP (docs/SHARING.md): a community grant reaches TLP:GREEN, an organisation or\n"
        "user grant TLP:AMBER, a role grant TLP:CLEAR only.\n";

static const char *const kind_names[] = {"", "user", "org", "community", "role"};

static int print_grant(void *ctx, const struct store_grant *g)
{
    struct listing *l = ctx;

    if (l->json) {
        struct kz_buf b;
        kz_buf_init(&b, 4096);
        json_field(&b, "kind", kind_names[g->kind], 1);
        json_field(&b, "subject", g->subject_name, 0);
        kz_buf_printf(&b, ",\"read\":%s,\"write\":%s}\n", g->can_read ? "true" : "false",
                      g->can_write ? "true" : "false");
        if (!b.failed)
            fputs(b.data, stdout);
        kz_buf_free(&b);
        return 0;
    }
    {
        const char *access = g->can_read ? (g->can_write ? "read,write" : "read")
                                         : (g->can_write ? "write" : "");
        const char *row[] = {kind_names[g->kind], g->subject_name, access};
        return cli_table_add(l->table, row);
    }
}

static int grant_subject(struct store *s, int kind, const char *name, struct store_grant *g,
                         struct kz_error *err)
{
    struct store_user u;
    struct store_org o;
    struct store_community c;

    g->kind = (enum store_grant_kind)kind;
    switch (kind) {
    case STORE_GRANT_USER:
        if (store_user_find(s, name, &u, err) < 0)
            return -1;
        g->subject = u.key;
        return 0;
    case STORE_GRANT_ORG:
        if (store_org_find(s, name, &o, err) < 0)
            return -1;
        g->subject = o.key;
        return 0;
    case STORE_GRANT_COMMUNITY:
        if (store_community_find(s, name, &c, err) < 0)
            return -1;
        g->subject = c.key;
        return 0;
    default:
        if (auth_role_parse(name) == AUTH_ROLE_NONE)
            return kz_error_set(err, KZ_EUSAGE,
                                "--role is reader, contributor, org-admin or node-admin");
        snprintf(g->role, sizeof(g->role), "%s", name);
        return 0;
    }
}

int cmd_grant(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"user", required_argument, NULL, 'u'},
            {"org", required_argument, NULL, 'o'},
            {"community", required_argument, NULL, 'c'},
            {"role", required_argument, NULL, 'R'},
            {"read", no_argument, NULL, 'r'},
            {"write", no_argument, NULL, 'w'},
            {"revoke", no_argument, NULL, 'x'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *subject = NULL;
    int kind = 0, c, rd = 0, wr = 0, revoke = 0;
    struct listing l = {0};
    struct auth_user op;
    struct store_collection col;
    struct store_grant g;
    struct kz_error err;
    struct node *n;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hu:o:c:R:rwxj", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
        case 'o':
        case 'c':
        case 'R':
            if (subject)
                return cli_usage_error("grant", "give one of --user, --org, --community, --role");
            subject = optarg;
            kind = c == 'u'   ? STORE_GRANT_USER
                   : c == 'o' ? STORE_GRANT_ORG
                   : c == 'c' ? STORE_GRANT_COMMUNITY
                              : STORE_GRANT_ROLE;
            break;
        case 'r': rd = 1; break;
        case 'w': wr = 1; break;
        case 'x': revoke = 1; break;
        case 'j': l.json = 1; break;
        case 'h': fputs(grant_help, stdout); return 0;
        default: return cli_option_error("grant", argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("grant", "give one COLLECTION");
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    if (store_collection_find(node_store(n), NULL, argv[optind], &col, &err) < 0)
        return cli_fail(&err);
    if (!subject) {
        if (listing_start(&l, 3) < 0)
            return out_of_memory();
        if (listing_end(&l, store_grant_each(node_store(n), col.key, print_grant, &l, &err)) < 0)
            return cli_fail(&err);
        return 0;
    }
    policy_operator_caller(&op);
    if (!policy_may_manage_grants(&op))
        return refused("you may not change grants");
    memset(&g, 0, sizeof(g));
    g.collection = col.key;
    if (grant_subject(node_store(n), kind, subject, &g, &err) < 0)
        return cli_fail(&err);
    if (!rd && !wr && !revoke)
        rd = 1;
    g.can_read = revoke ? 0 : rd;
    g.can_write = revoke ? 0 : wr;
    if (store_grant_set(node_store(n), &g, &err) < 0)
        return cli_fail(&err);
    return cli_audit_change(n, "grant", col.id, "%s=%s read=%d write=%d", kind_names[kind], subject,
                            g.can_read, g.can_write);
}
