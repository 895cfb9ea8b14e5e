/*
 * The node's TLS credentials: `kizuna init` writes a self-signed certificate
 * (ECDSA P-256, SHA-256, valid 825 days, names localhost, 127.0.0.1, ::1 and
 * the host's name) so that HTTPS works out of the box; operators replace it
 * with one from their CA by pointing tls_cert/tls_key elsewhere.
 */
#ifndef KZ_TLS_H
#define KZ_TLS_H

#include "util/error.h"

/* Writes a new key (mode 0600) and self-signed certificate for common_name.
 * Refuses to overwrite either file. */
int tls_selfsigned_create(const char *cert_path, const char *key_path, const char *common_name,
                          struct kz_error *err);

#endif
