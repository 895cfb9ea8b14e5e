/*
 * The signer process: the only process of `kizuna serve` that holds the
 * node's secret key. It is forked before any thread starts, loads the key,
 * sends the parent the public key and the keys derived for other jobs, drops
 * what it can (other fds, new privileges, new fds, most system calls) and then
 * answers one request at a time: a text in, its Ed25519 signature out.
 *
 * The text travels through a window of memory shared with the child
 * (mapped before the fork, read-only in the child) and only its length
 * goes over the socket, in one round trip: a page of a megabyte sent
 * through the socket's buffer took several (bench_sign: about 7% over
 * signing in-process at best, against 4% through the window, on a busy
 * two-core machine). The parent serialises requests with a mutex; a signer that
 * died or broke the protocol fails every later request, so nothing is ever
 * signed any other way (fail closed).
 */
#include "sign/sign.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#define SIGNER_SECCOMP 1
#endif

#define SIGNER_NAME "kizuna-signer"
#define SIGNER_FD   3 /* the child's socket, after every other fd is closed */
#define NPURPOSES   3
/* The window's pages past this many bytes are given back after a request,
 * so one large page does not stay resident. */
#define SIGNER_WINDOW_KEEP ((size_t)16 << 20)

static const char *const purposes[NPURPOSES] = {SIGN_PURPOSE_CURSOR, SIGN_PURPOSE_AUDIT,
                                                SIGN_PURPOSE_PEER_TOKEN};

/* The child's first message. Both ends are the same binary, so the struct
 * is sent as it is laid out in memory. */
struct hello {
    uint32_t status; /* 0: the keys follow; else error says why */
    char error[256];
    char public_text[SIGN_PUBLIC_TEXT_MAX];
    unsigned char keys[NPURPOSES][SIGN_DERIVED_BYTES];
};

struct sign_signer {
    int fd;
    unsigned char *window; /* SIGN_SIGNER_FRAME_MAX bytes shared with the child */
    pid_t pid;
    int reaped;
    pthread_mutex_t lock; /* one request on the socket at a time */
    int dead;             /* under lock: the signer is gone or broke the protocol */
    char public_text[SIGN_PUBLIC_TEXT_MAX];
    unsigned char keys[NPURPOSES][SIGN_DERIVED_BYTES];
};

/* Writes all of buf (retrying partial writes and EINTR); -1 on any failure.
 * MSG_NOSIGNAL: a dead peer is an error here, not a SIGPIPE. */
static int send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;

    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes; 0 when done, -1 on error or end of stream. */
static int recv_all(int fd, void *buf, size_t n)
{
    char *p = buf;

    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* ---- the child ---- */

static void close_others(int keep)
{
    /* the socket becomes SIGNER_FD and nothing else stays open: no
     * listening socket, store or log reaches the key's process */
    if (keep != SIGNER_FD) {
        dup2(keep, SIGNER_FD);
        close(keep);
    }
    for (int fd = 0; fd < SIGNER_FD; fd++)
        close(fd);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, SIGNER_FD + 1, ~0U, 0) == 0)
        return;
#endif
    {
        struct rlimit rl;
        long max = 65536;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur < (rlim_t)max)
            max = (long)rl.rlim_cur;
        for (long fd = SIGNER_FD + 1; fd < max; fd++)
            close((int)fd);
    }
}

#ifdef SIGNER_SECCOMP
#if defined(__x86_64__)
#define SIGNER_ARCH AUDIT_ARCH_X86_64
#else
#define SIGNER_ARCH AUDIT_ARCH_AARCH64
#endif
#define ALLOW(nr)                                                                                  \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/* Only what reading, signing, writing and the allocator need; anything
 * else (open, socket, connect, execve, fork, ptrace...) kills the signer. */
static int sandbox(void)
{
    struct sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SIGNER_ARCH, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            ALLOW(SYS_read),
            ALLOW(SYS_write),
            ALLOW(SYS_recvfrom),
            ALLOW(SYS_sendto),
            ALLOW(SYS_close),
            ALLOW(SYS_exit),
            ALLOW(SYS_exit_group),
            ALLOW(SYS_rt_sigreturn),
            ALLOW(SYS_brk),
            ALLOW(SYS_mmap),
            ALLOW(SYS_munmap),
            ALLOW(SYS_mremap),
            ALLOW(SYS_madvise),
            ALLOW(SYS_futex),
            ALLOW(SYS_clock_gettime),
            ALLOW(SYS_getrandom),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
                              .filter = filter};

    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
#endif

/* Drops what the signer does not need once the key is loaded. */
static void confine(void)
{
    struct rlimit none = {0, 0};

    prctl(PR_SET_NAME, SIGNER_NAME, 0, 0, 0);
    /* no core dump or ptrace attach shows the key */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    setrlimit(RLIMIT_NOFILE, &none);
    setrlimit(RLIMIT_FSIZE, &none);
    setrlimit(RLIMIT_CORE, &none);
    signal(SIGPIPE, SIG_IGN);
#ifdef SIGNER_SECCOMP
    sandbox();
#endif
}

/* Answers requests until the parent closes the socket (or breaks the
 * protocol): a length on the socket, the text in the window. */
static void serve(int fd, const unsigned char *window, const struct sign_key *k)
{
    uint64_t n;
    char sig[SIGN_TEXT_MAX];

    while (recv_all(fd, &n, sizeof(n)) == 0) {
        if (n > SIGN_SIGNER_FRAME_MAX)
            break;
        memset(sig, 0, sizeof(sig));
        sign_key_sign_text(k, window, (size_t)n, sig);
        if (send_all(fd, sig, sizeof(sig)) < 0)
            break;
    }
}

static void child_main(int fd, const unsigned char *window, const char *key_path)
{
    struct hello h;
    struct kz_error err;
    struct sign_key *k;

    memset(&h, 0, sizeof(h));
    kz_error_clear(&err);
    prctl(PR_SET_NAME, SIGNER_NAME, 0, 0, 0);
    k = sign_key_open(key_path, &err);
    close_others(fd);
    fd = SIGNER_FD;
    if (!k) {
        h.status = 1;
        kz_error_format(&err, h.error, sizeof(h.error));
        send_all(fd, &h, sizeof(h));
        _exit(1);
    }
    /* the signer only reads the window: it cannot write into the
     * workers' memory */
    if (mprotect((void *)window, SIGN_SIGNER_FRAME_MAX, PROT_READ) < 0)
        _exit(1);
    confine();
    sign_key_public_text(k, h.public_text);
    for (int i = 0; i < NPURPOSES; i++)
        sign_key_derive(k, purposes[i], h.keys[i], SIGN_DERIVED_BYTES);
    if (send_all(fd, &h, sizeof(h)) == 0) {
        sodium_memzero(&h, sizeof(h));
        serve(fd, window, k);
    }
    sodium_memzero(&h, sizeof(h));
    sign_key_close(k);
    /* _exit: no atexit handler or stdio flush of the parent's copy runs */
    _exit(0);
}

/* ---- the parent ---- */

static void reap(struct sign_signer *s, int wait)
{
    int status;
    pid_t r;

    if (s->reaped)
        return;
    do
        r = waitpid(s->pid, &status, wait ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return; /* still running: the stop reaps it */
    s->reaped = 1;
}

struct sign_signer *sign_signer_start(const char *key_path, struct kz_error *err)
{
    struct sign_signer *s = calloc(1, sizeof(*s));
    struct hello h;
    int sv[2];

    if (!s) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    s->fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    /* reserved, not committed: pages exist once a text is copied in */
    s->window = mmap(NULL, SIGN_SIGNER_FRAME_MAX, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s->window == MAP_FAILED) {
        s->window = NULL;
        kz_error_set(err, KZ_ENOMEM, "cannot start the signer: mmap: %s", strerror(errno));
        goto fail;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        kz_error_set(err, KZ_EIO, "cannot start the signer: socketpair: %s", strerror(errno));
        goto fail;
    }
    s->pid = fork();
    if (s->pid < 0) {
        kz_error_set(err, KZ_EIO, "cannot start the signer: fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        s->reaped = 1;
        goto fail;
    }
    if (s->pid == 0) {
        close(sv[0]);
        child_main(sv[1], s->window, key_path);
    }
    close(sv[1]);
    s->fd = sv[0];
    if (recv_all(s->fd, &h, sizeof(h)) < 0) {
        kz_error_set(err, KZ_EIO, "the signer exited before it was ready");
        goto fail;
    }
    if (h.status != 0) {
        h.error[sizeof(h.error) - 1] = '\0';
        kz_error_set(err, KZ_EIO, "the signer could not start: %s", h.error);
        goto fail;
    }
    h.public_text[sizeof(h.public_text) - 1] = '\0';
    memcpy(s->public_text, h.public_text, sizeof(s->public_text));
    memcpy(s->keys, h.keys, sizeof(s->keys));
    sodium_memzero(&h, sizeof(h));
    return s;
fail:
    sodium_memzero(&h, sizeof(h));
    sign_signer_stop(s);
    return NULL;
}

int sign_signer_sign_text(struct sign_signer *s, const void *msg, size_t n, char out[SIGN_TEXT_MAX],
                          struct kz_error *err)
{
    uint64_t len = n;
    int rc = -1;

    if (n > SIGN_SIGNER_FRAME_MAX)
        return kz_error_set(err, KZ_ELIMIT, "the text to sign is over %zu bytes",
                            (size_t)SIGN_SIGNER_FRAME_MAX);
    pthread_mutex_lock(&s->lock);
    if (s->dead) {
        kz_error_set(err, KZ_EINTERNAL, "the signer has exited");
        goto out;
    }
    if (n > 0)
        memcpy(s->window, msg, n);
    if (send_all(s->fd, &len, sizeof(len)) < 0 || recv_all(s->fd, out, SIGN_TEXT_MAX) < 0 ||
        out[SIGN_TEXT_MAX - 1] != '\0' ||
        strlen(out) != sodium_base64_ENCODED_LEN(SIGN_BYTES, sodium_base64_VARIANT_ORIGINAL) - 1) {
        /* a half-done exchange leaves the stream out of step: never use it
         * again */
        s->dead = 1;
        reap(s, 0);
        kz_error_set(err, KZ_EINTERNAL, "the signer has exited");
        goto out;
    }
    rc = 0;
out:
    if (n > SIGNER_WINDOW_KEEP)
        madvise(s->window + SIGNER_WINDOW_KEEP, n - SIGNER_WINDOW_KEEP, MADV_REMOVE);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0)
        out[0] = '\0';
    return rc;
}

int sign_signer_key(const struct sign_signer *s, const char *purpose,
                    unsigned char out[SIGN_DERIVED_BYTES])
{
    for (int i = 0; i < NPURPOSES; i++)
        if (strcmp(purpose, purposes[i]) == 0) {
            memcpy(out, s->keys[i], SIGN_DERIVED_BYTES);
            return 0;
        }
    return -1;
}

void sign_signer_public_text(const struct sign_signer *s, char out[SIGN_PUBLIC_TEXT_MAX])
{
    memcpy(out, s->public_text, SIGN_PUBLIC_TEXT_MAX);
}

int sign_signer_pid(const struct sign_signer *s)
{
    return (int)s->pid;
}

void sign_signer_stop(struct sign_signer *s)
{
    if (!s)
        return;
    /* the child reads the end of the stream and exits */
    if (s->fd >= 0)
        close(s->fd);
    if (s->pid > 0)
        reap(s, 1);
    if (s->window)
        munmap(s->window, SIGN_SIGNER_FRAME_MAX);
    pthread_mutex_destroy(&s->lock);
    sodium_memzero(s->keys, sizeof(s->keys));
    free(s);
}
