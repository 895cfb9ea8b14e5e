/*
 * libmicrohttpd glue: daemon setup, the per-request state machine (headers,
 * body, answer), access logging and the slow-sender watchdog.
 *
 * MHD decodes the URL itself with lenient rules (a %00 silently truncates,
 * %2F becomes a separator); kizuna instead takes the raw target from the
 * URI log callback and decodes it here: each path segment on its own,
 * refusing NUL, '/', control characters, invalid UTF-8 and dot segments.
 *
 * MHD cannot close a connection that is still sending its headers, so a
 * client dribbling one byte a second would hold a connection for as long as
 * MHD's memory limit allows. The watchdog thread tracks every connection and
 * shuts down the socket of one whose request headers are not complete
 * HTTP_HEADER_DEADLINE_S after it opened (or after its previous request).
 * It also closes one whose request body stalls: less than
 * HTTP_BODY_MIN_BYTES in a body timeout. Bodies in flight are charged to
 * their user's budget (HTTP_USER_INFLIGHT_MAX) while they are read and
 * handled, so that one account cannot hold the server's memory with many
 * large uploads at once.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/file.h"
#include "util/kztime.h"
#include "util/text.h"

/* One tracked connection (for the header deadline). */
struct conn {
    struct conn *prev, *next;
    int fd;
    int waiting;      /* 1 while its request headers are not complete */
    int64_t since_us; /* when it started waiting */
    int in_body;      /* 1 while its request body is being read */
    int64_t body_us;  /* when the body last brought HTTP_BODY_MIN_BYTES */
    uint64_t body_n;  /* bytes since then */
    int killed;
};

/* One user's request bodies in flight (while refs > 0). */
struct budget {
    struct budget *next;
    char user[128];
    uint64_t bytes;
    unsigned refs;
};

struct http_server {
    struct MHD_Daemon *d;
    const struct http_app *app;
    char *cert_pem, *key_pem;
    uint16_t port;
    int tls;
    pthread_mutex_t log_lock;
    FILE *log;
    char log_path[1024];
    pthread_mutex_t conn_lock;
    struct conn conns; /* list head */
    pthread_t watchdog;
    int watchdog_running;
    volatile int stopping;
    pthread_mutex_t budget_lock;
    struct budget *budgets;
    _Atomic uint64_t user_inflight_max; /* http_set_limits changes both live */
    _Atomic int64_t body_timeout_us;
};

struct http_request {
    struct http_server *srv;
    struct MHD_Connection *c;
    char *target;
    char method[16];
    const char *raw; /* MHD's read buffer: the request line, then the headers */
    char *segs[HTTP_MAX_SEGMENTS];
    int nsegs;
    int trailing_slash;
    struct http_param params[HTTP_MAX_PARAMS];
    int nparams;
    const struct http_route *route;
    const char *captures[HTTP_MAX_CAPTURES];
    int method_allowed; /* another method matches the path */
    char allow[64];     /* the methods that do, for a 405's Allow header */
    int started;
    int answered;
    int overflow;
    uint64_t max_body;
    uint64_t discarded;
    struct budget *budget; /* its user's, once charged */
    uint64_t charged;      /* bytes charged to it */
    int over_budget;
    struct kz_buf body;
    int status;
    size_t bytes;
    int64_t start_us;
    char user[128];
    char error[256]; /* the response's error note, for the access log */
    char peer[64];
    void *data;
    void (*data_free)(void *);
};

/* --- small helpers ------------------------------------------------------ */

void http_response_header(struct http_response *res, const char *name, const char *value)
{
    if (res->nheaders >= HTTP_MAX_RESPONSE_HEADERS)
        return;
    snprintf(res->headers[res->nheaders].name, sizeof(res->headers[0].name), "%s", name);
    snprintf(res->headers[res->nheaders].value, sizeof(res->headers[0].value), "%s", value);
    res->nheaders++;
}

/* The value of hex digit c, or -1. */
static int hexval(char c)
{
    return kz_is_hex((unsigned char)c) ? (int)kz_hexval((unsigned char)c) : -1;
}

/* Checks s[0..n) is valid UTF-8 (util/text.h's rules) without control
 * characters. */
static int clean_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = kz_utf8_decode(s + i, n - i, &cp);
        if (len == 0 || cp < 0x20 || cp == 0x7f)
            return 0;
        i += len;
    }
    return 1;
}

/* Percent-decodes p[0..n) into a new string; plus_space turns '+' into ' '
 * (query strings). NULL when an escape is malformed or the result holds NUL,
 * control characters or invalid UTF-8. */
static char *decode(const char *p, size_t n, int plus_space)
{
    char *out = malloc(n + 1);
    size_t w = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            hi = hexval(p[i + 1]);
            lo = hexval(p[i + 2]);
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[w++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (plus_space && p[i] == '+') {
            out[w++] = ' ';
        } else {
            out[w++] = p[i];
        }
    }
    out[w] = '\0';
    if (memchr(out, '\0', w) || !clean_utf8((const unsigned char *)out, w)) {
        free(out);
        return NULL;
    }
    return out;
}

static const char *parse_path(struct http_request *r, const char *p, size_t n)
{
    size_t i = 0;

    if (n == 0 || p[0] != '/')
        return "the request target must start with '/'";
    r->trailing_slash = p[n - 1] == '/';
    i = 1;
    while (i < n) {
        size_t j = i;
        char *seg;
        while (j < n && p[j] != '/')
            j++;
        if (j == i) /* "//": the trailing slash never gets here */
            return "empty path segment";
        if (r->nsegs >= HTTP_MAX_SEGMENTS)
            return "too many path segments";
        seg = decode(p + i, j - i, 0);
        if (!seg)
            return "bad percent-encoding or characters in the path";
        r->segs[r->nsegs++] = seg;
        if (strchr(seg, '/') || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
            return "path segments must not be '.', '..' or contain '/'";
        i = j + 1;
    }
    return NULL;
}

static const char *parse_query(struct http_request *r, const char *q, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i, eq;
        while (j < n && q[j] != '&')
            j++;
        if (j > i) {
            if (r->nparams >= HTTP_MAX_PARAMS)
                return "too many query parameters";
            eq = i;
            while (eq < j && q[eq] != '=')
                eq++;
            r->params[r->nparams].key = decode(q + i, eq - i, 1);
            r->params[r->nparams].value =
                    decode(q + (eq < j ? eq + 1 : j), eq < j ? j - eq - 1 : 0, 1);
            r->nparams++;
            if (!r->params[r->nparams - 1].key || !r->params[r->nparams - 1].value)
                return "bad percent-encoding or characters in the query";
        }
        i = j + 1;
    }
    return NULL;
}

static const char *parse_target(struct http_request *r)
{
    const char *t = r->target, *q;
    size_t n = strlen(t);
    const char *why;

    if (n > HTTP_MAX_TARGET)
        return "the request target is too long";
    q = memchr(t, '?', n);
    why = parse_path(r, t, q ? (size_t)(q - t) : n);
    if (why)
        return why;
    if (q)
        return parse_query(r, q + 1, n - (size_t)(q - t) - 1);
    return NULL;
}

/* Matches the parsed path against a pattern like "/{root}/collections/". */
static int match_pattern(struct http_request *r, const char *pattern, const char **caps)
{
    const char *p = pattern + 1;
    int seg = 0, ncap = 0;

    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (seg >= r->nsegs)
            return 0;
        if (p[0] == '{') {
            if (ncap < HTTP_MAX_CAPTURES)
                caps[ncap++] = r->segs[seg];
        } else if (strlen(r->segs[seg]) != len || memcmp(r->segs[seg], p, len) != 0) {
            return 0;
        }
        seg++;
        p += len;
        if (*p == '/')
            p++;
    }
    return seg == r->nsegs;
}

static void route(struct http_request *r)
{
    const char *caps[HTTP_MAX_CAPTURES];

    for (const struct http_route *rt = r->srv->app->routes; rt->method; rt++) {
        if (!match_pattern(r, rt->pattern, caps))
            continue;
        if (strcmp(rt->method, r->method) != 0) {
            size_t n = strlen(r->allow);
            r->method_allowed = 1;
            if (!strstr(r->allow, rt->method))
                snprintf(r->allow + n, sizeof(r->allow) - n, "%s%s", n ? ", " : "", rt->method);
            continue;
        }
        r->route = rt;
        memcpy(r->captures, caps, sizeof(caps));
        return;
    }
}

/* --- logging ------------------------------------------------------------ */

static int open_log(struct http_server *s, struct kz_error *err)
{
    FILE *f;

    if (strcmp(s->log_path, "-") == 0) {
        s->log = stderr;
        return 0;
    }
    f = fopen(s->log_path, "a");
    if (!f) {
        kz_error_file(err, s->log_path);
        return kz_error_set(err, KZ_EIO, "cannot open the access log: %s", strerror(errno));
    }
    setvbuf(f, NULL, _IOLBF, 0);
    s->log = f;
    return 0;
}

void http_set_limits(struct http_server *s, uint64_t user_inflight_max, int body_timeout_s)
{
    atomic_store(&s->user_inflight_max,
                 user_inflight_max ? user_inflight_max : (uint64_t)HTTP_USER_INFLIGHT_MAX);
    atomic_store(&s->body_timeout_us,
                 (int64_t)(body_timeout_s > 0 ? body_timeout_s : HTTP_BODY_TIMEOUT_S) * 1000000);
}

int http_reopen_log(struct http_server *s, struct kz_error *err)
{
    FILE *old;
    int rc;

    pthread_mutex_lock(&s->log_lock);
    old = s->log;
    rc = open_log(s, err);
    if (rc == 0 && old && old != stderr)
        fclose(old);
    else if (rc < 0)
        s->log = old; /* keep logging to the old file rather than nowhere */
    pthread_mutex_unlock(&s->log_lock);
    return rc;
}

static void log_request(struct http_request *r)
{
    struct http_server *s = r->srv;
    char ts[KZ_TS_MICROS_LEN];
    struct kz_buf b;
    int64_t now = kz_now_micros();

    kz_buf_init(&b, 4 * HTTP_MAX_TARGET);
    kz_ts_format_micros(now, ts);
    kz_buf_printf(&b, "{\"ts\":\"%s\",\"remote\":\"%s\",\"user\":\"", ts, r->peer);
    kz_buf_add_json_escaped(&b, r->user, strlen(r->user));
    kz_buf_addstr(&b, "\",\"method\":\"");
    kz_buf_add_json_escaped(&b, r->method, strlen(r->method));
    kz_buf_addstr(&b, "\",\"path\":\"");
    /* the raw target is untrusted and may hold any byte: escape all of them */
    for (const unsigned char *p = (const unsigned char *)(r->target ? r->target : ""); *p; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            kz_buf_printf(&b, "\\u%04x", *p);
        else
            kz_buf_addc(&b, (char)*p);
    }
    kz_buf_printf(&b, "\",\"status\":%d,\"bytes\":%zu,\"us\":%lld", r->status, r->bytes,
                  (long long)(now - r->start_us));
    if (r->error[0]) {
        kz_buf_addstr(&b, ",\"error\":\"");
        kz_buf_add_json_escaped_lossy(&b, r->error, strnlen(r->error, sizeof(r->error)));
        kz_buf_addc(&b, '"');
    }
    kz_buf_addstr(&b, "}\n");
    if (b.failed) {
        kz_buf_free(&b);
        return;
    }
    pthread_mutex_lock(&s->log_lock);
    if (s->log)
        fwrite(b.data, 1, b.len, s->log);
    pthread_mutex_unlock(&s->log_lock);
    kz_buf_free(&b);
}

/* --- connection tracking (the slow-sender watchdog) --------------------- */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;
    struct conn *k;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k = calloc(1, sizeof(*k));
        if (!k)
            return;
        k->fd = ci ? ci->connect_fd : -1;
        k->waiting = 1;
        k->since_us = kz_mono_micros();
        pthread_mutex_lock(&s->conn_lock);
        k->next = s->conns.next;
        k->prev = &s->conns;
        s->conns.next->prev = k;
        s->conns.next = k;
        pthread_mutex_unlock(&s->conn_lock);
        *socket_context = k;
        return;
    }
    k = *socket_context;
    if (!k)
        return;
    /* unlinked before MHD closes the socket, so the watchdog never shuts
     * down a descriptor that was reused by another connection */
    pthread_mutex_lock(&s->conn_lock);
    k->prev->next = k->next;
    k->next->prev = k->prev;
    pthread_mutex_unlock(&s->conn_lock);
    free(k);
    *socket_context = NULL;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

static void set_waiting(struct http_server *s, struct MHD_Connection *c, int waiting)
{
    struct conn *k = conn_of(c);

    if (!k)
        return;
    pthread_mutex_lock(&s->conn_lock);
    k->waiting = waiting;
    k->since_us = kz_mono_micros();
    pthread_mutex_unlock(&s->conn_lock);
}

/* Marks the connection's body as being read (on) or done, for the body
 * timeout. */
static void set_body(struct http_server *s, struct MHD_Connection *c, int on)
{
    struct conn *k = conn_of(c);

    if (!k)
        return;
    pthread_mutex_lock(&s->conn_lock);
    k->in_body = on;
    k->body_us = kz_mono_micros();
    k->body_n = 0;
    pthread_mutex_unlock(&s->conn_lock);
}

/* n more body bytes arrived: each HTTP_BODY_MIN_BYTES restarts the clock. */
static void body_progress(struct http_server *s, struct MHD_Connection *c, size_t n)
{
    struct conn *k = conn_of(c);

    if (!k)
        return;
    pthread_mutex_lock(&s->conn_lock);
    k->body_n += n;
    if (k->body_n >= HTTP_BODY_MIN_BYTES) {
        k->body_us = kz_mono_micros();
        k->body_n = 0;
    }
    pthread_mutex_unlock(&s->conn_lock);
}

/* Charges n more body bytes to the request's user (the name prepare set,
 * else the client's address). Refused (-1, nothing charged) when the user
 * has other bodies in flight and all would pass the budget; a request alone
 * is bounded by its max_body instead. */
static int budget_charge(struct http_request *r, uint64_t n)
{
    struct http_server *s = r->srv;
    const char *who = r->user[0] ? r->user : r->peer;
    struct budget *b;
    int rc = 0;

    pthread_mutex_lock(&s->budget_lock);
    b = r->budget;
    if (!b) {
        for (b = s->budgets; b && strcmp(b->user, who) != 0; b = b->next)
            ;
        if (!b) {
            b = calloc(1, sizeof(*b));
            if (!b) {
                pthread_mutex_unlock(&s->budget_lock);
                return -1;
            }
            snprintf(b->user, sizeof(b->user), "%s", who);
            b->next = s->budgets;
            s->budgets = b;
        }
        b->refs++;
        r->budget = b;
    }
    if (b->bytes > r->charged && b->bytes + n > s->user_inflight_max)
        rc = -1;
    else {
        b->bytes += n;
        r->charged += n;
    }
    pthread_mutex_unlock(&s->budget_lock);
    return rc;
}

/* Gives back what the request was charged, when it ends. */
static void budget_release(struct http_request *r)
{
    struct http_server *s = r->srv;
    struct budget *b = r->budget, **pp;

    if (!b)
        return;
    pthread_mutex_lock(&s->budget_lock);
    b->bytes -= r->charged;
    if (--b->refs == 0) {
        for (pp = &s->budgets; *pp != b; pp = &(*pp)->next)
            ;
        *pp = b->next;
        free(b);
    }
    pthread_mutex_unlock(&s->budget_lock);
    r->budget = NULL;
    r->charged = 0;
}

static void *watchdog(void *arg)
{
    struct http_server *s = arg;

    while (!s->stopping) {
        int64_t now = kz_mono_micros();
        pthread_mutex_lock(&s->conn_lock);
        for (struct conn *k = s->conns.next; k != &s->conns; k = k->next) {
            if (k->waiting && !k->killed && k->fd >= 0 &&
                now - k->since_us > (int64_t)HTTP_HEADER_DEADLINE_S * 1000000) {
                shutdown(k->fd, SHUT_RDWR);
                k->killed = 1;
            }
            if (k->in_body && !k->killed && k->fd >= 0 && now - k->body_us > s->body_timeout_us) {
                shutdown(k->fd, SHUT_RDWR);
                k->killed = 1;
            }
        }
        pthread_mutex_unlock(&s->conn_lock);
        for (int i = 0; i < 10 && !s->stopping; i++)
            usleep(100000);
    }
    return NULL;
}

/* --- the request cycle -------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct http_server *s = cls;
    struct http_request *r = calloc(1, sizeof(*r));
    const union MHD_ConnectionInfo *ci;

    if (!r)
        return NULL;
    r->srv = s;
    r->c = c;
    r->start_us = kz_now_micros();
    r->target = strdup(uri ? uri : "");
    r->status = 0;
    if (uri) {
        /* kizuna parses the query from its own copy. Blanking it in MHD's
         * buffer (writable: MHD passes a pointer into its read buffer) stops
         * MHD from parsing it too: a query of thousands of parameters would
         * otherwise overflow MHD's pool, and MHD's 431 for that is never
         * sent, leaving the client hanging. */
        char *q = strchr((char *)(uintptr_t)uri, '?');
        if (q)
            memset(q, 0, strlen(q));
    }
    kz_buf_init(&r->body, 0);
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->peer,
                      sizeof(r->peer));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      r->peer, sizeof(r->peer));
    }
    return r;
}

static void free_request(struct http_request *r)
{
    for (int i = 0; i < r->nsegs; i++)
        free(r->segs[i]);
    for (int i = 0; i < r->nparams; i++) {
        free(r->params[i].key);
        free(r->params[i].value);
    }
    if (r->data_free)
        r->data_free(r->data);
    budget_release(r);
    kz_buf_free(&r->body);
    free(r->target);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_request *r = *con_cls;

    (void)toe;
    if (!r)
        return;
    if (r->started)
        log_request(r);
    set_body(s, c, 0);
    set_waiting(s, c, 1);
    free_request(r);
    *con_cls = NULL;
}

static enum MHD_Result send_response(struct http_request *r, struct http_response *res)
{
    struct MHD_Response *m;
    size_t len = 0;
    char *body;
    enum MHD_Result ok;

    if (res->shared) {
        len = res->shared_len;
        m = MHD_create_response_from_buffer_with_free_callback_cls(
                len, (void *)(uintptr_t)res->shared, res->shared_free, res->shared_cls);
        if (!m) {
            res->shared_free(res->shared_cls);
            return MHD_NO;
        }
        kz_buf_free(&res->body);
    } else {
        body = kz_buf_steal(&res->body, &len);
        m = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!m) {
            free(body);
            return MHD_NO;
        }
    }
    if (res->content_type)
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    for (int i = 0; i < res->nheaders; i++)
        MHD_add_response_header(m, res->headers[i].name, res->headers[i].value);
    ok = MHD_queue_response(r->c, (unsigned)res->status, m);
    MHD_destroy_response(m);
    r->status = res->status;
    memcpy(r->error, res->error, sizeof(r->error));
    r->bytes = len;
    r->answered = 1;
    return ok;
}

static void init_response(struct http_response *res)
{
    memset(res, 0, sizeof(*res));
    res->status = 500;
    kz_buf_init(&res->body, (size_t)1 << 31);
}

static void refuse_over_budget(struct http_request *r, struct http_response *res)
{
    struct http_server *s = r->srv;

    if (s->app->over_budget) {
        s->app->over_budget(s->app->ctx, r, res);
        return;
    }
    res->status = 429;
    res->content_type = "text/plain";
    kz_buf_addstr(&res->body, "too many uploads in flight for this user\n");
}

static enum MHD_Result first_call(struct http_request *r, const char *method)
{
    struct http_server *s = r->srv;
    struct http_response res;
    const char *why, *cl;
    enum MHD_Result ok;

    r->started = 1;
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->raw = method;
    set_waiting(s, r->c, 0);
    init_response(&res);
    why = parse_target(r);
    if (why) {
        s->app->bad_target(s->app->ctx, r, &res, why);
        return send_response(r, &res);
    }
    route(r);
    if (s->app->prepare(s->app->ctx, r, r->route, &res, &r->max_body)) {
        ok = send_response(r, &res);
        kz_buf_free(&res.body);
        return ok;
    }
    cl = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && r->route && (r->route->flags & HTTP_ROUTE_BODY)) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        /* a declared length over the cap is refused before reading a byte */
        if (*end == '\0' && n > r->max_body) {
            s->app->too_large(s->app->ctx, r, &res);
            return send_response(r, &res);
        }
        /* so is one the user's budget cannot take now */
        if (*end == '\0' && budget_charge(r, n) < 0) {
            refuse_over_budget(r, &res);
            return send_response(r, &res);
        }
    }
    r->body.max = r->max_body;
    kz_buf_free(&res.body);
    set_body(s, r->c, 1);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_request *r = *con_cls;
    struct http_response res;

    (void)c;
    (void)url;
    (void)version;
    if (!r)
        return MHD_NO; /* out of memory at the URI callback */
    if (r->answered)
        return MHD_YES;
    if (!r->started)
        return first_call(r, method);
    if (*upload_data_size) {
        int takes_body = r->route && (r->route->flags & HTTP_ROUTE_BODY);
        body_progress(s, r->c, *upload_data_size);
        if (takes_body && !r->overflow) {
            uint64_t total = r->body.len + *upload_data_size;
            if (total > r->charged && budget_charge(r, total - r->charged) < 0) {
                r->overflow = r->over_budget = 1;
                kz_buf_free(&r->body);
            } else if (total > r->max_body ||
                       kz_buf_add(&r->body, upload_data, *upload_data_size) < 0) {
                r->overflow = 1;
                kz_buf_free(&r->body);
            }
        }
        if (!takes_body || r->overflow) {
            r->discarded += *upload_data_size;
            if (r->discarded > HTTP_DISCARD_MAX)
                return MHD_NO; /* a client that will not stop sending: hang up */
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    set_body(s, r->c, 0);
    init_response(&res);
    if (r->over_budget)
        refuse_over_budget(r, &res);
    else if (r->overflow)
        s->app->too_large(s->app->ctx, r, &res);
    else
        r->route->handler(s->app->ctx, r, &res);
    /* the body is done with: its memory and budget go before the answer
     * does, so that a client's next upload never meets its own last one */
    kz_buf_free(&r->body);
    budget_release(r);
    return send_response(r, &res);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *s = cls;
    char msg[512];
    char ts[KZ_TS_MICROS_LEN];
    struct kz_buf b;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    kz_ts_format_micros(kz_now_micros(), ts);
    kz_buf_init(&b, 2048);
    kz_buf_printf(&b, "{\"ts\":\"%s\",\"event\":\"http\",\"message\":\"", ts);
    kz_buf_add_json_escaped(&b, msg, strlen(msg));
    kz_buf_addstr(&b, "\"}\n");
    pthread_mutex_lock(&s->log_lock);
    if (s->log && !b.failed)
        fwrite(b.data, 1, b.len, s->log);
    pthread_mutex_unlock(&s->log_lock);
    kz_buf_free(&b);
}

/* --- starting and stopping ---------------------------------------------- */

/* A port as the listen address writes it: 1 to 65535 in decimal digits
 * (getaddrinfo would take 70000 as 4464, and 0 as any port). */
static int parse_port(const char *s)
{
    unsigned long v = 0;
    size_t n = 0;

    for (; s[n] >= '0' && s[n] <= '9' && n < 6; n++)
        v = v * 10 + (unsigned long)(s[n] - '0');
    if (n == 0 || s[n] != '\0' || v < 1 || v > 65535)
        return -1;
    return (int)v;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
                        struct kz_error *err)
{
    char host[256];
    const char *colon, *port;
    struct addrinfo hints, *ai = NULL;
    int rc;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return kz_error_set(err, KZ_EUSAGE, "listen address \"%s\" is not [ADDR]:PORT", listen);
        snprintf(host, sizeof(host), "%.*s", (int)(close - listen - 1), listen + 1);
        port = close + 2;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return kz_error_set(err, KZ_EUSAGE, "listen address \"%s\" is not ADDR:PORT", listen);
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
        port = colon + 1;
    }
    if (parse_port(port) < 0)
        return kz_error_set(err, KZ_EUSAGE,
                            "listen address \"%s\": the port must be a number from 1 to 65535",
                            listen);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc != 0 || !ai)
        return kz_error_set(err, KZ_EUSAGE, "cannot use listen address \"%s\": %s", listen,
                            gai_strerror(rc));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int http_is_loopback(const char *listen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct kz_error err;

    if (parse_listen(listen, &ss, &len, &err) < 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&ss;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

static struct MHD_Daemon *start_daemon(struct http_server *s, unsigned flags,
                                       struct sockaddr_storage *ss, int threads)
{
    struct MHD_OptionItem ops[20];
    int n = 0;

    /* the logger first, so that MHD never prints on its own */
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ss};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s};
    ops[n++] =
            (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads > 0 ? threads : 1, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, HTTP_MAX_CONNECTIONS, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, HTTP_IDLE_TIMEOUT_S, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL};
    /* the request line and headers must fit; MHD answers 414/431 past it */
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONN_MEMORY, NULL};
    if (s->tls) {
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                           (void *)"NORMAL:-VERS-TLS1.0:-VERS-TLS1.1"};
    }
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, ops,
                            MHD_OPTION_END);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void free_server(struct http_server *s)
{
    if (s->log && s->log != stderr)
        fclose(s->log);
    free(s->cert_pem);
    free(s->key_pem);
    pthread_mutex_destroy(&s->log_lock);
    pthread_mutex_destroy(&s->conn_lock);
    pthread_mutex_destroy(&s->budget_lock);
    free(s);
}

static int load_tls(struct http_server *s, const struct http_options *o, struct kz_error *err)
{
    size_t n;

    if (!o->tls_cert || !o->tls_cert[0])
        return 0;
    if (!o->tls_key || !o->tls_key[0])
        return kz_error_set(err, KZ_EUSAGE, "a TLS certificate needs its key (--tls-key)");
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
        return kz_error_set(err, KZ_EINTERNAL, "this libmicrohttpd was built without TLS");
    if (kz_read_file(o->tls_cert, 1 << 20, &s->cert_pem, &n, err) < 0 ||
        kz_read_file(o->tls_key, 1 << 20, &s->key_pem, &n, err) < 0)
        return -1;
    s->tls = 1;
    return 0;
}

struct http_server *http_start(const struct http_options *o, const struct http_app *app,
                               struct kz_error *err)
{
    struct http_server *s;
    struct sockaddr_storage ss;
    socklen_t sslen;
    unsigned flags =
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *di;
    FILE *log_file;

    if (parse_listen(o->listen, &ss, &sslen, err) < 0)
        return NULL;
    if ((!o->tls_cert || !o->tls_cert[0]) && !http_is_loopback(o->listen)) {
        kz_error_set(err, KZ_EUSAGE,
                     "refusing plain HTTP on %s: only loopback addresses may serve without "
                     "TLS; give --tls-cert and --tls-key (kizuna init made a self-signed pair "
                     "in the home's tls/ folder)",
                     o->listen);
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    s->app = app;
    s->conns.next = s->conns.prev = &s->conns;
    pthread_mutex_init(&s->log_lock, NULL);
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_mutex_init(&s->budget_lock, NULL);
    s->user_inflight_max = o->user_inflight_max ? o->user_inflight_max : HTTP_USER_INFLIGHT_MAX;
    s->body_timeout_us =
            (int64_t)(o->body_timeout_s > 0 ? o->body_timeout_s : HTTP_BODY_TIMEOUT_S) * 1000000;
    snprintf(s->log_path, sizeof(s->log_path), "%s", o->log_path ? o->log_path : "-");
    if (open_log(s, err) < 0 || load_tls(s, o, err) < 0)
        goto fail;
    if (s->tls)
        flags |= MHD_USE_TLS;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    raise_fd_limit();
    /* libmicrohttpd's start-up errors (a port in use) must not reach the
     * log file, which may be the running node's that holds the port: the
     * error returned below says what failed */
    log_file = s->log;
    s->log = NULL;
    s->d = start_daemon(s, flags, &ss, o->threads);
    pthread_mutex_lock(&s->log_lock);
    s->log = log_file;
    pthread_mutex_unlock(&s->log_lock);
    if (!s->d) {
        kz_error_set(err, KZ_EIO, "cannot listen on %s: %s", o->listen,
                     errno ? strerror(errno) : "the HTTP server failed to start");
        goto fail;
    }
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    if (pthread_create(&s->watchdog, NULL, watchdog, s) == 0)
        s->watchdog_running = 1;
    return s;
fail:
    if (s->d)
        MHD_stop_daemon(s->d);
    free_server(s);
    return NULL;
}

void http_stop(struct http_server *s)
{
    int64_t deadline = kz_mono_micros() + (int64_t)HTTP_DRAIN_TIMEOUT_S * 1000000;
    const union MHD_DaemonInfo *di;

    if (!s)
        return;
    MHD_quiesce_daemon(s->d);
    while (kz_mono_micros() < deadline) {
        int busy = 0;
        pthread_mutex_lock(&s->conn_lock);
        for (struct conn *k = s->conns.next; k != &s->conns; k = k->next)
            if (!k->waiting)
                busy = 1;
        pthread_mutex_unlock(&s->conn_lock);
        di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!busy || !di || di->num_connections == 0)
            break;
        usleep(20000);
    }
    s->stopping = 1;
    if (s->watchdog_running)
        pthread_join(s->watchdog, NULL);
    MHD_stop_daemon(s->d);
    free_server(s);
}

uint16_t http_port(const struct http_server *s)
{
    return s->port;
}

/* --- request accessors -------------------------------------------------- */

const char *http_request_method(const struct http_request *r)
{
    return r->method;
}

const char *http_request_target(const struct http_request *r)
{
    return r->target;
}

const char *http_request_capture(const struct http_request *r, int i)
{
    return i >= 0 && i < HTTP_MAX_CAPTURES ? r->captures[i] : NULL;
}

/* Where the nearest header line after `after` starts (its key). */
struct next_line {
    const char *after;
    const char *next;
};

static enum MHD_Result nearest_key(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct next_line *nl = cls;

    (void)kind;
    (void)key_size;
    (void)value;
    (void)value_size;
    if ((uintptr_t)key > (uintptr_t)nl->after && (uintptr_t)key < (uintptr_t)nl->next)
        nl->next = key;
    return MHD_YES;
}

/* Whether header value v[0..n) was cut short by a NUL byte. MHD parses the
 * request line and headers in place in its read buffer (on_uri relies on
 * this too) and ends a value at its first NUL, so "Bearer TOKEN\0junk" would
 * read as "Bearer TOKEN". What follows a value up to the next header line,
 * or the end of the headers, is its line's end, which MHD overwrote with
 * NULs (and blanks it trimmed); anything else is the rest of a value that
 * held a NUL. A value that cannot be placed in the header block counts as
 * cut: the check fails closed. */
static int value_cut(const struct http_request *r, const char *v, size_t n)
{
    const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    uintptr_t start = (uintptr_t)r->raw, end, p;
    struct next_line nl;

    if (!ci || !r->raw || ci->header_size == 0)
        return 1;
    end = start + ci->header_size;
    if ((uintptr_t)v < start || (uintptr_t)v + n >= end)
        return 1;
    nl.after = v + n;
    nl.next = (const char *)end;
    MHD_get_connection_values_n(r->c, MHD_HEADER_KIND, nearest_key, &nl);
    for (p = (uintptr_t)v + n; p < (uintptr_t)nl.next; p++) {
        char ch = *(const char *)p;
        if (ch != '\0' && ch != ' ' && ch != '\t')
            return 1;
    }
    return 0;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
    const char *v = NULL;
    size_t n = 0;

    if (MHD_lookup_connection_value_n(r->c, MHD_HEADER_KIND, name, strlen(name), &v, &n) !=
                MHD_YES ||
        !v)
        return NULL;
    /* a value that held a NUL counts as not sent: no C string carries it,
     * and its cut-off head must not pass for the whole */
    if (memchr(v, '\0', n) || value_cut(r, v, n))
        return NULL;
    return v;
}

const struct http_param *http_request_params(const struct http_request *r, int *n)
{
    *n = r->nparams;
    return r->params;
}

const char *http_request_body(const struct http_request *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data;
}

const char *http_request_peer(const struct http_request *r)
{
    return r->peer;
}

int http_request_tls(const struct http_request *r)
{
    return r->srv->tls;
}

int http_request_method_allowed(const struct http_request *r)
{
    return r->method_allowed;
}

const char *http_request_allow(const struct http_request *r)
{
    return r->allow;
}

void http_request_set_user(struct http_request *r, const char *user)
{
    snprintf(r->user, sizeof(r->user), "%s", user);
}

void http_request_set_data(struct http_request *r, void *data, void (*free_fn)(void *))
{
    r->data = data;
    r->data_free = free_fn;
}

void *http_request_data(const struct http_request *r)
{
    return r->data;
}
