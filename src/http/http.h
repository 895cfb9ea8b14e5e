/*
 * The HTTP(S) server under the TAXII API, over libmicrohttpd: a pool of
 * worker threads on epoll, TLS from PEM files, a route table, strict parsing
 * of the raw request target (the path and query are decoded here once, by
 * rules stricter than MHD's), bodies read with a cap enforced while reading,
 * one JSON access-log line per request, a deadline for slow senders, and a
 * graceful stop that lets in-flight requests finish.
 *
 * The application (taxii/) provides a table of routes and two hooks per
 * request: `prepare`, called when the headers are in (it may answer at once,
 * e.g. 401 or 413, before any body is read) and the route's handler, called
 * with the whole body.
 */
#ifndef KZ_HTTP_H
#define KZ_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/limits.h"

struct http_request;

struct http_param {
    char *key;   /* decoded, NUL-terminated */
    char *value; /* decoded, NUL-terminated */
};

/* What a handler fills in. The body is sent with Content-Length. */
struct http_response {
    int status;
    const char *content_type;
    struct {
        char name[48];
        char value[160];
    } headers[HTTP_MAX_RESPONSE_HEADERS];
    int nheaders;
    struct kz_buf body;
    /* instead of body: a buffer shared with others, released by calling
     * shared_free(shared_cls) once sent */
    const char *shared;
    size_t shared_len;
    void (*shared_free)(void *);
    void *shared_cls;
    /* why the node failed the request (a 5xx), for the access log only:
     * never sent to the client; "" when there is nothing to say */
    char error[256];
};

/* Adds a response header; silently ignored past HTTP_MAX_RESPONSE_HEADERS. */
void http_response_header(struct http_response *res, const char *name, const char *value);

typedef void (*http_handler_fn)(void *app, struct http_request *req, struct http_response *res);

#define HTTP_ROUTE_BODY 1 /* the route takes a request body */

struct http_route {
    const char *method;  /* "GET", "POST", "DELETE" */
    const char *pattern; /* "/taxii2/", "/{root}/collections/{coll}/objects/" */
    http_handler_fn handler;
    unsigned flags;
    const char *name; /* for logs and tests */
};

/* The application's side of the server. */
struct http_app {
    const struct http_route *routes; /* ends with a NULL method */
    void *ctx;
    /* Called once the headers are in and a route matched (route may be NULL:
     * no route matched the path, or none with this method, see
     * http_request_method_allowed). Returns 1 when it answered (res filled),
     * 0 to go on. Sets *max_body for routes that take a body. */
    int (*prepare)(void *ctx, struct http_request *req, const struct http_route *route,
                   struct http_response *res, uint64_t *max_body);
    /* The answer when a body passes *max_body. */
    void (*too_large)(void *ctx, struct http_request *req, struct http_response *res);
    /* The answer when the user's request bodies in flight would pass the
     * budget (NULL: a plain 429). */
    void (*over_budget)(void *ctx, struct http_request *req, struct http_response *res);
    /* The answer for a request target that cannot be parsed. */
    void (*bad_target)(void *ctx, struct http_request *req, struct http_response *res,
                       const char *why);
};

struct http_options {
    const char *listen;   /* "ADDR:PORT", "[v6]:PORT" */
    const char *tls_cert; /* PEM file, NULL/"" for plain HTTP */
    const char *tls_key;
    int threads;
    const char *log_path;       /* access log; "-" for stderr */
    uint64_t user_inflight_max; /* 0: HTTP_USER_INFLIGHT_MAX */
    int body_timeout_s;         /* 0: HTTP_BODY_TIMEOUT_S */
};

struct http_server;

/* Starts serving. Refuses plain HTTP on a non-loopback address. */
struct http_server *http_start(const struct http_options *opts, const struct http_app *app,
                               struct kz_error *err);

/* Stops accepting, waits up to HTTP_DRAIN_TIMEOUT_S for in-flight requests,
 * then stops the workers and frees the server. */
void http_stop(struct http_server *s);

/* Reopens the access log (after logrotate moved it). */
int http_reopen_log(struct http_server *s, struct kz_error *err);

/* Changes one user's budget of bodies in flight and the body timeout of a
 * running server (a configuration reload); 0 means the default, as in
 * http_options. */
void http_set_limits(struct http_server *s, uint64_t user_inflight_max, int body_timeout_s);

/* The port actually bound (useful with port 0). */
uint16_t http_port(const struct http_server *s);

/* Whether addr ("127.0.0.1", "::1", "localhost", ...) is a loopback one. */
int http_is_loopback(const char *listen);

/* --- reading a request -------------------------------------------------- */

const char *http_request_method(const struct http_request *req);
/* The raw target as received (for logs; escape before printing). */
const char *http_request_target(const struct http_request *req);
/* The {placeholder} values of the matched route, in order. */
const char *http_request_capture(const struct http_request *req, int i);
/* A request header, or NULL (also when its value holds a NUL byte). */
const char *http_request_header(const struct http_request *req, const char *name);
/* All decoded query parameters. */
const struct http_param *http_request_params(const struct http_request *req, int *n);
/* The body (NULL, 0 when none). */
const char *http_request_body(const struct http_request *req, size_t *len);
/* The client's address as text. */
const char *http_request_peer(const struct http_request *req);
/* Whether the connection is TLS. */
int http_request_tls(const struct http_request *req);
/* Whether another method than the request's matches this path (for 405). */
int http_request_method_allowed(const struct http_request *req);
/* The methods that path takes, e.g. "GET, POST" (for a 405's Allow). */
const char *http_request_allow(const struct http_request *req);
/* The user name to log for this request (set by the application). */
void http_request_set_user(struct http_request *req, const char *user);
/* Application data attached to the request (freed by free_fn at the end). */
void http_request_set_data(struct http_request *req, void *data, void (*free_fn)(void *));
void *http_request_data(const struct http_request *req);

#endif
