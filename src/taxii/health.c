/*
 * GET /healthz: what a load balancer or a monitoring system asks, without a
 * token. It answers 200 with {"status": "ok"} when this server can read its
 * store, 503 when it cannot, and lists for each federation peer when its
 * last sync round succeeded and whether the latest round failed. It tells
 * nothing about content or accounts, and never a peer's URL or error text
 * (those may name hosts): `kizuna peer list` on the node says more.
 */
#include "taxii/taxii_int.h"

#include <string.h>

#include "store/store_peers.h"
#include "util/kztime.h"

#define HEALTH_TYPE "application/json"

struct health_ctx {
    struct kz_buf *b;
    unsigned n;
};

static void add_time(struct kz_buf *b, const char *key, int64_t us)
{
    char ts[KZ_TS_MICROS_LEN];

    kz_buf_printf(b, ",\"%s\":", key);
    if (us <= 0) {
        kz_buf_addstr(b, "null");
        return;
    }
    kz_ts_format_micros(us, ts);
    kz_buf_printf(b, "\"%s\"", ts);
}

static int add_peer(void *ctx, const struct store_peer *p)
{
    struct health_ctx *h = ctx;

    kz_buf_addstr(h->b, h->n++ ? ",{\"name\":\"" : "{\"name\":\"");
    kz_buf_add_json_escaped(h->b, p->name, strlen(p->name));
    kz_buf_addc(h->b, '"');
    add_time(h->b, "last_success", p->last_success_us);
    add_time(h->b, "last_failure", p->last_error_us);
    kz_buf_printf(h->b, ",\"ok\":%s}", p->last_error_us > p->last_success_us ? "false" : "true");
    return 0;
}

static void unavailable(struct http_response *res, const struct kz_error *err)
{
    kz_buf_reset(&res->body);
    res->status = 503;
    res->content_type = HEALTH_TYPE;
    kz_buf_addstr(&res->body, "{\"status\":\"unavailable\",\"store\":\"");
    kz_buf_add_json_escaped(&res->body, err->text, strlen(err->text));
    kz_buf_addstr(&res->body, "\"}\n");
}

void taxii_get_health(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct kz_error err;
    struct store *s;
    struct health_ctx h = {.b = &res->body};

    (void)req;
    kz_error_clear(&err);
    s = taxii_store(t, &err);
    if (!s) {
        unavailable(res, &err);
        return;
    }
    kz_buf_addstr(&res->body, "{\"status\":\"ok\",\"store\":\"ok\",\"peers\":[");
    /* reading the peers is the store check: it needs the database open and
     * readable */
    if (store_peer_each(s, add_peer, &h, &err) < 0) {
        unavailable(res, &err);
        return;
    }
    kz_buf_addstr(&res->body, "]}\n");
    res->status = 200;
    res->content_type = HEALTH_TYPE;
    http_response_header(res, "Cache-Control", "no-store");
}
