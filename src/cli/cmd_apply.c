/*
 * `kizuna apply FILE`: makes the node's organisations, communities, users,
 * collections, grants and peers match a declarative JSON file (admin/apply.c; the
 * schema is in docs/OPERATIONS.md). It prints what it created and changed,
 * or "unchanged", and records each change in the audit log; --dry-run only
 * says what it would do, --json prints the summary as one JSON object.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "cli/cli.h"
#include "node/node.h"
#include "policy/policy.h"
#include "util/buf.h"
#include "util/file.h"

static const char help[] =
        "usage: kizuna [--home DIR] apply FILE [--dry-run] [--json]\n\n"
        "Makes the node match FILE, a JSON object whose sections orgs, communities,\n"
        "users, collections, grants and peers list what should exist\n"
        "(docs/OPERATIONS.md). A peer's token stays in a file of its own, named by\n"
        "its token_file (relative to FILE's folder), so FILE holds no secret.\n"
        "What is missing is created and what differs is changed; what the file does\n"
        "not list is left alone. The whole file is checked first and applied in one\n"
        "transaction: a bad file changes nothing. Running it again changes nothing\n"
        "and says \"unchanged\". apply makes no tokens: give users theirs with\n"
        "`kizuna token create USER`. --dry-run prints what would change.\n";

static void add_json_str(struct kz_buf *b, const char *key, const char *v, int first)
{
    kz_buf_printf(b, "%s\"%s\":\"", first ? "" : ",", key);
    kz_buf_add_json_escaped(b, v, strlen(v));
    kz_buf_addc(b, '"');
}

static void print_json(const struct admin_apply_result *res, int dry_run)
{
    struct kz_buf b;

    kz_buf_init(&b, 64u * 1024 * 1024);
    kz_buf_printf(&b,
                  "{\"dry_run\":%s,\"created\":%zu,\"changed\":%zu,\"unchanged\":%zu,"
                  "\"changes\":[",
                  dry_run ? "true" : "false", res->created, res->changed, res->unchanged);
    for (size_t i = 0, n = 0; i < res->n; i++) {
        const struct admin_change *c = &res->changes[i];
        if (strcmp(c->action, "unchanged") == 0)
            continue;
        kz_buf_addstr(&b, n++ ? ",{" : "{");
        add_json_str(&b, "action", c->action, 1);
        add_json_str(&b, "kind", c->kind, 0);
        add_json_str(&b, "name", c->name, 0);
        add_json_str(&b, "detail", c->detail, 0);
        kz_buf_addc(&b, '}');
    }
    kz_buf_addstr(&b, "]}\n");
    if (!b.failed)
        fputs(b.data, stdout);
    kz_buf_free(&b);
}

static void print_text(const struct admin_apply_result *res, int dry_run)
{
    for (size_t i = 0; i < res->n; i++) {
        const struct admin_change *c = &res->changes[i];
        if (strcmp(c->action, "unchanged") == 0)
            continue;
        printf("%s%s %s %s%s%s\n", dry_run ? "would " : "", c->action, c->kind, c->name,
               c->detail[0] ? ": " : "", c->detail);
    }
    if (res->created + res->changed == 0)
        printf("unchanged: %zu entr%s already match%s\n", res->unchanged,
               res->unchanged == 1 ? "y" : "ies", res->unchanged == 1 ? "es" : "");
    else
        printf("%s%zu created, %zu changed, %zu unchanged\n",
               dry_run ? "dry run, nothing done: " : "", res->created, res->changed,
               res->unchanged);
}

int cmd_apply(struct cli *cli, int argc, char **argv)
{
    const char *file = NULL;
    int dry_run = 0, json = 0, rc = 0;
    struct admin_apply_result res;
    struct admin_apply_env env;
    struct auth_user op;
    struct kz_error err;
    struct node *n;
    char *text = NULL, *dir = NULL;
    size_t len = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--dry-run") == 0)
            dry_run = 1;
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (!file && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
            file = argv[i];
        else
            return cli_usage_error("apply", "unexpected argument \"%s\"", argv[i]);
    }
    if (!file)
        return cli_usage_error("apply", "give the FILE");
    kz_error_clear(&err);
    if (kz_read_file(file, KZ_MAX_APPLY_FILE, &text, &len, &err) < 0)
        return cli_fail(&err);
    if (!(n = cli_node(cli))) {
        free(text);
        return 2;
    }
    policy_operator_caller(&op);
    /* peers' token_file paths are relative to the file's folder (standard
     * input's: the working directory) */
    if (!(dir = strdup(file))) {
        free(text);
        kz_error_set(&err, KZ_ENOMEM, "out of memory");
        return cli_fail(&err);
    }
    env.dir = strcmp(file, "-") == 0 ? "." : dirname(dir);
    env.signing_key = node_config(n)->signing_key;
    if (admin_apply(node_store(n), &op, text, len, &env, dry_run, &res, &err) < 0) {
        free(text);
        free(dir);
        kz_error_file(&err, file);
        return cli_fail(&err);
    }
    free(text);
    free(dir);
    if (json)
        print_json(&res, dry_run);
    else
        print_text(&res, dry_run);
    fflush(stdout);
    /* each change in the audit log, in the operator's name */
    for (size_t i = 0; !dry_run && rc == 0 && i < res.n; i++) {
        const struct admin_change *c = &res.changes[i];
        if (strcmp(c->action, "unchanged") != 0)
            rc = cli_audit_change(n, "apply", NULL, "%s %s %s %.160s", c->action, c->kind, c->name,
                                  c->detail);
    }
    admin_apply_free(&res);
    return rc;
}
