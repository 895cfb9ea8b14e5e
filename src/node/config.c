/*
 * kizuna.conf: an INI file read with inih. Every key is known here with its
 * type and range; an unknown key or a bad value stops the node from starting
 * with the line at fault, because a typo in a security setting must never
 * quietly turn into a default.
 */
#include "node/node.h"

#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct loader {
    struct node_config *cfg;
    const char *home;
    char msg[512]; /* first problem found, with its key */
};

static void resolve(const char *home, const char *value, char *out, size_t cap)
{
    if (value[0] == '/' || strcmp(value, "-") == 0 || value[0] == '\0')
        snprintf(out, cap, "%s", value);
    else
        snprintf(out, cap, "%s/%s", home, value);
}

static int parse_int(const char *v, long lo, long hi, long *out)
{
    char *end;
    long x;

    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

void node_config_defaults(struct node_config *cfg, const char *home)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->name, sizeof(cfg->name), "kizuna");
    cfg->default_tlp = STIX_TLP_AMBER;
    snprintf(cfg->store_backend, sizeof(cfg->store_backend), "sqlite");
    resolve(home, "kizuna.db", cfg->store_path, sizeof(cfg->store_path));
    resolve(home, "audit.db", cfg->audit_path, sizeof(cfg->audit_path));
    snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1:8470");
    cfg->threads = 4;
    cfg->cache = 1;
    resolve(home, "kizuna.log", cfg->log_path, sizeof(cfg->log_path));
    cfg->max_content_length = 100u * 1024 * 1024;
    cfg->upload_budget = 256u * 1024 * 1024;
    cfg->body_timeout = 30;
    cfg->sync_interval = 300;
    resolve(home, "signing.key", cfg->signing_key, sizeof(cfg->signing_key));
}

static int set_string(struct loader *l, const char *key, const char *v, char *out, size_t cap)
{
    if (strlen(v) >= cap || strlen(v) > KZ_MAX_CONFIG_VALUE) {
        snprintf(l->msg, sizeof(l->msg), "%s: value too long", key);
        return 0;
    }
    snprintf(out, cap, "%s", v);
    return 1;
}

static int on_node(struct loader *l, const char *name, const char *v)
{
    struct node_config *c = l->cfg;

    if (strcmp(name, "name") == 0)
        return set_string(l, "node.name", v, c->name, sizeof(c->name));
    if (strcmp(name, "default_marking") == 0) {
        if (stix_tlp_parse(v, &c->default_tlp) == 0)
            return 1;
        snprintf(l->msg, sizeof(l->msg),
                 "node.default_marking: \"%s\" is not clear, green, amber, amber+strict or red", v);
        return 0;
    }
    if (strcmp(name, "signing_key") == 0) {
        resolve(l->home, v, c->signing_key, sizeof(c->signing_key));
        return 1;
    }
    snprintf(l->msg, sizeof(l->msg), "unknown key \"%s\" in [node]", name);
    return 0;
}

static int on_store(struct loader *l, const char *name, const char *v)
{
    struct node_config *c = l->cfg;

    if (strcmp(name, "backend") == 0)
        return set_string(l, "store.backend", v, c->store_backend, sizeof(c->store_backend));
    if (strcmp(name, "path") == 0) {
        resolve(l->home, v, c->store_path, sizeof(c->store_path));
        return 1;
    }
    if (strcmp(name, "audit_path") == 0) {
        resolve(l->home, v, c->audit_path, sizeof(c->audit_path));
        return 1;
    }
    if (strcmp(name, "dsn") == 0)
        return set_string(l, "store.dsn", v, c->store_dsn, sizeof(c->store_dsn));
    snprintf(l->msg, sizeof(l->msg), "unknown key \"%s\" in [store]", name);
    return 0;
}

/* Characters of a URL's host[:port] (an IPv6 address in brackets), and of
 * its path: what a base URL needs, nothing that would need escaping in JSON
 * or HTML, and no query, fragment or user info. */
#define URL_AUTHORITY "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]"
#define URL_PATH      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_~/%"

/* Checks a public_url ("https://host[:port][/path]") and stores it without
 * its trailing slashes. */
static int set_public_url(struct loader *l, const char *v)
{
    struct node_config *c = l->cfg;
    const char *rest = strncmp(v, "https://", 8) == 0  ? v + 8
                       : strncmp(v, "http://", 7) == 0 ? v + 7
                                                       : NULL;
    size_t host, n = strlen(v);

    if (v[0] == '\0') { /* derive it */
        c->public_url[0] = '\0';
        return 1;
    }
    if (!rest || n >= sizeof(c->public_url)) {
        snprintf(l->msg, sizeof(l->msg),
                 "server.public_url: must be http:// or https:// and a host, at most %d "
                 "characters",
                 NODE_URL_MAX - 1);
        return 0;
    }
    host = strcspn(rest, "/");
    if (host == 0 || rest[0] == ':' || strspn(rest, URL_AUTHORITY) < host ||
        strspn(rest + host, URL_PATH) != strlen(rest + host)) {
        snprintf(l->msg, sizeof(l->msg),
                 "server.public_url: \"%s\" is not scheme://host[:port][/path] (no query, "
                 "fragment or user)",
                 v);
        return 0;
    }
    while (n > (size_t)(rest - v) + host && v[n - 1] == '/')
        n--;
    snprintf(c->public_url, sizeof(c->public_url), "%.*s", (int)n, v);
    return 1;
}

int node_public_url(const struct node_config *cfg, const char *listen, unsigned port, int tls,
                    char *out, size_t cap)
{
    char host[256];
    const char *colon, *scheme = tls ? "https" : "http";
    char *end;
    unsigned long p;
    int n;

    if (cfg->public_url[0]) {
        n = snprintf(out, cap, "%s", cfg->public_url);
        return n < 0 || (size_t)n >= cap ? -1 : 0;
    }
    if (listen[0] == '[') {
        colon = strchr(listen, ']');
        if (!colon || colon[1] != ':')
            return -1;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen + 1), listen);
    } else {
        colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof(host))
            return -1;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    }
    if (port == 0) {
        errno = 0;
        p = strtoul(colon + (listen[0] == '[' ? 2 : 1), &end, 10);
        if (errno || *end || p > 65535)
            return -1;
        port = (unsigned)p;
    }
    if (strspn(host, URL_AUTHORITY) != strlen(host))
        return -1;
    /* a wildcard is no address to reach; the host name is what init's
     * certificate names besides the loopback ones */
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0) {
        if (gethostname(host, sizeof(host)) != 0)
            host[0] = '\0';
        host[sizeof(host) - 1] = '\0';
        if (!host[0] || strspn(host, URL_AUTHORITY) != strlen(host))
            snprintf(host, sizeof(host), "localhost");
    }
    n = snprintf(out, cap, "%s://%s:%u", scheme, host, port);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int on_server(struct loader *l, const char *name, const char *v)
{
    struct node_config *c = l->cfg;
    long x;

    if (strcmp(name, "listen") == 0)
        return set_string(l, "server.listen", v, c->listen, sizeof(c->listen));
    if (strcmp(name, "public_url") == 0)
        return set_public_url(l, v);
    if (strcmp(name, "threads") == 0) {
        if (parse_int(v, 1, 256, &x) == 0) {
            c->threads = (int)x;
            return 1;
        }
        snprintf(l->msg, sizeof(l->msg), "server.threads: must be a number from 1 to 256");
        return 0;
    }
    if (strcmp(name, "cache") == 0) {
        if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
            c->cache = strcmp(v, "on") == 0;
            return 1;
        }
        snprintf(l->msg, sizeof(l->msg), "server.cache: must be on or off");
        return 0;
    }
    if (strcmp(name, "tls") == 0) {
        if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
            c->tls = strcmp(v, "on") == 0;
            return 1;
        }
        snprintf(l->msg, sizeof(l->msg), "server.tls: must be on or off");
        return 0;
    }
    if (strcmp(name, "tls_cert") == 0) {
        resolve(l->home, v, c->tls_cert, sizeof(c->tls_cert));
        return 1;
    }
    if (strcmp(name, "tls_key") == 0) {
        resolve(l->home, v, c->tls_key, sizeof(c->tls_key));
        return 1;
    }
    if (strcmp(name, "log") == 0) {
        resolve(l->home, v, c->log_path, sizeof(c->log_path));
        return 1;
    }
    if (strcmp(name, "max_content_length") == 0) {
        if (parse_int(v, 1024, 1024L * 1024 * 1024, &x) == 0) {
            c->max_content_length = (uint64_t)x;
            return 1;
        }
        snprintf(l->msg, sizeof(l->msg),
                 "server.max_content_length: must be bytes from 1024 to 1073741824");
        return 0;
    }
    if (strcmp(name, "upload_budget") == 0) {
        if (parse_int(v, 1024, 16L * 1024 * 1024 * 1024, &x) == 0) {
            c->upload_budget = (uint64_t)x;
            return 1;
        }
        snprintf(l->msg, sizeof(l->msg),
                 "server.upload_budget: must be bytes from 1024 to 17179869184");
        return 0;
    }
    if (strcmp(name, "body_timeout") == 0) {
        if (parse_int(v, 1, 3600, &x) == 0) {
            c->body_timeout = (int)x;
            return 1;
        }
        snprintf(l->msg, sizeof(l->msg), "server.body_timeout: must be seconds from 1 to 3600");
        return 0;
    }
    snprintf(l->msg, sizeof(l->msg), "unknown key \"%s\" in [server]", name);
    return 0;
}

static int on_sync(struct loader *l, const char *name, const char *v)
{
    long x;

    if (strcmp(name, "interval") == 0) {
        if (parse_int(v, 5, 7 * 86400, &x) == 0) {
            l->cfg->sync_interval = (int)x;
            return 1;
        }
        snprintf(l->msg, sizeof(l->msg), "sync.interval: must be seconds from 5 to 604800");
        return 0;
    }
    snprintf(l->msg, sizeof(l->msg), "unknown key \"%s\" in [sync]", name);
    return 0;
}

static int on_audit(struct loader *l, const char *name, const char *v)
{
    if (strcmp(name, "syslog") == 0) {
        if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
            l->cfg->audit_syslog = strcmp(v, "on") == 0;
            return 1;
        }
        snprintf(l->msg, sizeof(l->msg), "audit.syslog: must be on or off");
        return 0;
    }
    snprintf(l->msg, sizeof(l->msg), "unknown key \"%s\" in [audit]", name);
    return 0;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    struct loader *l = user;

    if (l->msg[0])
        return 0;
    if (strcmp(section, "node") == 0)
        return on_node(l, name, value);
    if (strcmp(section, "store") == 0)
        return on_store(l, name, value);
    if (strcmp(section, "server") == 0)
        return on_server(l, name, value);
    if (strcmp(section, "sync") == 0)
        return on_sync(l, name, value);
    if (strcmp(section, "audit") == 0)
        return on_audit(l, name, value);
    snprintf(l->msg, sizeof(l->msg), "unknown section [%s]", section);
    return 0;
}

/* Where the store is, once every line is read. SQLite's store and audit
 * log are files in the home; PostgreSQL's are one database named by a DSN,
 * from store.dsn or from KIZUNA_DSN (which keeps a password out of the
 * file). When both are set they must agree: a stale variable in an
 * operator's shell must not quietly point a home at another database. */
static int finish_store(struct node_config *c, struct kz_error *err)
{
    const char *env = getenv("KIZUNA_DSN"), *dsn = c->store_dsn;

    if (strcmp(c->store_backend, "sqlite") == 0) {
        if (dsn[0])
            return kz_error_set(err, KZ_EINVALID,
                                "store.dsn: only for backend = postgresql (this store is sqlite)");
        return 0;
    }
    if (strcmp(c->store_backend, "postgresql") != 0)
        return kz_error_set(err, KZ_EINVALID, "store.backend: \"%s\" is not sqlite or postgresql",
                            c->store_backend);
    if (env && env[0]) {
        if (dsn[0] && strcmp(dsn, env) != 0)
            return kz_error_set(err, KZ_EINVALID,
                                "store.dsn and KIZUNA_DSN are both set and differ; keep one");
        dsn = env;
    }
    if (!dsn[0])
        return kz_error_set(err, KZ_EINVALID,
                            "store.backend = postgresql needs store.dsn or KIZUNA_DSN");
    if (strlen(dsn) >= sizeof(c->store_path))
        return kz_error_set(err, KZ_EINVALID, "KIZUNA_DSN: too long");
    snprintf(c->store_path, sizeof(c->store_path), "%s", dsn);
    snprintf(c->audit_path, sizeof(c->audit_path), "%s", dsn);
    return 0;
}

/* The outcome of ini_parse or ini_parse_string as an error. */
static int load_result(int rc, const struct loader *l, struct kz_error *err)
{
    if (rc == -1)
        return kz_error_set(err, KZ_EIO, "cannot read the configuration: %s", strerror(errno));
    if (rc == -2)
        return kz_error_set(err, KZ_ENOMEM, "out of memory reading the configuration");
    if (rc > 0)
        return kz_error_set(err, KZ_EINVALID, "line %d: %s", rc,
                            l->msg[0] ? l->msg : "not a valid INI line");
    return finish_store(l->cfg, err);
}

int node_config_load(const char *path, const char *home, struct node_config *cfg,
                     struct kz_error *err)
{
    struct loader l = {.cfg = cfg, .home = home};

    node_config_defaults(cfg, home);
    kz_error_file(err, path);
    if (load_result(ini_parse(path, on_entry, &l), &l, err) < 0)
        return -1;
    kz_error_file(err, "");
    return 0;
}

int node_config_parse(const char *text, const char *home, struct node_config *cfg,
                      struct kz_error *err)
{
    struct loader l = {.cfg = cfg, .home = home};

    node_config_defaults(cfg, home);
    return load_result(ini_parse_string(text, on_entry, &l), &l, err);
}

/* Every setting, where it lives in struct node_config, and whether a
 * running server takes a new value without a restart. Live ones are read
 * by the server through atomics (taxii_set_limits, http_set_limits) or a
 * lock (taxii_set_public_url); the others are fixed when it starts (the
 * address it listens on, its threads, TLS files, the store, the key, the
 * syncer's interval, the default marking policy/ applies). */
static const struct setting {
    const char *name;
    size_t off, size;
    int live;
    int text; /* a NUL-terminated string: compared up to its NUL */
} settings[] = {
#define SETTING(n, f, l, t)                                                                        \
    {                                                                                              \
        n, offsetof(struct node_config, f), sizeof(((struct node_config *)0)->f), l, t             \
    }
        SETTING("node.name", name, 0, 1),
        SETTING("node.default_marking", default_tlp, 0, 0),
        SETTING("node.signing_key", signing_key, 0, 1),
        SETTING("store.backend", store_backend, 0, 1),
        SETTING("store.path", store_path, 0, 1),
        SETTING("store.audit_path", audit_path, 0, 1),
        SETTING("store.dsn", store_dsn, 0, 1),
        SETTING("server.listen", listen, 0, 1),
        SETTING("server.public_url", public_url, 1, 1),
        SETTING("server.threads", threads, 0, 0),
        SETTING("server.tls", tls, 0, 0),
        SETTING("server.cache", cache, 1, 0),
        SETTING("server.tls_cert", tls_cert, 0, 1),
        SETTING("server.tls_key", tls_key, 0, 1),
        SETTING("server.log", log_path, 0, 1),
        SETTING("server.max_content_length", max_content_length, 1, 0),
        SETTING("server.upload_budget", upload_budget, 1, 0),
        SETTING("server.body_timeout", body_timeout, 1, 0),
        SETTING("sync.interval", sync_interval, 0, 0),
        SETTING("audit.syslog", audit_syslog, 0, 0),
#undef SETTING
};

static void add_name(char *out, size_t cap, const char *name)
{
    size_t n = strlen(out);

    if (n < cap)
        snprintf(out + n, cap - n, "%s%s", n ? ", " : "", name);
}

void node_config_diff(const struct node_config *a, const struct node_config *b, char *live,
                      size_t live_cap, char *restart, size_t restart_cap)
{
    live[0] = restart[0] = '\0';
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        const struct setting *st = &settings[i];
        const char *x = (const char *)a + st->off, *y = (const char *)b + st->off;
        if (st->text ? strncmp(x, y, st->size) == 0 : memcmp(x, y, st->size) == 0)
            continue;
        if (st->live)
            add_name(live, live_cap, st->name);
        else
            add_name(restart, restart_cap, st->name);
    }
}
