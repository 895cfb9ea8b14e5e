/*
 * A self-signed server certificate made with GnuTLS, the TLS library that
 * libmicrohttpd uses on Debian, so the server can load what init writes.
 */
#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VALID_DAYS 825

static int write_new(const char *path, const void *data, size_t n, mode_t mode,
                     struct kz_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

    kz_error_file(err, path);
    if (fd < 0)
        return kz_error_set(err, errno == EEXIST ? KZ_EEXISTS : KZ_EIO, "cannot create: %s",
                            strerror(errno));
    if (write(fd, data, n) != (ssize_t)n || fsync(fd) < 0) {
        kz_error_set(err, KZ_EIO, "cannot write: %s", strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    kz_error_file(err, "");
    return 0;
}

static int add_names(gnutls_x509_crt_t crt)
{
    static const unsigned char v4[4] = {127, 0, 0, 1};
    static const unsigned char v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    char host[256];

    if (gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                             GNUTLS_FSAN_APPEND) < 0 ||
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v4, sizeof(v4),
                                             GNUTLS_FSAN_APPEND) < 0 ||
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v6, sizeof(v6),
                                             GNUTLS_FSAN_APPEND) < 0)
        return -1;
    if (gethostname(host, sizeof(host)) == 0) {
        host[sizeof(host) - 1] = '\0';
        if (strcmp(host, "localhost") != 0 && host[0])
            gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host,
                                                 (unsigned)strlen(host), GNUTLS_FSAN_APPEND);
    }
    return 0;
}

int tls_selfsigned_create(const char *cert_path, const char *key_path, const char *common_name,
                          struct kz_error *err)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t kpem = {NULL, 0}, cpem = {NULL, 0};
    unsigned char serial[16];
    time_t now = time(NULL);
    int rc = -1;

    if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_crt_init(&crt) < 0 ||
        gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
        kz_error_set(err, KZ_EINTERNAL, "cannot generate a TLS key");
        goto out;
    }
    randombytes_buf(serial, sizeof(serial));
    serial[0] &= 0x7f; /* a positive serial number */
    if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
        gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
        gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
        gnutls_x509_crt_set_expiration_time(crt, now + (time_t)VALID_DAYS * 86400) < 0 ||
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, common_name,
                                      (unsigned)strlen(common_name)) < 0 ||
        add_names(crt) < 0 || gnutls_x509_crt_set_key(crt, key) < 0 ||
        gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
        gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0 ||
        gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0) {
        kz_error_set(err, KZ_EINTERNAL, "cannot build the TLS certificate");
        goto out;
    }
    if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kpem) < 0 ||
        gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem) < 0) {
        kz_error_set(err, KZ_EINTERNAL, "cannot export the TLS credentials");
        goto out;
    }
    if (write_new(key_path, kpem.data, kpem.size, 0600, err) < 0)
        goto out;
    if (write_new(cert_path, cpem.data, cpem.size, 0644, err) < 0) {
        unlink(key_path);
        goto out;
    }
    rc = 0;
out:
    if (kpem.data) {
        sodium_memzero(kpem.data, kpem.size);
        gnutls_free(kpem.data);
    }
    gnutls_free(cpem.data);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return rc;
}
