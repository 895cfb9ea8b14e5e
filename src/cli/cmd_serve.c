/*
 * `kizuna serve`: the node's daemon. The main thread owns the signals
 * (SIGTERM/SIGINT drain and stop, SIGHUP reopens the log and reloads
 * kizuna.conf) and the timers; the HTTP workers never see a signal: the
 * signals stay blocked and the main loop takes them with sigtimedwait, so
 * no handler runs in signal context and a reload is ordinary code. The node's key lives only in the
 * signer, a child process forked before any thread starts (sign/): this
 * process never reads the key file.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "http/http.h"
#include "node/node.h"
#include "sign/sign.h"
#include "sync/sync.h"
#include "taxii/taxii.h"
#include "util/kztime.h"

static const char help[] =
        "usage: kizuna [--home DIR] serve [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]\n"
        "                                 [--threads N] [--log FILE]\n\n"
        "Serves the node's TAXII 2.1 API (discovery at /taxii2/). Defaults come from\n"
        "kizuna.conf ([server]); the default address is 127.0.0.1:8470. Plain HTTP is\n"
        "allowed only on loopback addresses: any other needs TLS (--tls-cert and\n"
        "--tls-key, or tls = on in kizuna.conf, which uses the certificate kizuna init\n"
        "made). One JSON line per request goes to the log (default: kizuna.log in the\n"
        "home; '-' for standard error). SIGTERM or SIGINT let in-flight requests\n"
        "finish and exit 0. SIGHUP reopens the log file and reloads kizuna.conf: a\n"
        "valid file's [server] max_content_length, upload_budget, body_timeout, cache\n"
        "and public_url take effect at once (other changed settings are named as\n"
        "needing a restart); an invalid one is reported and the running settings kept.\n";

#define HOUSEKEEPING_S 60

/* SIGHUP: reads kizuna.conf again. A file that does not load changes
 * nothing; else its live settings (node_config_diff) go to the running
 * server through setters that are safe beside the workers, and *running
 * records them. Settings that need a restart are named and left as they
 * are, so the next reload names them again until the restart. */
static void reload(struct node_config *running, struct node *n, struct taxii_server *t,
                   struct http_server *srv, const struct http_options *ho)
{
    struct node_config fresh;
    struct kz_error err;
    char live[512], restart[512], msg[1400], url[NODE_URL_MAX];

    kz_error_clear(&err);
    if (node_config_reread(n, &fresh, &err) < 0) {
        fprintf(stderr, "kizuna: configuration not reloaded, the running one is kept: %s\n",
                kz_error_format(&err, msg, sizeof(msg)));
        return;
    }
    if (node_public_url(&fresh, ho->listen, http_port(srv), ho->tls_cert != NULL, url,
                        sizeof(url)) < 0) {
        fprintf(stderr,
                "kizuna: configuration not reloaded, the running one is kept: cannot make a "
                "URL of listen address \"%s\": set [server] public_url\n",
                ho->listen);
        return;
    }
    node_config_diff(running, &fresh, live, sizeof(live), restart, sizeof(restart));
    taxii_set_limits(t, fresh.max_content_length, fresh.cache);
    http_set_limits(srv, fresh.upload_budget, fresh.body_timeout);
    taxii_set_public_url(t, url);
    running->max_content_length = fresh.max_content_length;
    running->cache = fresh.cache;
    running->upload_budget = fresh.upload_budget;
    running->body_timeout = fresh.body_timeout;
    memcpy(running->public_url, fresh.public_url, sizeof(running->public_url));
    fprintf(stderr, "kizuna: configuration reloaded; applied: %s; need a restart: %s\n",
            live[0] ? live : "nothing changed", restart[0] ? restart : "none");
}

int cmd_serve(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"listen", required_argument, NULL, 'l'},
            {"tls-cert", required_argument, NULL, 'c'},
            {"tls-key", required_argument, NULL, 'k'},
            {"threads", required_argument, NULL, 't'},
            {"log", required_argument, NULL, 'g'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *listen = NULL, *cert = NULL, *key = NULL, *log = NULL;
    int threads = 0, c, sig, rc = 2;
    struct http_options ho;
    struct taxii_server *t = NULL;
    struct http_server *srv = NULL;
    struct sync_daemon *syncer = NULL;
    struct sign_signer *signer = NULL;
    unsigned char token_key[SIGN_DERIVED_BYTES];
    struct kz_error err;
    const struct node_config *cfg;
    struct node_config running;
    struct node *n;
    sigset_t set;
    struct timespec tick = {1, 0};
    char url[NODE_URL_MAX];
    int64_t next_housekeeping = 0;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hl:c:k:t:g:", opts, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 't': {
            long v;
            if (cli_parse_long(optarg, 1, 256, &v) < 0)
                return cli_usage_error("serve", "--threads must be 1 to 256");
            threads = (int)v;
            break;
        }
        case 'g': log = optarg; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("serve", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("serve", "unexpected argument \"%s\"", argv[optind]);
    if ((cert && !key) || (key && !cert))
        return cli_usage_error("serve", "--tls-cert and --tls-key go together");
    n = cli_node(cli);
    if (!n)
        return 2;
    cfg = node_config(n);
    running = *cfg;
    memset(&ho, 0, sizeof(ho));
    ho.listen = listen ? listen : cfg->listen;
    ho.threads = threads ? threads : cfg->threads;
    ho.log_path = log ? log : cfg->log_path;
    ho.user_inflight_max = cfg->upload_budget;
    ho.body_timeout_s = cfg->body_timeout;
    if (cert) {
        ho.tls_cert = cert;
        ho.tls_key = key;
    } else if (cfg->tls) {
        ho.tls_cert = cfg->tls_cert;
        ho.tls_key = cfg->tls_key;
    }
    /* block the signals before any thread starts (the audit writer, the
     * HTTP workers), so that only this thread ever receives them */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    kz_error_clear(&err);
    /* fork the signer while this is the only thread (the child inherits
     * the blocked signals: it ends when this process closes its socket) */
    signer = sign_signer_start(cfg->signing_key, &err);
    if (!signer)
        return cli_fail(&err);
    t = taxii_server_new(n, signer, &err);
    if (!t) {
        cli_fail(&err);
        goto out;
    }
    /* the URL discovery advertises: set before the first request when the
     * port is known, again once bound (port 0 means any) */
    if (node_public_url(cfg, ho.listen, 0, ho.tls_cert != NULL, url, sizeof(url)) == 0)
        taxii_set_public_url(t, url);
    srv = http_start(&ho, taxii_http_app(t), &err);
    if (!srv) {
        cli_fail(&err);
        goto out;
    }
    if (node_public_url(cfg, ho.listen, http_port(srv), ho.tls_cert != NULL, url, sizeof(url)) <
        0) {
        cli_usage_error("serve",
                        "cannot make a URL of listen address \"%s\": set [server] "
                        "public_url in kizuna.conf",
                        ho.listen);
        http_stop(srv);
        goto out;
    }
    taxii_set_public_url(t, url);
    sign_signer_key(signer, SIGN_PURPOSE_PEER_TOKEN, token_key);
    syncer = sync_daemon_start(cfg, token_key, &err);
    sodium_memzero(token_key, sizeof(token_key));
    if (!syncer)
        cli_fail(&err);
    fprintf(stderr,
            "kizuna: node \"%s\" serving TAXII 2.1 at %s/taxii2/ (listening on %s, port %u)\n",
            cfg->name, url, ho.listen, (unsigned)http_port(srv));
    for (;;) {
        sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP) {
            if (http_reopen_log(srv, &err) < 0)
                cli_fail(&err);
            reload(&running, n, t, srv, &ho);
        }
        taxii_checkpoint(t);
        if (kz_mono_micros() >= next_housekeeping) {
            taxii_housekeeping(t);
            next_housekeeping = kz_mono_micros() + (int64_t)HOUSEKEEPING_S * 1000000;
        }
    }
    fprintf(stderr, "kizuna: stopping: finishing requests in flight\n");
    http_stop(srv);
    sync_daemon_stop(syncer);
    rc = 0;
out:
    taxii_server_free(t);
    sign_signer_stop(signer);
    return rc;
}
