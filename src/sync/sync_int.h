/*
 * Internals of sync/: the peer HTTP client (client.c) and the round logic
 * (sync.c).
 */
#ifndef KZ_SYNC_INT_H
#define KZ_SYNC_INT_H

#include "store/store_peers.h"
#include "sync/sync.h"
#include "util/buf.h"

struct peer_client {
    char name[KZ_MAX_NAME + 1]; /* the peer's, for the hints of errors */
    char token[STORE_PEER_TOKEN_MAX];
    char user[STORE_PEER_USER_MAX]; /* HTTP Basic with the token as password; "" Bearer */
    char ca[1024];
    int once; /* no retries: `peer check` reports what one try saw */
};

struct peer_response {
    long status;
    struct kz_buf body;  /* capped at SYNC_MAX_PAGE_BYTES */
    char added_last[64]; /* X-TAXII-Date-Added-Last */
    char signature[128]; /* X-Kizuna-Signature */
    char nonce[48];      /* X-Kizuna-Nonce sent with the request, "" when none */
    int too_large;       /* the body passed SYNC_MAX_PAGE_BYTES: not retried */
    int not_loopback;    /* plain http connected to a non-loopback address */
    int transport;       /* libcurl's code of a failed attempt, 0 when it got an answer */
};

/* A partner's audit head as GET {root}kizuna/audit-head/ answers it
 * (docs/FEDERATION.md): {"seq", "hash", "seen": {"seq", "hash" or null}}.
 * The text comes from a peer: -1 for anything else. */
struct sync_audit_head {
    int64_t seq, seen_seq;
    unsigned char hash[STORE_AUDIT_HASH_LEN], seen_hash[STORE_AUDIT_HASH_LEN];
    int seen_found;
};
int sync_audit_head_parse(const char *text, size_t len, struct sync_audit_head *a);

/* A request with retries (SYNC_RETRIES, exponential backoff with jitter) on
 * transport failures and 5xx answers. body (POST) may be NULL. Returns 0
 * with r filled for any answer below 500. */
int peer_request(struct peer_client *c, const char *method, const char *url, const char *body,
                 size_t len, int want_sig, struct peer_response *r, struct kz_error *err);

/* The TAXII error resource (TAXII 2.1, 3.6.1) of an answer's body, as
 * "title: description", bounded and made printable (it comes from a peer);
 * "" when the body is not one. */
void peer_taxii_error(const char *body, size_t len, char *out, size_t cap);

/* Sets err for an answer with an unwanted status: the method, the URL
 * without its query, the status, the peer's TAXII error, and on 401 what
 * to do about the credentials. Returns -1. */
int peer_status_error(const struct peer_client *c, const char *method, const char *url,
                      const struct peer_response *r, struct kz_error *err);

/* What a transport failure (libcurl's code) means for an operator: a TLS
 * certificate or CA problem, a refused connection, a timeout; NULL when
 * there is nothing more to say than libcurl's message. */
const char *peer_transport_hint(int code);

/* Percent-encodes s for a URL (caller frees). */
char *peer_escape(const char *s);

#endif
