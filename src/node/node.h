/*
 * A node's home: the folder holding its configuration (kizuna.conf, INI),
 * its store, its Ed25519 signing key and its TLS certificate. node_create
 * makes a new home; node_open reads the configuration and opens the store.
 * Relative paths in kizuna.conf are relative to the home.
 */
#ifndef KZ_NODE_H
#define KZ_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "stix/stix.h"
#include "util/error.h"
#include "util/limits.h"

#define NODE_PATH_MAX 1024
#define NODE_URL_MAX  256 /* the node's public base URL, with its NUL */

struct node_config {
    char name[KZ_MAX_NAME + 1];      /* [node] name */
    enum stix_tlp default_tlp;       /* [node] default_marking, for unmarked objects */
    char store_backend[32];          /* [store] backend: sqlite or postgresql */
    char store_path[NODE_PATH_MAX];  /* [store] path (resolved); postgresql: the DSN */
    char audit_path[NODE_PATH_MAX];  /* [store] audit_path (resolved); postgresql: the DSN */
    char store_dsn[NODE_PATH_MAX];   /* [store] dsn as the file gives it, "" for none */
    char listen[128];                /* [server] listen, ADDR:PORT */
    char public_url[NODE_URL_MAX];   /* [server] public_url, "" to derive from the listen address */
    int threads;                     /* [server] threads */
    int tls;                         /* [server] tls = on|off */
    int cache;                       /* [server] cache = on|off: the response cache */
    char tls_cert[NODE_PATH_MAX];    /* [server] tls_cert (resolved), "" for none */
    char tls_key[NODE_PATH_MAX];     /* [server] tls_key (resolved) */
    char log_path[NODE_PATH_MAX];    /* [server] log (resolved), "-" for stderr */
    uint64_t max_content_length;     /* [server] max_content_length, bytes */
    uint64_t upload_budget;          /* [server] upload_budget: one user's bodies in flight */
    int body_timeout;                /* [server] body_timeout, seconds */
    int sync_interval;               /* [sync] interval, seconds */
    int audit_syslog;                /* [audit] syslog = on|off: copy rows to syslog */
    char signing_key[NODE_PATH_MAX]; /* [node] signing_key (resolved) */
};

struct node;

/* Where the home is: --home, else $KIZUNA_HOME, else ./kizuna-home. */
const char *node_home_default(const char *flag);

/* What a new node is made with: its name, and where its store lives:
 * backend NULL or "sqlite" (a file in the home), or "postgresql" with dsn
 * (a libpq connection string; NULL to take it from KIZUNA_DSN when the
 * node starts, so that no password need sit in kizuna.conf). */
struct node_init {
    const char *name;
    const char *backend;
    const char *dsn;
};

/* Creates a new home at `home`: the folder, the configuration, the store
 * with the "default" API root, the organisation "local", the user "admin"
 * (node-admin), a TLS certificate and the signing key. Writes the admin's
 * new API token (shown once, stored only as a hash) into token[0..cap).
 * Refuses (KZ_EEXISTS) when the home already holds a node, or when the
 * PostgreSQL database already holds a node's store (a second server of the
 * same node gets a copy of the first one's home instead); removes what it
 * made when it fails half-way. */
int node_create(const char *home, const struct node_init *how, char *token, size_t cap,
                struct kz_error *err);

/* Opens an existing home. NULL with err set when there is none. */
struct node *node_open(const char *home, struct kz_error *err);

/* Closes the node and its store. Accepts NULL. */
void node_close(struct node *n);

const struct node_config *node_config(const struct node *n);
struct store *node_store(struct node *n);
const char *node_home(const struct node *n);

/* Reads and checks a configuration file into cfg, resolving relative paths
 * against home. Unknown sections or keys are errors (a typo must not
 * silently fall back to a default). */
int node_config_load(const char *path, const char *home, struct node_config *cfg,
                     struct kz_error *err);

/* The same from a NUL-terminated text (tests, fuzzing). */
int node_config_parse(const char *text, const char *home, struct node_config *cfg,
                      struct kz_error *err);

/* Reads the home's kizuna.conf again into out, as node_open did (a
 * reload: the node's own configuration is not touched). */
int node_config_reread(const struct node *n, struct node_config *out, struct kz_error *err);

/* Names the settings whose values differ between a and b, comma-separated
 * ("server.cache, server.listen"), in two lists: those a running server
 * applies live (server.max_content_length, upload_budget, body_timeout,
 * cache, public_url) and those that take a restart (everything else).
 * Either list is "" when none differ. */
void node_config_diff(const struct node_config *a, const struct node_config *b, char *live,
                      size_t live_cap, char *restart, size_t restart_cap);

/* The defaults node_config_load starts from. */
void node_config_defaults(struct node_config *cfg, const char *home);

/* The base URL clients reach the node at, for the URLs it advertises
 * (TAXII discovery): [server] public_url when set; else the scheme (https
 * with tls) and the address serving, listen (ADDR:PORT) with port, the port
 * actually bound (0: listen's); a wildcard address (0.0.0.0, ::) stands for
 * the machine's host name. Never anything a client sent. -1 when listen
 * cannot be read or the URL does not fit in out[0..cap). */
int node_public_url(const struct node_config *cfg, const char *listen, unsigned port, int tls,
                    char *out, size_t cap);

#endif
