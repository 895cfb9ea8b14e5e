/*
 * MISP warninglists (warninglist.h). Lists are kept as loaded (for listing
 * and serializing), and finish builds one matcher per list type over all
 * lists together, each mapping a matching entry to the numbers of the lists
 * holding it:
 *   string     two string tables: entries as written, and lowercased (used
 *              for the case-insensitive kinds: addresses, domains, hashes)
 *   hostname   a string table of lowercased, dot-trimmed entries, probed
 *              with every suffix of the host (MISP's walk from the TLD)
 *   cidr       the index's prefix tables, one per family
 *   substring  entries of 4+ bytes bucketed by their first 4 bytes and
 *              probed at every position of the value; shorter ones scanned
 *   regex      PCRE2 programs, tried in list order
 * Checks run only on hits, so the per-value cost matters little; load time
 * matters more (~530,000 entries in MISP's full set).
 */
#include "match/warninglist.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json/json.h"
#include "match/match_int.h"

enum wl_type { WL_STRING, WL_SUBSTRING, WL_HOSTNAME, WL_CIDR, WL_REGEX };
static const char *const type_names[] = {"string", "substring", "hostname", "cidr", "regex"};

struct wl_list {
    struct warninglist_info info;
    enum wl_type type;
    uint32_t kinds; /* bit per enum match_kind the list applies to */
    char *name, *description;
    char **attrs;
    size_t nattrs;
    char *arena; /* entries, NUL-separated */
    uint32_t *eoff;
    size_t nentries;
    pcre2_code **re;
};

struct wl_sub {
    uint32_t list, off, len; /* pattern = lists[list].arena + off */
};

struct warninglist_set {
    struct wl_list *lists;
    size_t n, cap;
    int finished;
    uint64_t seed;
    struct mx_refs refs; /* ref = list number */
    struct mx_strtab exact, lower, hosts;
    struct mx_iptab v4, v6;
    struct mx_refs subrefs; /* ref = substring pattern number */
    struct mx_strtab sub4;  /* first 4 bytes -> patterns */
    struct wl_sub *subs;
    size_t nsubs;
    uint32_t *shortsubs; /* patterns under 4 bytes */
    size_t nshort;
};

/* MISP attribute types per kind. */
static uint32_t kinds_of_attr(const char *a)
{
    static const struct {
        const char *attr;
        uint32_t kinds;
    } map[] = {
            {"ip-src", 1u << MATCH_IPV4 | 1u << MATCH_IPV6},
            {"ip-dst", 1u << MATCH_IPV4 | 1u << MATCH_IPV6},
            {"ip-src|port", 1u << MATCH_IPV4 | 1u << MATCH_IPV6},
            {"ip-dst|port", 1u << MATCH_IPV4 | 1u << MATCH_IPV6},
            {"domain|ip", 1u << MATCH_DOMAIN | 1u << MATCH_IPV4 | 1u << MATCH_IPV6},
            {"domain", 1u << MATCH_DOMAIN},
            {"hostname", 1u << MATCH_DOMAIN},
            {"hostname|port", 1u << MATCH_DOMAIN},
            {"url", 1u << MATCH_URL},
            {"uri", 1u << MATCH_URL},
            {"link", 1u << MATCH_URL},
            {"email", 1u << MATCH_EMAIL},
            {"email-src", 1u << MATCH_EMAIL},
            {"email-dst", 1u << MATCH_EMAIL},
            {"target-email", 1u << MATCH_EMAIL},
            {"whois-registrant-email", 1u << MATCH_EMAIL},
            {"dns-soa-email", 1u << MATCH_EMAIL},
            {"md5", 1u << MATCH_MD5},
            {"filename|md5", 1u << MATCH_MD5},
            {"x509-fingerprint-md5", 1u << MATCH_MD5},
            {"sha1", 1u << MATCH_SHA1},
            {"filename|sha1", 1u << MATCH_SHA1},
            {"x509-fingerprint-sha1", 1u << MATCH_SHA1},
            {"sha256", 1u << MATCH_SHA256},
            {"filename|sha256", 1u << MATCH_SHA256},
            {"x509-fingerprint-sha256", 1u << MATCH_SHA256},
            {"sha512", 1u << MATCH_SHA512},
            {"filename|sha512", 1u << MATCH_SHA512},
    };

    if (strcmp(a, "ALL") == 0)
        return ~0u;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].attr, a) == 0)
            return map[i].kinds;
    return 0;
}

struct warninglist_set *warninglist_set_new(struct kz_error *err)
{
    struct warninglist_set *s = calloc(1, sizeof(*s));

    if (!s) {
        kz_error_set(err, KZ_ENOMEM, "out of memory creating a warninglist set");
        return NULL;
    }
    s->seed = mx_random_seed();
    mx_iptab_init(&s->v4, 32);
    mx_iptab_init(&s->v6, 128);
    return s;
}

static void list_free(struct wl_list *l)
{
    for (size_t i = 0; i < l->nattrs; i++)
        free(l->attrs[i]);
    if (l->re)
        for (size_t i = 0; i < l->nentries; i++)
            pcre2_code_free(l->re[i]);
    free(l->re);
    free(l->attrs);
    free(l->name);
    free(l->description);
    free(l->arena);
    free(l->eoff);
}

void warninglist_set_free(struct warninglist_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        list_free(&s->lists[i]);
    free(s->lists);
    mx_refs_free(&s->refs);
    mx_refs_free(&s->subrefs);
    mx_strtab_free(&s->exact);
    mx_strtab_free(&s->lower);
    mx_strtab_free(&s->hosts);
    mx_strtab_free(&s->sub4);
    mx_iptab_free(&s->v4);
    mx_iptab_free(&s->v6);
    free(s->subs);
    free(s->shortsubs);
    free(s);
}

/* --- loading ------------------------------------------------------------ */

static char *dup_str(const struct kzj_doc *d, uint32_t node)
{
    size_t n = kzj_strlen(d, node);
    char *p = malloc(n + 1);

    if (p && kzj_strcpy(d, node, p, n + 1) < 0) {
        free(p);
        p = NULL;
    }
    return p;
}

/* Appends one entry (decoded string node) to the list's arena. */
static int add_entry(struct wl_list *l, const struct kzj_doc *d, uint32_t node, size_t *acap,
                     size_t *alen, size_t *ecap)
{
    size_t n = kzj_strlen(d, node);

    if (n == 0)
        return 0; /* MISP skips empty values */
    if (n > MATCH_MAX_WARNINGLIST_ENTRY)
        return 1;
    if (*alen + n + 1 > *acap) {
        size_t nc = *acap ? *acap * 2 : 4096;
        char *na;
        while (nc < *alen + n + 1)
            nc *= 2;
        if (nc > UINT32_MAX)
            return -1;
        na = realloc(l->arena, nc);
        if (!na)
            return -1;
        l->arena = na;
        *acap = nc;
    }
    if (l->nentries + 1 > *ecap) {
        size_t nc = *ecap ? *ecap * 2 : 64;
        uint32_t *ne = realloc(l->eoff, nc * sizeof(*ne));
        if (!ne)
            return -1;
        l->eoff = ne;
        *ecap = nc;
    }
    if (kzj_strcpy(d, node, l->arena + *alen, n + 1) < 0)
        return 1; /* holds U+0000 */
    l->eoff[l->nentries++] = (uint32_t)*alen;
    *alen += n + 1;
    return 0;
}

static const char *entry(const struct wl_list *l, size_t i)
{
    return l->arena + l->eoff[i];
}

/* Compiles a PHP-style "/pattern/flags" regex. */
static pcre2_code *compile_regex(const char *e, char *why, size_t whysz)
{
    size_t n = strlen(e), end;
    char open = e[0], close;
    uint32_t opts = 0;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re;

    if (n < 2 || (open >= 'a' && open <= 'z') || (open >= 'A' && open <= 'Z') ||
        (open >= '0' && open <= '9') || open == '\\' || open == ' ') {
        snprintf(why, whysz, "regex must be written /pattern/flags");
        return NULL;
    }
    close = open == '(' ? ')' : open == '[' ? ']' : open == '{' ? '}' : open == '<' ? '>' : open;
    for (end = n - 1; end > 0 && e[end] != close; end--)
        ;
    if (end == 0) {
        snprintf(why, whysz, "regex has no closing delimiter '%c'", close);
        return NULL;
    }
    for (size_t i = end + 1; i < n; i++) {
        switch (e[i]) {
        case 'i': opts |= PCRE2_CASELESS; break;
        case 'm': opts |= PCRE2_MULTILINE; break;
        case 's': opts |= PCRE2_DOTALL; break;
        case 'x': opts |= PCRE2_EXTENDED; break;
        case 'u': opts |= PCRE2_UTF | PCRE2_UCP; break;
        case 'U': opts |= PCRE2_UNGREEDY; break;
        case 'D': opts |= PCRE2_DOLLAR_ENDONLY; break;
        case 'A': opts |= PCRE2_ANCHORED; break;
        case 'g': break; /* not a PHP flag, but MISP's lists use it: ignored */
        default: snprintf(why, whysz, "unknown regex flag '%c'", e[i]); return NULL;
        }
    }
    re = pcre2_compile((PCRE2_SPTR)(e + 1), end - 1, opts, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        snprintf(why, whysz, "regex does not compile at offset %zu: %s", (size_t)eo,
                 (const char *)msg);
    }
    return re;
}

static int parse_list(struct warninglist_set *s, const struct kzj_doc *d, struct wl_list *l,
                      struct kz_error *err)
{
    uint32_t name = KZJ_GET(d, 0, "name"), type = KZJ_GET(d, 0, "type");
    uint32_t list = KZJ_GET(d, 0, "list"), desc = KZJ_GET(d, 0, "description");
    uint32_t ver = KZJ_GET(d, 0, "version"), attrs = KZJ_GET(d, 0, "matching_attributes");
    size_t acap = 0, alen = 0, ecap = 0, idx = 0;
    char tname[16];

    if (!name || kzj_type(d, name) != KZJ_STRING || kzj_strlen(d, name) == 0) {
        kz_error_property(err, "name");
        return kz_error_set(err, KZ_EINVALID, "a warninglist needs a non-empty string \"name\"");
    }
    l->name = dup_str(d, name);
    if (!l->name)
        goto nomem;
    kz_error_object(err, "warninglist '%.100s'", l->name);
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->lists[i].name, l->name) == 0)
            return kz_error_set(err, KZ_EEXISTS, "a warninglist of that name is already loaded");
    }
    l->type = WL_STRING; /* MISP's default */
    if (type && kzj_type(d, type) == KZJ_ARRAY && kzj_count(d, type) > 0)
        type = type + 1; /* MISP takes the first of a list */
    if (type) {
        int found = 0;
        if (kzj_type(d, type) != KZJ_STRING || kzj_strcpy(d, type, tname, sizeof(tname)) < 0)
            tname[0] = '\0';
        for (int t = 0; t < 5; t++) {
            if (strcmp(tname, type_names[t]) == 0) {
                l->type = (enum wl_type)t;
                found = 1;
            }
        }
        if (!found) {
            kz_error_property(err, "type");
            return kz_error_set(err, KZ_EINVALID,
                                "type must be string, substring, hostname, cidr or regex");
        }
    }
    if (desc && kzj_type(d, desc) == KZJ_STRING) {
        l->description = dup_str(d, desc);
        if (!l->description)
            goto nomem;
    }
    l->info.version = 1;
    if (ver && kzj_type(d, ver) == KZJ_NUMBER && kzj_int64(d, ver, &l->info.version) < 0) {
        kz_error_property(err, "version");
        return kz_error_set(err, KZ_EINVALID, "version must be an integer");
    }
    l->kinds = 0;
    if (attrs && kzj_type(d, attrs) == KZJ_ARRAY) {
        l->attrs = calloc(kzj_count(d, attrs) + 1, sizeof(*l->attrs));
        if (!l->attrs)
            goto nomem;
        KZJ_FOREACH_ELEM(d, attrs, e)
        {
            if (kzj_type(d, e) != KZJ_STRING)
                continue;
            l->attrs[l->nattrs] = dup_str(d, e);
            if (!l->attrs[l->nattrs])
                goto nomem;
            l->kinds |= kinds_of_attr(l->attrs[l->nattrs]);
            l->nattrs++;
        }
    }
    if (l->nattrs == 0)
        l->kinds = ~0u; /* no matching_attributes: every type */
    if (!list || (kzj_type(d, list) != KZJ_ARRAY && kzj_type(d, list) != KZJ_OBJECT)) {
        kz_error_property(err, "list");
        return kz_error_set(err, KZ_EINVALID, "\"list\" must be an array of values");
    }
    if (kzj_type(d, list) == KZJ_ARRAY) {
        KZJ_FOREACH_ELEM(d, list, e)
        {
            int r;
            if (kzj_type(d, e) != KZJ_STRING) {
                kz_error_property(err, "list[%zu]", idx);
                return kz_error_set(err, KZ_EINVALID, "entries must be strings");
            }
            r = add_entry(l, d, e, &acap, &alen, &ecap);
            if (r < 0)
                goto nomem;
            if (r > 0) {
                kz_error_property(err, "list[%zu]", idx);
                return kz_error_set(err, KZ_ELIMIT, "entry longer than %d bytes or holding NUL",
                                    MATCH_MAX_WARNINGLIST_ENTRY);
            }
            idx++;
        }
    } else {
        KZJ_FOREACH_MEMBER(d, list, k)
        {
            int r = add_entry(l, d, k, &acap, &alen, &ecap); /* {value: comment} */
            if (r < 0)
                goto nomem;
            if (r > 0) {
                kz_error_property(err, "list[%zu]", idx);
                return kz_error_set(err, KZ_ELIMIT, "entry longer than %d bytes or holding NUL",
                                    MATCH_MAX_WARNINGLIST_ENTRY);
            }
            idx++;
        }
    }
    /* Validate CIDR and regex entries now, naming the one at fault. */
    if (l->type == WL_REGEX && l->nentries) {
        l->re = calloc(l->nentries, sizeof(*l->re));
        if (!l->re)
            goto nomem;
    }
    for (size_t i = 0; i < l->nentries; i++) {
        char why[256];
        if (l->type == WL_CIDR) {
            int fam;
            uint8_t a[16];
            unsigned plen;
            const char *e = entry(l, i);
            if (match_cidr_parse(e, strlen(e), &fam, a, &plen, err) < 0) {
                kz_error_property(err, "list[%zu]", i);
                return -1;
            }
        } else if (l->type == WL_REGEX) {
            l->re[i] = compile_regex(entry(l, i), why, sizeof(why));
            if (!l->re[i]) {
                kz_error_property(err, "list[%zu]", i);
                return kz_error_set(err, KZ_EINVALID, "%s", why);
            }
        }
    }
    l->info.name = l->name;
    l->info.description = l->description ? l->description : "";
    l->info.type = type_names[l->type];
    l->info.entries = l->nentries;
    l->info.matching_attributes = (const char *const *)l->attrs;
    l->info.nattributes = l->nattrs;
    kz_error_object(err, "%s", "");
    return 0;
nomem:
    return kz_error_set(err, KZ_ENOMEM, "out of memory loading a warninglist");
}

int warninglist_set_add_json(struct warninglist_set *s, const char *json, size_t n,
                             struct kz_error *err)
{
    struct kzj_doc d;
    struct wl_list l;
    int rc = -1;

    memset(&l, 0, sizeof(l));
    kzj_doc_init(&d);
    if (s->finished) {
        kz_error_set(err, KZ_EUSAGE, "the warninglist set is already finished");
        goto out;
    }
    if (s->n >= MATCH_MAX_WARNINGLISTS) {
        kz_error_set(err, KZ_ELIMIT, "more than %d warninglists", MATCH_MAX_WARNINGLISTS);
        goto out;
    }
    if (n > MATCH_MAX_WARNINGLIST_BYTES) {
        kz_error_set(err, KZ_ELIMIT, "a warninglist is larger than %zu bytes",
                     MATCH_MAX_WARNINGLIST_BYTES);
        goto out;
    }
    d.max_nodes = UINT32_MAX / 2; /* bounded by the byte cap above */
    if (kzj_parse(&d, json, n, err) < 0)
        goto out;
    if (kzj_type(&d, 0) != KZJ_OBJECT) {
        kz_error_set(err, KZ_EINVALID, "a warninglist must be a JSON object");
        goto out;
    }
    if (parse_list(s, &d, &l, err) < 0)
        goto out;
    if (s->n + 1 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        struct wl_list *nl = realloc(s->lists, nc * sizeof(*nl));
        if (!nl) {
            kz_error_set(err, KZ_ENOMEM, "out of memory loading a warninglist");
            goto out;
        }
        s->lists = nl;
        s->cap = nc;
    }
    s->lists[s->n++] = l;
    memset(&l, 0, sizeof(l));
    rc = 0;
out:
    list_free(&l);
    kzj_doc_free(&d);
    return rc;
}

static int read_file(const char *path, char **buf, size_t *n, struct kz_error *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    size_t got;

    *buf = NULL;
    if (!f || fstat(fileno(f), &st) < 0) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_EIO, "cannot open: %s", strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    if ((uint64_t)st.st_size > MATCH_MAX_WARNINGLIST_BYTES) {
        fclose(f);
        kz_error_file(err, path);
        return kz_error_set(err, KZ_ELIMIT, "larger than %zu bytes", MATCH_MAX_WARNINGLIST_BYTES);
    }
    *buf = malloc((size_t)st.st_size + 1);
    if (!*buf) {
        fclose(f);
        return kz_error_set(err, KZ_ENOMEM, "out of memory reading %s", path);
    }
    got = fread(*buf, 1, (size_t)st.st_size, f);
    fclose(f);
    if (got != (size_t)st.st_size) {
        free(*buf);
        *buf = NULL;
        kz_error_file(err, path);
        return kz_error_set(err, KZ_EIO, "short read");
    }
    *n = got;
    return 0;
}

static int load_file(struct warninglist_set *s, const char *path, struct kz_error *err)
{
    char *buf;
    size_t n = 0;
    int rc;

    if (read_file(path, &buf, &n, err) < 0)
        return -1;
    rc = warninglist_set_add_json(s, buf, n, err);
    if (rc < 0)
        kz_error_file(err, path);
    free(buf);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int warninglist_set_load_path(struct warninglist_set *s, const char *path, struct kz_error *err)
{
    struct stat st;
    DIR *dir = NULL;
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    int rc = -1;

    if (stat(path, &st) < 0) {
        kz_error_file(err, path);
        return kz_error_set(err, errno == ENOENT ? KZ_ENOTFOUND : KZ_EIO, "cannot open: %s",
                            strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(s, path, err);
    dir = opendir(path);
    if (!dir) {
        kz_error_file(err, path);
        return kz_error_set(err, KZ_EIO, "cannot open: %s", strerror(errno));
    }
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (nn + 1 > cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **x = realloc(names, nc * sizeof(*x));
            if (!x)
                goto nomem;
            names = x;
            cap = nc;
        }
        names[nn] = strdup(de->d_name);
        if (!names[nn])
            goto nomem;
        nn++;
    }
    if (nn > 1)
        qsort(names, nn, sizeof(*names), cmp_str);
    for (size_t i = 0; i < nn; i++) {
        char p[4096];
        struct stat es;
        size_t ln = strlen(names[i]);
        if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, names[i]) >= sizeof(p))
            continue;
        if (stat(p, &es) < 0)
            continue;
        if (S_ISDIR(es.st_mode)) {
            char lp[4200];
            snprintf(lp, sizeof(lp), "%s/list.json", p);
            if (stat(lp, &es) == 0 && S_ISREG(es.st_mode) && load_file(s, lp, err) < 0)
                goto out;
        } else if (ln > 5 && strcmp(names[i] + ln - 5, ".json") == 0) {
            if (load_file(s, p, err) < 0)
                goto out;
        }
    }
    rc = 0;
    goto out;
nomem:
    kz_error_set(err, KZ_ENOMEM, "out of memory listing %s", path);
out:
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    closedir(dir);
    return rc;
}

int warninglist_set_load_blob(struct warninglist_set *s, const char *blob, size_t n,
                              struct kz_error *err)
{
    struct kzj_doc d;
    int rc = -1;
    size_t i = 0;

    kzj_doc_init(&d);
    d.max_nodes = UINT32_MAX / 2;
    if (n > MATCH_MAX_WARNINGLIST_BYTES * 4) {
        kz_error_set(err, KZ_ELIMIT, "warninglist blob too large");
        goto out;
    }
    if (kzj_parse(&d, blob, n, err) < 0)
        goto out;
    if (kzj_type(&d, 0) == KZJ_OBJECT) {
        rc = warninglist_set_add_json(s, blob, n, err);
        goto out;
    }
    if (kzj_type(&d, 0) != KZJ_ARRAY) {
        kz_error_set(err, KZ_EINVALID, "a warninglist blob is an array of lists");
        goto out;
    }
    KZJ_FOREACH_ELEM(&d, 0, e)
    {
        if (warninglist_set_add_json(s, kzj_raw(&d, e), kzj_at(&d, e)->len, err) < 0) {
            kz_error_property(err, "[%zu]", i);
            goto out;
        }
        i++;
    }
    rc = 0;
out:
    kzj_doc_free(&d);
    return rc;
}

static int add_json_str(struct kz_buf *b, const char *s)
{
    return kz_buf_addc(b, '"') | kz_buf_add_json_escaped(b, s, strlen(s)) | kz_buf_addc(b, '"');
}

int warninglist_set_serialize(const struct warninglist_set *s, struct kz_buf *out,
                              struct kz_error *err)
{
    kz_buf_addc(out, '[');
    for (size_t i = 0; i < s->n; i++) {
        const struct wl_list *l = &s->lists[i];
        if (i)
            kz_buf_addc(out, ',');
        kz_buf_addstr(out, "{\"description\":");
        add_json_str(out, l->description ? l->description : "");
        kz_buf_addstr(out, ",\"list\":[");
        for (size_t k = 0; k < l->nentries; k++) {
            if (k)
                kz_buf_addc(out, ',');
            add_json_str(out, entry(l, k));
        }
        kz_buf_addstr(out, "],\"matching_attributes\":[");
        for (size_t k = 0; k < l->nattrs; k++) {
            if (k)
                kz_buf_addc(out, ',');
            add_json_str(out, l->attrs[k]);
        }
        kz_buf_addstr(out, "],\"name\":");
        add_json_str(out, l->name);
        kz_buf_addstr(out, ",\"type\":");
        add_json_str(out, type_names[l->type]);
        kz_buf_printf(out, ",\"version\":%lld}", (long long)l->info.version);
    }
    kz_buf_addc(out, ']');
    if (out->failed)
        return kz_error_set(err, KZ_ELIMIT, "the warninglist blob exceeds the buffer's maximum");
    return 0;
}

/* --- building the matchers --------------------------------------------- */

static int add_to(struct warninglist_set *s, struct mx_strtab *t, uint64_t h, const char *k,
                  size_t n, uint32_t id)
{
    struct mx_strslot *sl = mx_strtab_upsert(t, h, k, n);

    return sl && mx_refs_add(&s->refs, &sl->val, id) == 0 ? 0 : -1;
}

static int freeze_tab(struct mx_refs *rs, struct mx_strtab *t)
{
    for (size_t i = 0; t->slots && i <= t->mask; i++)
        if (t->slots[i].val != MX_EMPTY && mx_refs_freeze(rs, &t->slots[i].val) < 0)
            return -1;
    return 0;
}

static int build_list(struct warninglist_set *s, uint32_t id)
{
    const struct wl_list *l = &s->lists[id];
    char low[MATCH_MAX_WARNINGLIST_ENTRY + 1];

    for (size_t i = 0; i < l->nentries; i++) {
        const char *e = entry(l, i);
        size_t n = strlen(e);
        switch (l->type) {
        case WL_STRING: {
            int differs = 0;
            if (add_to(s, &s->exact, mx_hash(e, n, s->seed), e, n, id) < 0)
                return -1;
            for (size_t k = 0; k < n; k++) {
                low[k] = (char)mx_lower[(unsigned char)e[k]];
                differs |= low[k] != e[k];
            }
            if (add_to(s, &s->lower, mx_hash(low, n, s->seed), low, n, id) < 0)
                return -1;
            (void)differs;
            break;
        }
        case WL_HOSTNAME: {
            size_t a = 0, b = n;
            while (a < b && e[a] == '.')
                a++;
            while (b > a && e[b - 1] == '.')
                b--;
            for (size_t k = a; k < b; k++)
                low[k - a] = (char)mx_lower[(unsigned char)e[k]];
            if (b > a && add_to(s, &s->hosts, mx_dhash(low, b - a, s->seed), low, b - a, id) < 0)
                return -1;
            break;
        }
        case WL_CIDR: {
            int fam;
            uint8_t a[16];
            unsigned plen;
            struct mx_u128 u = {0, 0};
            if (match_cidr_parse(e, n, &fam, a, &plen, NULL) < 0)
                break; /* validated at load */
            if (fam == 4) {
                u.lo = ((uint32_t)a[0] << 24) | ((uint32_t)a[1] << 16) | ((uint32_t)a[2] << 8) |
                       a[3];
                if (mx_iptab_add(&s->v4, u, plen, id) < 0)
                    return -1;
            } else if (mx_iptab_add(&s->v6, mx_u128_from16(a), plen, id) < 0) {
                return -1;
            }
            break;
        }
        case WL_SUBSTRING: {
            uint32_t pid = (uint32_t)s->nsubs;
            struct wl_sub *ns = realloc(s->subs, (s->nsubs + 1) * sizeof(*ns));
            if (!ns)
                return -1;
            s->subs = ns;
            s->subs[s->nsubs++] = (struct wl_sub){id, l->eoff[i], (uint32_t)n};
            if (n >= 4) {
                struct mx_strslot *sl = mx_strtab_upsert(&s->sub4, mx_hash(e, 4, s->seed), e, 4);
                if (!sl || mx_refs_add(&s->subrefs, &sl->val, pid) < 0)
                    return -1;
            } else {
                uint32_t *x = realloc(s->shortsubs, (s->nshort + 1) * sizeof(*x));
                if (!x)
                    return -1;
                s->shortsubs = x;
                s->shortsubs[s->nshort++] = pid;
            }
            break;
        }
        case WL_REGEX: break;
        }
    }
    return 0;
}

int warninglist_set_finish(struct warninglist_set *s, struct kz_error *err)
{
    if (s->finished)
        return kz_error_set(err, KZ_EUSAGE, "the warninglist set is already finished");
    for (size_t i = 0; i < s->n; i++)
        if (build_list(s, (uint32_t)i) < 0)
            goto nomem;
    if (freeze_tab(&s->refs, &s->exact) < 0 || freeze_tab(&s->refs, &s->lower) < 0 ||
        freeze_tab(&s->refs, &s->hosts) < 0 || freeze_tab(&s->subrefs, &s->sub4) < 0 ||
        mx_iptab_freeze(&s->v4, &s->refs) < 0 || mx_iptab_freeze(&s->v6, &s->refs) < 0 ||
        mx_strtab_freeze(&s->exact) < 0 || mx_strtab_freeze(&s->lower) < 0 ||
        mx_strtab_freeze(&s->hosts) < 0 || mx_strtab_freeze(&s->sub4) < 0)
        goto nomem;
    mx_refs_drop_pool(&s->refs);
    mx_refs_drop_pool(&s->subrefs);
    s->finished = 1;
    return 0;
nomem:
    return kz_error_set(err, KZ_ENOMEM, "out of memory building warninglist matchers");
}

size_t warninglist_count(const struct warninglist_set *s)
{
    return s->n;
}

int warninglist_get(const struct warninglist_set *s, size_t i, struct warninglist_info *out)
{
    if (i >= s->n)
        return -1;
    *out = s->lists[i].info;
    return 0;
}

const char *warninglist_entry(const struct warninglist_set *s, size_t i, size_t k)
{
    if (i >= s->n || k >= s->lists[i].nentries)
        return NULL;
    return entry(&s->lists[i], k);
}

/* --- checking ----------------------------------------------------------- */

/* Lowers *best to the first list among refs that applies to kind and whose
 * type is t. */
static void consider(const struct warninglist_set *s, const uint32_t *valp,
                     const struct mx_refs *rs, enum match_kind kind, enum wl_type t, uint32_t *best)
{
    const uint32_t *refs;
    uint32_t n;

    mx_refs_get(rs, valp, &refs, &n);
    for (uint32_t i = 0; i < n && refs[i] < *best; i++) {
        const struct wl_list *l = &s->lists[refs[i]];
        if (l->type == t && (l->kinds & (1u << kind))) {
            *best = refs[i];
            return;
        }
    }
}

static void check_str(const struct warninglist_set *s, const struct mx_strtab *t,
                      enum match_kind kind, const char *v, size_t n, uint32_t *best)
{
    const struct mx_strslot *sl;

    if (!t->n || n == 0)
        return;
    sl = mx_strtab_find(t, mx_hash(v, n, s->seed), v, n, 0);
    if (sl)
        consider(s, &sl->val, &s->refs, kind, WL_STRING, best);
}

static void check_host(const struct warninglist_set *s, enum match_kind kind, const char *h,
                       size_t n, uint32_t *best)
{
    uint64_t st = s->seed;

    while (n && h[n - 1] == '.')
        n--;
    if (!s->hosts.n || n == 0)
        return;
    /* every suffix at a label boundary, the TLD first (MISP's walk) */
    for (size_t i = n; i > 0; i--) {
        st = mx_dstep(st, (unsigned char)h[i - 1]);
        if (i == 1 || h[i - 2] == '.') {
            const struct mx_strslot *sl =
                    mx_strtab_find(&s->hosts, mx_dfinal(st), h + i - 1, n - i + 1, 1);
            if (sl)
                consider(s, &sl->val, &s->refs, kind, WL_HOSTNAME, best);
        }
    }
}

static void check_sub(const struct warninglist_set *s, enum match_kind kind, const char *v,
                      size_t n, uint32_t *best)
{
    for (size_t i = 0; i + 4 <= n && s->sub4.n; i++) {
        const struct mx_strslot *sl =
                mx_strtab_find(&s->sub4, mx_hash(v + i, 4, s->seed), v + i, 4, 0);
        const uint32_t *pids;
        uint32_t np;
        if (!sl)
            continue;
        mx_refs_get(&s->subrefs, &sl->val, &pids, &np);
        for (uint32_t k = 0; k < np; k++) {
            const struct wl_sub *p = &s->subs[pids[k]];
            const struct wl_list *l = &s->lists[p->list];
            if (p->list < *best && p->len <= n - i && (l->kinds & (1u << kind)) &&
                memcmp(v + i, l->arena + p->off, p->len) == 0)
                *best = p->list;
        }
    }
    for (size_t k = 0; k < s->nshort; k++) {
        const struct wl_sub *p = &s->subs[s->shortsubs[k]];
        const struct wl_list *l = &s->lists[p->list];
        if (p->list < *best && (l->kinds & (1u << kind)) &&
            kz_memmem(v, n, l->arena + p->off, p->len))
            *best = p->list;
    }
}

static int regex_hit(pcre2_code *re, const char *v, size_t n)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc;

    if (!md)
        return 0;
    rc = pcre2_match(re, (PCRE2_SPTR)v, n, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

const struct warninglist_info *warninglist_check(const struct warninglist_set *s,
                                                 enum match_kind kind, const char *value,
                                                 size_t value_len, const char *norm,
                                                 size_t norm_len)
{
    uint32_t best = UINT32_MAX;
    int ci = kind == MATCH_IPV4 || kind == MATCH_IPV6 || kind == MATCH_DOMAIN ||
             kind == MATCH_MD5 || kind == MATCH_SHA1 || kind == MATCH_SHA256 ||
             kind == MATCH_SHA512;

    if (!s || !s->finished || (unsigned)kind >= MATCH_KIND_COUNT)
        return NULL;
    /* cidr */
    if (kind == MATCH_IPV4 || kind == MATCH_IPV6) {
        uint32_t a4, node = MX_NONE;
        uint8_t a6[16];
        const struct mx_iptab *t = NULL;
        if (match_ipv4_parse(norm, norm_len, &a4) == 0) {
            t = &s->v4;
            node = mx_iptab_find4(t, a4);
        } else if (match_ipv6_parse(norm, norm_len, a6) == 0) {
            t = &s->v6;
            node = mx_iptab_find6(t, mx_u128_from16(a6));
        }
        for (; t && node != MX_NONE; node = t->nodes[node].parent)
            consider(s, &t->nodes[node].val, &s->refs, kind, WL_CIDR, &best);
    }
    /* string */
    check_str(s, &s->exact, kind, norm, norm_len, &best);
    if (value_len != norm_len || memcmp(value, norm, norm_len) != 0)
        check_str(s, &s->exact, kind, value, value_len, &best);
    if (ci && norm_len <= MATCH_MAX_VALUE_BYTES) {
        char low[MATCH_MAX_VALUE_BYTES];
        for (size_t i = 0; i < norm_len; i++)
            low[i] = (char)mx_lower[(unsigned char)norm[i]];
        check_str(s, &s->lower, kind, low, norm_len, &best);
    }
    /* hostname */
    if (kind == MATCH_DOMAIN) {
        check_host(s, kind, norm, norm_len, &best);
    } else if (kind == MATCH_URL) {
        size_t h, hl, rest;
        if (mx_url_split(norm, norm_len, &h, &hl, &rest) == 0)
            check_host(s, kind, norm + h, hl, &best);
    } else if (kind == MATCH_EMAIL) {
        const char *at = NULL;
        for (size_t i = norm_len; i > 0 && !at; i--)
            if (norm[i - 1] == '@')
                at = norm + i - 1;
        if (at)
            check_host(s, kind, at + 1, norm_len - (size_t)(at + 1 - norm), &best);
    }
    /* substring */
    check_sub(s, kind, norm, norm_len, &best);
    if (value_len != norm_len || memcmp(value, norm, norm_len) != 0)
        check_sub(s, kind, value, value_len, &best);
    /* regex, in list order, only lists that could still win */
    for (uint32_t i = 0; i < s->n && i < best; i++) {
        const struct wl_list *l = &s->lists[i];
        if (l->type != WL_REGEX || !(l->kinds & (1u << kind)))
            continue;
        for (size_t k = 0; k < l->nentries; k++) {
            if (regex_hit(l->re[k], norm, norm_len) ||
                (value_len != norm_len && regex_hit(l->re[k], value, value_len))) {
                best = i;
                break;
            }
        }
    }
    return best == UINT32_MAX ? NULL : &s->lists[best].info;
}
