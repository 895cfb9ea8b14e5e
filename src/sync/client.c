/*
 * The HTTP client federation talks to peers with: libcurl with timeouts,
 * a cap on response size, the TAXII headers kizuna reads, retries with
 * exponential backoff and jitter, and HTTPS unless the peer is on loopback.
 */
#include "sync/sync_int.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/store_peers.h"
#include "util/limits.h"

/* Set when the process shuts down: transfers in flight and retries end now
 * rather than at their timeouts (a hung peer would hold a drain 5 minutes). */
static atomic_int cancelled;

int sync_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void sync_cancel(int on)
{
    atomic_store(&cancelled, on);
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)ctx, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load(&cancelled); /* non-zero aborts the transfer */
}

/* Whether an address in text form ("127.0.0.1", "::1") is a loopback one.
 * Names are not addresses: "127.evil.example" is not one. */
static int addr_is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

/* A host that may be reached over plain HTTP: a loopback address, or
 * "localhost", which libcurl resolves to loopback itself without asking
 * DNS. Anything else would need DNS, which an attacker may answer. */
static int host_is_loopback(const char *host)
{
    char inner[64];
    size_t n = strlen(host);

    if (strcmp(host, "localhost") == 0)
        return 1;
    if (n > 2 && n < sizeof(inner) + 2 && host[0] == '[' && host[n - 1] == ']') {
        snprintf(inner, sizeof(inner), "%.*s", (int)(n - 2), host + 1);
        return addr_is_loopback(inner);
    }
    return addr_is_loopback(host);
}

/* Before a plain-HTTP request is sent: the address actually connected to
 * must be a loopback one (a second check, after the URL's). */
static int on_prereq(void *ctx, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    struct peer_response *r = ctx;

    (void)local_ip, (void)primary_port, (void)local_port;
    if (addr_is_loopback(primary_ip))
        return CURL_PREREQFUNC_OK;
    r->not_loopback = 1;
    return CURL_PREREQFUNC_ABORT;
}

int sync_url_ok(const char *url, struct kz_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
    int ok = 0;

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        /* credentials in a URL end up in logs, `peer list` and the audit
         * log: they are given apart, and such a URL is not repeated here */
        int creds = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
                    curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK;
        if (strcmp(scheme, "https") == 0)
            ok = 1;
        else if (strcmp(scheme, "http") == 0 && host_is_loopback(host))
            ok = 1;
        else
            kz_error_set(err, KZ_EUSAGE,
                         "peer URL %s: use https (plain http only to a loopback address)",
                         creds ? "(with credentials, not shown)" : url);
        if (ok && creds) {
            ok = 0;
            kz_error_set(err, KZ_EUSAGE,
                         "the peer URL has credentials in it (user:password@host): give the "
                         "URL without them, the user name with --user and the password or "
                         "token with --token-file");
        }
    } else {
        kz_error_set(err, KZ_EUSAGE, "peer URL %s is not a URL", url);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    if (password)
        sodium_memzero(password, strlen(password));
    curl_free(password);
    curl_url_cleanup(u);
    return ok ? 0 : -1;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct peer_response *r = ctx;

    if (kz_buf_add(&r->body, p, size * n) < 0) {
        r->too_large = 1;
        return 0; /* past SYNC_MAX_PAGE_BYTES: curl aborts the transfer */
    }
    return size * n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);

    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    line += k + 1;
    n -= k + 1;
    while (n && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
        n--;
    snprintf(out, cap, "%.*s", (int)n, line);
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct peer_response *r = ctx;

    header_value(p, size * n, "X-TAXII-Date-Added-Last", r->added_last, sizeof(r->added_last));
    header_value(p, size * n, "X-Kizuna-Signature", r->signature, sizeof(r->signature));
    return size * n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* "Authorization: Bearer TOKEN", or "Authorization: Basic BASE64" of
 * "user:token" (RFC 7617) for servers that know only Basic (medallion).
 * The line is wiped by the caller. */
#define AUTH_HEADER_MAX                                                                            \
    (32 + sodium_base64_ENCODED_LEN(STORE_PEER_USER_MAX + STORE_PEER_TOKEN_MAX,                    \
                                    sodium_base64_VARIANT_ORIGINAL))

static int auth_header(const struct peer_client *c, char *out, size_t cap)
{
    char pair[STORE_PEER_USER_MAX + STORE_PEER_TOKEN_MAX + 1];
    char b64[sodium_base64_ENCODED_LEN(sizeof(pair), sodium_base64_VARIANT_ORIGINAL)];
    int n;

    if (!c->user[0]) {
        n = snprintf(out, cap, "Authorization: Bearer %s", c->token);
        return n < 0 || (size_t)n >= cap ? -1 : 0;
    }
    n = snprintf(pair, sizeof(pair), "%s:%s", c->user, c->token);
    if (n < 0 || (size_t)n >= sizeof(pair)) {
        sodium_memzero(pair, sizeof(pair));
        return -1;
    }
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)pair, (size_t)n,
                      sodium_base64_VARIANT_ORIGINAL);
    n = snprintf(out, cap, "Authorization: Basic %s", b64);
    sodium_memzero(pair, sizeof(pair));
    sodium_memzero(b64, sizeof(b64));
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* One attempt. Returns 0 with r filled (any HTTP status), -1 on a
 * transport failure with err set. */
static int attempt(struct peer_client *c, const char *method, const char *url, const char *body,
                   size_t len, int want_sig, struct peer_response *r, struct kz_error *err)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char auth[AUTH_HEADER_MAX], errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc;
    int ret = -1;

    if (!h)
        return kz_error_set(err, KZ_ENOMEM, "cannot start an HTTP request");
    kz_buf_reset(&r->body);
    r->added_last[0] = r->signature[0] = r->nonce[0] = '\0';
    r->status = 0;
    r->too_large = r->not_loopback = r->transport = 0;
    if (auth_header(c, auth, sizeof(auth)) < 0) {
        curl_easy_cleanup(h);
        return kz_error_set(err, KZ_ELIMIT, "the peer's user name and token are too long");
    }
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Accept: application/taxii+json;version=2.1");
    if (body)
        hdr = curl_slist_append(hdr, "Content-Type: application/taxii+json;version=2.1");
    if (want_sig) {
        /* a fresh nonce per request: the page signed for it cannot be
         * replayed for another (kizuna-sig-v2, FEDERATION.md) */
        unsigned char raw[16];
        char line[sizeof(r->nonce) + 32];
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(r->nonce, sizeof(r->nonce), raw, sizeof(raw));
        snprintf(line, sizeof(line), "X-Kizuna-Nonce: %s", r->nonce);
        hdr = curl_slist_append(hdr, "X-Kizuna-Want-Signature: v2");
        hdr = curl_slist_append(hdr, line);
    }
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kizuna/" KZ_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)SYNC_CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)SYNC_TOTAL_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)SYNC_STALL_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    /* a declared length over the cap is refused before the body comes */
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SYNC_MAX_PAGE_BYTES);
    if (strncasecmp(url, "http://", 7) == 0) {
        curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
        curl_easy_setopt(h, CURLOPT_PREREQDATA, r);
    }
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    if (c->ca[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    rc = curl_easy_perform(h);
    r->transport = (int)rc;
    if (rc == CURLE_FILESIZE_EXCEEDED)
        r->too_large = 1;
    if (rc != CURLE_OK && r->too_large) {
        kz_error_set(err, KZ_ELIMIT,
                     "%s %s: the response is larger than the cap on a peer's page (%u MiB)", method,
                     url, SYNC_MAX_PAGE_BYTES >> 20);
        goto out;
    }
    if (rc != CURLE_OK) {
        kz_error_set(err, KZ_EIO, "%s %s: %s", method, url,
                     r->not_loopback ? "plain http reached an address that is not loopback"
                     : rc == CURLE_ABORTED_BY_CALLBACK ? "cancelled: the node is stopping"
                     : errbuf[0]                       ? errbuf
                                                       : curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    ret = 0;
out:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    sodium_memzero(auth, sizeof(auth));
    return ret;
}

int peer_request(struct peer_client *c, const char *method, const char *url, const char *body,
                 size_t len, int want_sig, struct peer_response *r, struct kz_error *err)
{
    long backoff = SYNC_BACKOFF_MS;

    for (int i = 0;; i++) {
        int rc = attempt(c, method, url, body, len, want_sig, r, err);
        /* retry what may pass next time: the network and the server's own
         * troubles; never a 4xx, which will not change */
        if (rc == 0 && r->status < 500)
            return 0;
        /* a page over the cap will be as large next time: fetched once */
        if (rc < 0 && r->too_large)
            return -1;
        if (rc == 0)
            peer_status_error(c, method, url, r, err);
        if (i >= SYNC_RETRIES || c->once || atomic_load(&cancelled))
            return -1;
        sleep_ms(backoff / 2 + (long)randombytes_uniform((uint32_t)backoff));
        backoff *= 2;
    }
}

char *peer_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = e ? strdup(e) : NULL;

    curl_free(e);
    return copy;
}

/* Copies at most cap-1 bytes of a peer's text, each byte outside printable
 * ASCII as '?': the text reaches terminals, logs and /healthz. */
static void printable(const char *in, char *out, size_t cap)
{
    size_t i = 0;

    for (; in && *in && i + 1 < cap; in++)
        out[i++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
    out[i] = '\0';
}

void peer_taxii_error(const char *body, size_t len, char *out, size_t cap)
{
    char title[SYNC_ERROR_TITLE_MAX + 1], desc[SYNC_ERROR_DESCRIPTION_MAX + 1];
    json_error_t jerr;
    json_t *j;
    const char *t, *d;

    out[0] = '\0';
    if (!body || len == 0 || len > SYNC_MAX_ERROR_BODY)
        return;
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    t = json_string_value(json_object_get(j, "title"));
    d = json_string_value(json_object_get(j, "description"));
    /* title is the one property the error resource requires */
    if (json_is_object(j) && t) {
        printable(t, title, sizeof(title));
        printable(d, desc, sizeof(desc));
        snprintf(out, cap, "%s%s%s", title, desc[0] ? ": " : "", desc);
    }
    json_decref(j);
}

int peer_status_error(const struct peer_client *c, const char *method, const char *url,
                      const struct peer_response *r, struct kz_error *err)
{
    char taxii[SYNC_ERROR_TITLE_MAX + SYNC_ERROR_DESCRIPTION_MAX + 8], hint[KZ_MAX_NAME + 256] = "";
    char head[400];
    const char *q = strchr(url, '?');
    int ulen = q ? (int)(q - url) : (int)strlen(url);
    /* the round's report keeps 500 characters: the peer's words are cut
     * before the hint is */
    int room;

    peer_taxii_error(r->body.data, r->body.len, taxii, sizeof(taxii));
    if (r->status == 401)
        snprintf(hint, sizeof(hint),
                 "; the peer refused the credentials (sent as %s): replace them with `kizuna "
                 "peer credentials %s --token-file FILE` and --user NAME (HTTP Basic: "
                 "medallion) or --bearer (kizuna, OpenTAXII)",
                 c->user[0] ? "HTTP Basic" : "Bearer", c->name[0] ? c->name : "PEER");
    else if (r->status == 403)
        snprintf(hint, sizeof(hint),
                 "; the credentials were accepted, but the peer's account "
                 "may not do this (ask the peer for a grant)");
    snprintf(head, sizeof(head), "%s %.*s: HTTP %ld", method, ulen > 200 ? 200 : ulen, url,
             r->status);
    room = 500 - (int)strlen(head) - (int)strlen(hint) - 2;
    if (room < 0)
        room = 0;
    return kz_error_set(err, KZ_EIO, "%s%s%.*s%s", head, taxii[0] ? ": " : "", room, taxii, hint);
}

const char *peer_transport_hint(int code)
{
    switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
        return "TLS: the peer's certificate is not trusted (a self-signed one needs --ca "
               "with its certificate or CA), or it is not valid for the URL's host name";
    case CURLE_SSL_CACERT_BADFILE:
        return "TLS: the CA file given with --ca cannot be read or holds no certificate";
    case CURLE_SSL_CONNECT_ERROR:
        return "TLS: the handshake failed (is the peer serving https on that port?)";
    case CURLE_COULDNT_RESOLVE_HOST: return "the peer's host name does not resolve";
    case CURLE_COULDNT_CONNECT:
        return "the connection was refused: nothing listens at the URL's host and port";
    case CURLE_OPERATION_TIMEDOUT: return "the peer did not answer in time";
    case CURLE_GOT_NOTHING:
        return "the peer closed the connection without answering (https to an http port?)";
    default: return NULL;
    }
}
