/*
 * Benchmark of signing a page: the in-process key (sign_key_sign_text)
 * against the signer process (sign_signer_sign_text, the text sent over a
 * socketpair), for texts of a few sizes. Prints the median of ROUNDS runs
 * per size, in microseconds, and the signer's overhead in percent, then the
 * fastest run of each (on a busy machine the signer also waits to be
 * scheduled: the minimum shows the cost of the transport itself).
 *
 *   bench_sign [ROUNDS]
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sign/sign.h"
#include "util/kztime.h"

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int64_t median(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {1024, 64 << 10, 1 << 20, 8 << 20};
    int rounds = argc > 1 ? atoi(argv[1]) : 21;
    char dir[] = "/tmp/kz-bench-sign-XXXXXX", path[64], sig[SIGN_TEXT_MAX];
    struct kz_error err;
    struct sign_signer *s;
    struct sign_key *k;
    unsigned char *buf;
    int64_t *a, *b;

    if (sodium_init() < 0 || rounds < 1 || !mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/signing.key", dir);
    kz_error_clear(&err);
    if (sign_keygen(path, &err) < 0)
        return 1;
    /* the signer first: fork before anything else */
    s = sign_signer_start(path, &err);
    k = sign_key_open(path, &err);
    buf = malloc(sizes[3]);
    a = calloc((size_t)rounds, sizeof(*a));
    b = calloc((size_t)rounds, sizeof(*b));
    if (!s || !k || !buf || !a || !b)
        return 1;
    randombytes_buf(buf, sizes[3]);
    printf("%10s %14s %14s %9s %10s %10s\n", "bytes", "in-process us", "signer us", "overhead",
           "min in-p", "min signer");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int r = 0; r < rounds; r++) {
            int64_t t0 = kz_mono_micros();
            sign_key_sign_text(k, buf, sizes[i], sig);
            int64_t t1 = kz_mono_micros();
            if (sign_signer_sign_text(s, buf, sizes[i], sig, &err) < 0)
                return 1;
            a[r] = t1 - t0;
            b[r] = kz_mono_micros() - t1;
        }
        int64_t ma = median(a, rounds), mb = median(b, rounds);
        printf("%10zu %14lld %14lld %8.1f%% %10lld %10lld\n", sizes[i], (long long)ma,
               (long long)mb, ma ? 100.0 * (double)(mb - ma) / (double)ma : 0.0, (long long)a[0],
               (long long)b[0]);
    }
    sign_key_close(k);
    sign_signer_stop(s);
    unlink(path);
    rmdir(dir);
    free(buf);
    free(a);
    free(b);
    return 0;
}
