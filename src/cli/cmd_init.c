/*
 * `kizuna init`: make a new node's home and show the admin's token once.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/token.h"
#include "cli/cli.h"
#include "node/node.h"

static const char help[] =
        "usage: kizuna [--home DIR] init [--node-name NAME] [--store sqlite|postgresql]\n"
        "                                [--dsn DSN]\n\n"
        "Creates a node in the home folder: the store, kizuna.conf, the node's\n"
        "Ed25519 signing key, a self-signed TLS certificate, the API root\n"
        "\"default\", the organisation \"local\" and the user \"admin\" (node-admin).\n"
        "Prints admin's API token on standard output; it is shown only this once\n"
        "and stored only as a hash. Never overwrites an existing node, nor a\n"
        "PostgreSQL database that already holds one.\n\n"
        "  --node-name NAME   the node's name (default: kizuna)\n"
        "  --store BACKEND    sqlite (default: a file in the home) or postgresql\n"
        "  --dsn DSN          with postgresql: the libpq connection string, written\n"
        "                     to kizuna.conf; leave it out to take it from KIZUNA_DSN\n"
        "                     each time kizuna starts (keep passwords in ~/.pgpass)\n";

int cmd_init(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"node-name", required_argument, NULL, 'n'},
            {"store", required_argument, NULL, 's'},
            {"dsn", required_argument, NULL, 'd'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct node_init how = {.name = "kizuna"};
    char token[AUTH_TOKEN_MAX];
    struct kz_error err;
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "+hn:s:d:", opts, NULL)) != -1) {
        switch (c) {
        case 'n': how.name = optarg; break;
        case 's': how.backend = optarg; break;
        case 'd': how.dsn = optarg; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("init", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("init", "unexpected argument \"%s\"", argv[optind]);
    kz_error_clear(&err);
    if (node_create(cli->home, &how, token, sizeof(token), &err) < 0)
        return cli_fail(&err);
    fprintf(stderr,
            "kizuna: created node \"%s\" in %s\n"
            "kizuna: the API token of user admin follows; it is shown only once, keep it "
            "safe:\n",
            how.name, cli->home);
    printf("%s\n", token);
    fflush(stdout);
    sodium_memzero(token, sizeof(token));
    return 0;
}
