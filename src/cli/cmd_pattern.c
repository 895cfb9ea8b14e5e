/*
 * `kizuna pattern`: check, explain and match STIX 2.1 patterns from the
 * command line. Subcommands are a table (name, handler, usage); each parses
 * its own options and returns the exit status: check 0 all valid / 1 any
 * invalid; explain 0 / 1 invalid; match 0 match / 1 no match / 2 when the
 * pattern or the file cannot be used; usage errors are 2 everywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pattern/pattern.h"
#include "util/buf.h"
#include "util/limits.h"

static const char check_usage[] =
        "usage: kizuna pattern check PATTERN...\n"
        "\n"
        "Checks each STIX 2.1 pattern against the grammar and the semantic rules\n"
        "(qualifiers, hash values, timestamps, type and property names, ...).\n"
        "A PATTERN of '-' reads patterns from standard input, one per line.\n"
        "Errors go to stderr with the line and column at fault.\n"
        "Exit status: 0 all valid, 1 any invalid, 2 usage error.\n";

static const char explain_usage[] =
        "usage: kizuna pattern explain PATTERN\n"
        "\n"
        "Prints the pattern in canonical form, its parse tree, and the conditions\n"
        "an index can serve (kind, exact or candidate, value), saying whether\n"
        "they cover the pattern.\n"
        "Exit status: 0 valid, 1 invalid, 2 usage error.\n";

static const char match_usage[] =
        "usage: kizuna pattern match [--json] PATTERN FILE\n"
        "\n"
        "Evaluates PATTERN against the observed-data objects in FILE (a bundle,\n"
        "a JSON list of objects or bundles, or one object; '-' for standard\n"
        "input). STIX 2.1 object_refs and the STIX 2.0 'objects' dictionary are\n"
        "both understood.\n"
        "  --json   print {\"matched\": ..., \"observations\": [{\"id\", \"uses\"}]}\n"
        "Exit status: 0 match, 1 no match, 2 usage error or unusable input.\n";

static const char pattern_usage[] =
        "usage: kizuna pattern check PATTERN...\n"
        "       kizuna pattern explain PATTERN\n"
        "       kizuna pattern match [--json] PATTERN FILE\n"
        "\n"
        "Work with STIX 2.1 patterns. Run `kizuna pattern SUBCOMMAND --help` for\n"
        "each subcommand's options.\n";

static void print_error(const char *what, const struct kz_error *e)
{
    char msg[1400];

    fprintf(stderr, "kizuna pattern: %s: %s\n", what, kz_error_format(e, msg, sizeof(msg)));
}

static int check_one(const char *pat, size_t n, const char *what)
{
    struct kz_error err;

    kz_error_clear(&err);
    if (kzp_check(pat, n, &err) == 0)
        return 0;
    print_error(what, &err);
    return 1;
}

static int check_stdin(void)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int bad = 0;

    while ((len = getline(&line, &cap, stdin)) >= 0) {
        char what[64];

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        snprintf(what, sizeof(what), "stdin line %zu", lineno);
        bad |= check_one(line, (size_t)len, what);
    }
    free(line);
    return bad;
}

static int sub_check(int argc, char **argv)
{
    int bad = 0;

    if (cli_wants_help(argc, argv)) {
        fputs(check_usage, stdout);
        return 0;
    }
    if (argc < 2)
        return cli_usage_error("pattern check", "expected at least one PATTERN");
    for (int i = 1; i < argc; i++) {
        char what[64];

        if (strcmp(argv[i], "-") == 0) {
            bad |= check_stdin();
            continue;
        }
        snprintf(what, sizeof(what), "pattern %d", i);
        bad |= check_one(argv[i], strlen(argv[i]), what);
    }
    return bad ? 1 : 0;
}

struct cond_print {
    struct kz_buf *out;
    unsigned n;
};

static int print_cond(void *ctx, const struct kzp_cond *c)
{
    struct cond_print *cp = ctx;

    cp->n++;
    kz_buf_printf(cp->out, "  %-7s %-9s obs #%u  %.*s", kzp_cond_kind_name(c->kind),
                  c->exact ? "exact" : "candidate", c->obs, (int)c->type_len, c->type);
    if (c->algo)
        kz_buf_printf(cp->out, " %.*s", (int)c->algo_len, c->algo);
    kz_buf_addstr(cp->out, " '");
    kz_buf_add(cp->out, c->value, c->len);
    kz_buf_addstr(cp->out, "'\n");
    return 0;
}

static int sub_explain(int argc, char **argv)
{
    struct kzp_pattern *p = NULL;
    struct kz_error err;
    struct kz_buf out;
    struct cond_print cp;
    int complete, rc = 1;

    if (cli_wants_help(argc, argv)) {
        fputs(explain_usage, stdout);
        return 0;
    }
    if (argc != 2)
        return cli_usage_error("pattern explain", "expected exactly one PATTERN");
    kz_error_clear(&err);
    kz_buf_init(&out, (size_t)64 * 1024 * 1024);
    if (kzp_parse(argv[1], strlen(argv[1]), &p, &err) < 0) {
        print_error("pattern", &err);
        goto out;
    }
    kz_buf_addstr(&out, "pattern:\n  ");
    kzp_format(p, &out);
    kz_buf_addstr(&out, "\ntree:\n");
    kzp_dump(p, &out);
    cp.out = &out;
    cp.n = 0;
    {
        struct kz_buf conds;

        kz_buf_init(&conds, (size_t)64 * 1024 * 1024);
        cp.out = &conds;
        kzp_extract(p, print_cond, &cp, &complete);
        kz_buf_printf(&out, "conditions: %u, %s\n", cp.n,
                      complete ? "complete (no hit means no match)"
                               : "incomplete (the pattern needs full evaluation too)");
        if (conds.len)
            kz_buf_add(&out, conds.data, conds.len);
        kz_buf_free(&conds);
    }
    if (out.failed) {
        fputs("kizuna pattern explain: output too large\n", stderr);
        rc = 2;
        goto out;
    }
    fwrite(out.data, 1, out.len, stdout);
    rc = 0;
out:
    kz_buf_free(&out);
    kzp_free(p);
    return rc;
}

/* Reads a whole file (or stdin for "-") into out. */
static int read_all(const char *path, struct kz_buf *out, struct kz_error *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char chunk[65536];
    size_t n;
    int rc = -1;

    kz_error_file(err, path);
    if (!f)
        return kz_error_set(err, KZ_EIO, "cannot open the file");
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (kz_buf_add(out, chunk, n) < 0) {
            kz_error_set(err, KZ_ELIMIT, "file is larger than %zu bytes", KZ_MAX_FILE_BYTES);
            goto out;
        }
    }
    if (ferror(f)) {
        kz_error_set(err, KZ_EIO, "read error");
        goto out;
    }
    rc = 0;
out:
    if (f != stdin)
        fclose(f);
    return rc;
}

static int sub_match(int argc, char **argv)
{
    struct kzp_pattern *p = NULL;
    struct kzp_obs *o = NULL;
    struct kzp_result res = {0};
    struct kz_error err;
    struct kz_buf file;
    const char *pat = NULL, *path = NULL;
    int json = 0, rc = 2;

    if (cli_wants_help(argc, argv)) {
        fputs(match_usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return cli_usage_error("pattern match", "unknown option %s", argv[i]);
        else if (!pat)
            pat = argv[i];
        else if (!path)
            path = argv[i];
        else
            return cli_usage_error("pattern match", "too many arguments");
    }
    if (!pat || !path)
        return cli_usage_error("pattern match", "expected PATTERN and FILE");
    kz_error_clear(&err);
    kz_buf_init(&file, KZ_MAX_FILE_BYTES);
    if (kzp_parse(pat, strlen(pat), &p, &err) < 0) {
        print_error("pattern", &err);
        goto out;
    }
    o = kzp_obs_new();
    if (!o) {
        fputs("kizuna pattern match: out of memory\n", stderr);
        goto out;
    }
    if (read_all(path, &file, &err) < 0 ||
        kzp_obs_add(o, file.data ? file.data : "", file.len, &err) < 0) {
        kz_error_file(&err, path);
        print_error("match", &err);
        goto out;
    }
    if (kzp_match(p, o, &res, &err) < 0) {
        print_error("match", &err);
        goto out;
    }
    if (json) {
        struct kz_buf j;

        kz_buf_init(&j, (size_t)256 * 1024 * 1024);
        kz_buf_printf(&j, "{\"matched\": %s, \"observations\": [", res.matched ? "true" : "false");
        for (size_t i = 0; i < res.n; i++) {
            const char *id = kzp_obs_id(o, res.obs[i]);

            kz_buf_addstr(&j, i ? ", {\"id\": \"" : "{\"id\": \"");
            kz_buf_add_json_escaped(&j, id, strlen(id));
            kz_buf_printf(&j, "\", \"uses\": %u}", res.uses[i]);
        }
        kz_buf_addstr(&j, "]}\n");
        if (!j.failed)
            fwrite(j.data, 1, j.len, stdout);
        kz_buf_free(&j);
    } else if (res.matched) {
        fputs("match:", stdout);
        for (size_t i = 0; i < res.n; i++)
            printf(" %s%s", kzp_obs_id(o, res.obs[i]), i + 1 < res.n ? "," : "");
        fputc('\n', stdout);
    } else {
        fputs("no match\n", stdout);
    }
    rc = res.matched ? 0 : 1;
out:
    kzp_result_free(&res);
    kzp_obs_free(o);
    kzp_free(p);
    kz_buf_free(&file);
    return rc;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} subcommands[] = {
        {"check", sub_check},
        {"explain", sub_explain},
        {"match", sub_match},
};

int cmd_pattern(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(pattern_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    return cli_usage_error("pattern", "unknown subcommand '%s'", argv[1]);
}
