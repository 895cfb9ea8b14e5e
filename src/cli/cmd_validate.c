/*
 * `kizuna validate`: check files against STIX 2.1 without a node. Findings
 * go to standard error as "file: objects[i] id: property: rule", or to
 * standard output as JSON lines with --json.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ingest/ingest.h"
#include "stix/stix.h"
#include "util/buf.h"
#include "util/file.h"

static const char help[] =
        "usage: kizuna validate [--json] [--quiet] FILE...\n\n"
        "Checks each FILE (a STIX 2.1 bundle, a TAXII envelope or one object; '-' for\n"
        "standard input) against every MUST of the STIX 2.1 specification.\n"
        "Exit status: 0 all valid, 1 any invalid, 2 usage or I/O error.\n\n"
        "  --json    print findings as JSON lines on standard output\n"
        "  --quiet   print only errors, not warnings or the summary\n";

struct vstate {
    const char *file;
    int json;
    int quiet;
    size_t objects, errors, warnings, invalid_objects;
    struct stix_findings findings;
    struct kz_buf line;
};

static void print_json(struct vstate *v, size_t index, const struct stix_obj *o,
                       const struct stix_finding *f)
{
    struct kz_buf *b = &v->line;

    kz_buf_reset(b);
    kz_buf_addstr(b, "{\"file\":\"");
    kz_buf_add_json_escaped(b, v->file, strlen(v->file));
    kz_buf_printf(b, "\",\"index\":%zu,\"id\":\"", index);
    kz_buf_add_json_escaped(b, o->id, strlen(o->id));
    kz_buf_addstr(b, "\",\"property\":\"");
    kz_buf_add_json_escaped(b, f->property, strlen(f->property));
    kz_buf_printf(b, "\",\"severity\":\"%s\",\"rule\":\"", f->warning ? "warning" : "error");
    kz_buf_add_json_escaped(b, f->rule, strlen(f->rule));
    kz_buf_addstr(b, "\"}\n");
    if (!b->failed)
        fwrite(b->data, 1, b->len, stdout);
}

static int on_object(void *ctx, size_t index, const struct kzj_doc *doc, uint32_t node,
                     struct kz_error *err)
{
    struct vstate *v = ctx;
    struct stix_obj o;
    struct kz_error e;
    char msg[1400];

    (void)err;
    v->objects++;
    if (stix_obj_read(doc, node, &o, &e) < 0) {
        struct stix_finding f = {.property = "", .warning = 0};
        snprintf(f.rule, sizeof(f.rule), "%.300s", e.text);
        stix_findings_clear(&v->findings);
        v->findings.items[0] = f;
        v->findings.n = 1;
        v->findings.errors = 1;
    } else {
        stix_validate(&o, &v->findings);
    }
    v->errors += v->findings.errors;
    v->warnings += v->findings.warnings;
    if (v->findings.errors)
        v->invalid_objects++;
    for (unsigned i = 0; i < v->findings.n; i++) {
        const struct stix_finding *f = &v->findings.items[i];
        if (v->quiet && f->warning)
            continue;
        if (v->json) {
            print_json(v, index, &o, f);
            continue;
        }
        ingest_finding_error(&o, v->file, index, f, &e);
        fprintf(stderr, "%s%s\n", f->warning ? "warning: " : "",
                kz_error_format(&e, msg, sizeof(msg)));
    }
    if (v->findings.errors + v->findings.warnings > v->findings.n && !v->json)
        fprintf(stderr, "%s: objects[%zu]: %u more findings not shown\n", v->file, index,
                v->findings.errors + v->findings.warnings - v->findings.n);
    return 0;
}

static int validate_file(struct vstate *v, const char *path)
{
    struct stix_container info;
    struct kz_error err;
    char *data = NULL;
    size_t len;
    int rc;

    kz_error_clear(&err);
    v->file = strcmp(path, "-") == 0 ? "<stdin>" : path;
    v->objects = v->errors = v->warnings = v->invalid_objects = 0;
    if (kz_read_file(path, KZ_MAX_FILE_BYTES, &data, &len, &err) < 0)
        return cli_fail(&err) == 1 ? 1 : 2;
    rc = stix_read(data, len, on_object, v, &info, &err);
    free(data);
    if (rc == 0)
        rc = stix_container_check(&info, &err);
    if (rc < 0) {
        kz_error_file(&err, v->file);
        if (v->json) {
            struct kz_buf *b = &v->line;
            char msg[1400];
            kz_buf_reset(b);
            kz_buf_addstr(b, "{\"file\":\"");
            kz_buf_add_json_escaped(b, v->file, strlen(v->file));
            kz_buf_addstr(b, "\",\"severity\":\"error\",\"rule\":\"");
            kz_error_format(&err, msg, sizeof(msg));
            kz_buf_add_json_escaped(b, msg, strlen(msg));
            kz_buf_addstr(b, "\"}\n");
            if (!b->failed)
                fwrite(b->data, 1, b->len, stdout);
            return 1;
        }
        cli_fail(&err);
        return 1;
    }
    if (!v->quiet && !v->json)
        printf("%s: %zu objects, %zu invalid (%zu errors, %zu warnings)\n", v->file, v->objects,
               v->invalid_objects, v->errors, v->warnings);
    return v->errors ? 1 : 0;
}

int cmd_validate(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct vstate v = {0};
    int c, worst = 0;

    (void)cli;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+hjq", opts, NULL)) != -1) {
        switch (c) {
        case 'j': v.json = 1; break;
        case 'q': v.quiet = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("validate", argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("validate", "no file given");
    kz_buf_init(&v.line, 64 * 1024);
    for (int i = optind; i < argc; i++) {
        int rc = validate_file(&v, argv[i]);
        if (rc > worst)
            worst = rc;
    }
    kz_buf_free(&v.line);
    fflush(stdout);
    return worst;
}
