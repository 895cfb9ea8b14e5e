/*
 * Creating and opening a node's home. Creation is all or nothing: every
 * file is made with O_EXCL (nothing existing is ever overwritten) and, when
 * a step fails, what this call made is removed again so that a retry starts
 * clean.
 */
#include "node/node.h"

#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/token.h"
#include "sign/sign.h"
#include "store/store.h"
#include "store/store_accounts.h"
#include "store/store_objects.h"
#include "tls/tls.h"

#define CONF_NAME        "kizuna.conf"
#define DEFAULT_API_ROOT "default"

struct node {
    char home[NODE_PATH_MAX];
    struct node_config cfg;
    struct store *store;
};

const char *node_home_default(const char *flag)
{
    const char *env = getenv("KIZUNA_HOME");

    if (flag && flag[0])
        return flag;
    if (env && env[0])
        return env;
    return "./kizuna-home";
}

static const char conf_template[] =
        "# kizuna node configuration (INI). Relative paths are relative to this folder.\n"
        "# Every key is listed in the README; unknown keys are refused.\n"
        "\n"
        "[node]\n"
        "name = %s\n"
        "# The marking an object without a TLP marking is treated as:\n"
        "# clear, green, amber, amber+strict or red. Never treated as clear by default.\n"
        "default_marking = amber\n"
        "signing_key = signing.key\n"
        "\n"
        "[store]\n"
        "%s"
        "\n"
        "[server]\n"
        "# Plain HTTP is allowed on loopback only; any other address needs TLS\n"
        "# (tls = on, or --tls-cert and --tls-key on the command line).\n"
        "listen = 127.0.0.1:8470\n"
        "threads = 4\n"
        "tls = off\n"
        "tls_cert = tls/node.crt\n"
        "tls_key = tls/node.key\n"
        "# One line per request; '-' logs to standard error.\n"
        "log = kizuna.log\n"
        "max_content_length = 104857600\n"
        "\n"
        "[sync]\n"
        "interval = 300\n"
        "\n"
        "[audit]\n"
        "# Also copy each audit row to syslog (facility authpriv) as it is written.\n"
        "syslog = off\n";

static const char store_sqlite_template[] =
        "backend = sqlite\n"
        "path = kizuna.db\n"
        "# The audit log lives in a database of its own: its steady trickle of\n"
        "# writes must not invalidate the server's caches of objects.\n"
        "audit_path = audit.db\n";

static const char store_pg_template[] =
        "backend = postgresql\n"
        "# A libpq connection string (key=value pairs or a postgresql:// URI).\n"
        "# Keep the password out of this file: in ~/.pgpass (or PGPASSFILE), or\n"
        "# give the whole string in KIZUNA_DSN instead of here. The audit log is\n"
        "# in the same database.\n"
        "%s%s\n";

/* The [store] section of a new kizuna.conf. */
static int store_section(const struct node_init *how, char *out, size_t cap)
{
    int n;

    if (!how->backend || strcmp(how->backend, "sqlite") == 0)
        n = snprintf(out, cap, "%s", store_sqlite_template);
    else if (how->dsn)
        n = snprintf(out, cap, store_pg_template, "dsn = ", how->dsn);
    else
        n = snprintf(out, cap, store_pg_template, "# dsn: taken from KIZUNA_DSN", "");
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int write_config(const char *path, const struct node_init *how, struct kz_error *err)
{
    char store[sizeof(store_pg_template) + NODE_PATH_MAX + 64];
    char text[sizeof(conf_template) + sizeof(store) + KZ_MAX_NAME + 16];
    int n = store_section(how, store, sizeof(store)) < 0
                    ? -1
                    : snprintf(text, sizeof(text), conf_template, how->name, store);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);

    kz_error_file(err, path);
    if (fd < 0)
        return kz_error_set(err, errno == EEXIST ? KZ_EEXISTS : KZ_EIO, "cannot create: %s",
                            strerror(errno));
    if (n < 0 || write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
        kz_error_set(err, KZ_EIO, "cannot write: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    kz_error_file(err, "");
    return 0;
}

static int check_name(const char *name, struct kz_error *err)
{
    size_t n = strlen(name);

    if (n == 0 || n > KZ_MAX_NAME)
        return kz_error_set(err, KZ_EUSAGE, "a node name must have 1 to %d characters",
                            KZ_MAX_NAME);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return kz_error_set(err, KZ_EUSAGE, "a node name must not hold control characters");
    return 0;
}

/* Makes the home folder, or accepts an existing empty one. *made tells the
 * caller whether to remove the folder on failure. */
static int make_home(const char *home, int *made, struct kz_error *err)
{
    struct stat sb;
    char conf[NODE_PATH_MAX + 32];

    *made = 0;
    kz_error_file(err, home);
    if (mkdir(home, 0750) == 0) {
        *made = 1;
        kz_error_file(err, "");
        return 0;
    }
    if (errno != EEXIST)
        return kz_error_set(err, KZ_EIO, "cannot create the home folder: %s", strerror(errno));
    if (stat(home, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return kz_error_set(err, KZ_EEXISTS, "exists and is not a folder");
    snprintf(conf, sizeof(conf), "%s/" CONF_NAME, home);
    if (access(conf, F_OK) == 0)
        return kz_error_set(err, KZ_EEXISTS,
                            "already holds a node; kizuna init never overwrites one");
    if (access(home, W_OK) < 0)
        return kz_error_set(err, KZ_EIO, "cannot write to the home folder: %s", strerror(errno));
    kz_error_file(err, "");
    return 0;
}

static int seed_store(struct store *st, char *token, size_t cap, struct kz_error *err)
{
    struct store_api_root root = {.name = DEFAULT_API_ROOT,
                                  .title = "kizuna default API root",
                                  .max_content_length = 100u * 1024 * 1024};
    struct store_org org = {.name = "local", .kind = "cert"};
    struct store_user admin = {.name = "admin", .role = "node-admin"};
    struct store_token tok;
    char text[AUTH_TOKEN_MAX];

    if (store_begin(st, err) < 0)
        return -1;
    if (store_api_root_add(st, &root, err) < 0 || store_org_add(st, &org, err) < 0)
        goto fail;
    admin.org = org.key;
    if (store_user_add(st, &admin, err) < 0)
        goto fail;
    auth_token_generate(admin.key, text, &tok);
    if (store_token_add(st, &tok, err) < 0 || store_commit(st, err) < 0)
        goto fail;
    snprintf(token, cap, "%s", text);
    sodium_memzero(text, sizeof(text));
    return 0;
fail:
    store_rollback(st);
    return -1;
}

/* Checks where a new node's store is to be: a known backend, and for
 * PostgreSQL a DSN (given, or in KIZUNA_DSN) that survives a round trip
 * through kizuna.conf: one line, no control characters, no " ;" or " #"
 * that the INI reader would cut as a comment. */
static int check_store(const struct node_init *how, struct kz_error *err)
{
    const char *dsn = how->dsn, *env = getenv("KIZUNA_DSN");

    if (!how->backend || strcmp(how->backend, "sqlite") == 0) {
        if (dsn)
            return kz_error_set(err, KZ_EUSAGE, "--dsn is for --store postgresql");
        return 0;
    }
    if (strcmp(how->backend, "postgresql") != 0)
        return kz_error_set(err, KZ_EUSAGE, "--store: \"%s\" is not sqlite or postgresql",
                            how->backend);
    if (!dsn && !(env && env[0]))
        return kz_error_set(
                err, KZ_EUSAGE,
                "--store postgresql needs --dsn DSN (or KIZUNA_DSN in the environment)");
    if (!dsn)
        return 0;
    if (!dsn[0] || strlen(dsn) >= NODE_PATH_MAX || strlen(dsn) > KZ_MAX_CONFIG_VALUE)
        return kz_error_set(err, KZ_EUSAGE, "--dsn: must have 1 to %d characters",
                            KZ_MAX_CONFIG_VALUE);
    for (const char *p = dsn; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return kz_error_set(err, KZ_EUSAGE, "--dsn: must not hold control characters");
    if (strstr(dsn, " ;") || strstr(dsn, " #") || dsn[0] == ' ' || dsn[strlen(dsn) - 1] == ' ')
        return kz_error_set(err, KZ_EUSAGE,
                            "--dsn: \" ;\", \" #\" and outer spaces do not survive kizuna.conf");
    return 0;
}

/* A PostgreSQL database that already holds a node's store: a second
 * server of that node copies the first one's home (its signing key is the
 * node's identity), it does not make a new node over the same data. */
static int check_empty_store(struct store *st, struct kz_error *err)
{
    struct store_api_root root;
    struct kz_error e2;

    kz_error_clear(&e2);
    if (store_api_root_find(st, DEFAULT_API_ROOT, &root, &e2) == 0)
        return kz_error_set(err, KZ_EEXISTS,
                            "the database already holds a kizuna store; to add a server to that "
                            "node, copy its home (kizuna.conf, signing.key, tls/) instead");
    if (e2.code != KZ_ENOTFOUND) {
        *err = e2;
        return -1;
    }
    return 0;
}

static void remove_made(const char *home, const struct node_config *cfg, int made_home)
{
    char p[NODE_PATH_MAX + 32];

    snprintf(p, sizeof(p), "%s/" CONF_NAME, home);
    unlink(p);
    unlink(cfg->signing_key);
    unlink(cfg->tls_cert);
    unlink(cfg->tls_key);
    snprintf(p, sizeof(p), "%s/tls", home);
    rmdir(p);
    if (strcmp(cfg->store_backend, "sqlite") != 0) { /* a database, not files here */
        if (made_home)
            rmdir(home);
        return;
    }
    unlink(cfg->store_path);
    snprintf(p, sizeof(p), "%s-wal", cfg->store_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", cfg->store_path);
    unlink(p);
    unlink(cfg->audit_path);
    if (made_home)
        rmdir(home);
}

int node_create(const char *home, const struct node_init *how, char *token, size_t cap,
                struct kz_error *err)
{
    struct node_config cfg;
    struct store *st = NULL;
    char conf[NODE_PATH_MAX + 32], tlsdir[NODE_PATH_MAX + 32];
    int made_home = 0, started = 0;

    if (check_name(how->name, err) < 0 || check_store(how, err) < 0)
        return -1;
    if (strlen(home) >= NODE_PATH_MAX - 64)
        return kz_error_set(err, KZ_EUSAGE, "the home path is too long");
    if (make_home(home, &made_home, err) < 0)
        return -1;
    started = 1;
    snprintf(conf, sizeof(conf), "%s/" CONF_NAME, home);
    node_config_defaults(&cfg, home);
    if (write_config(conf, how, err) < 0 || node_config_load(conf, home, &cfg, err) < 0)
        goto fail;
    if (how->dsn && strcmp(cfg.store_dsn, how->dsn) != 0) {
        kz_error_set(err, KZ_EINTERNAL, "the DSN did not survive kizuna.conf");
        goto fail;
    }
    snprintf(cfg.tls_cert, sizeof(cfg.tls_cert), "%s/tls/node.crt", home);
    snprintf(cfg.tls_key, sizeof(cfg.tls_key), "%s/tls/node.key", home);
    snprintf(tlsdir, sizeof(tlsdir), "%s/tls", home);
    /* the store first: a database that cannot be reached or already holds
     * a node stops here, before keys are made */
    st = store_open(cfg.store_backend, cfg.store_path, 1, err);
    if (!st || check_empty_store(st, err) < 0)
        goto fail;
    if (sign_keygen(cfg.signing_key, err) < 0)
        goto fail;
    if (mkdir(tlsdir, 0750) < 0) {
        kz_error_file(err, tlsdir);
        kz_error_set(err, KZ_EIO, "cannot create: %s", strerror(errno));
        goto fail;
    }
    if (tls_selfsigned_create(cfg.tls_cert, cfg.tls_key, how->name, err) < 0 ||
        seed_store(st, token, cap, err) < 0)
        goto fail;
    store_close(st);
    return 0;
fail:
    store_close(st);
    if (started)
        remove_made(home, &cfg, made_home);
    return -1;
}

struct node *node_open(const char *home, struct kz_error *err)
{
    struct node *n;
    char conf[NODE_PATH_MAX + 32];
    struct stat sb;

    if (strlen(home) >= NODE_PATH_MAX - 64) {
        kz_error_set(err, KZ_EUSAGE, "the home path is too long");
        return NULL;
    }
    snprintf(conf, sizeof(conf), "%s/" CONF_NAME, home);
    if (stat(conf, &sb) < 0) {
        kz_error_file(err, home);
        kz_error_set(err, KZ_ENOTFOUND,
                     "no kizuna node here (run `kizuna --home %s init` to create one)", home);
        return NULL;
    }
    n = calloc(1, sizeof(*n));
    if (!n) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(n->home, sizeof(n->home), "%s", home);
    if (node_config_load(conf, home, &n->cfg, err) < 0)
        goto fail;
    n->store = store_open(n->cfg.store_backend, n->cfg.store_path, 0, err);
    if (!n->store)
        goto fail;
    return n;
fail:
    free(n);
    return NULL;
}

void node_close(struct node *n)
{
    if (!n)
        return;
    store_close(n->store);
    free(n);
}

const struct node_config *node_config(const struct node *n)
{
    return &n->cfg;
}

struct store *node_store(struct node *n)
{
    return n->store;
}

const char *node_home(const struct node *n)
{
    return n->home;
}

int node_config_reread(const struct node *n, struct node_config *out, struct kz_error *err)
{
    char conf[NODE_PATH_MAX + 16];

    snprintf(conf, sizeof(conf), "%s/" CONF_NAME, n->home);
    return node_config_load(conf, n->home, out, err);
}
