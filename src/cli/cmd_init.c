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
        "usage: kizuna [--home DIR] init [--node-name NAME]\n\n"
        "Creates a node in the home folder: the store (SQLite), kizuna.conf, the\n"
        "node's Ed25519 signing key, a self-signed TLS certificate, the API root\n"
        "\"default\", the organisation \"local\" and the user \"admin\" (node-admin).\n"
        "Prints admin's API token on standard output; it is shown only this once\n"
        "and stored only as a hash. Never overwrites an existing node.\n\n"
        "  --node-name NAME   the node's name (default: kizuna)\n";

int cmd_init(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"node-name", required_argument, NULL, 'n'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *name = "kizuna";
    char token[AUTH_TOKEN_MAX];
    struct kz_error err;
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "+hn:", opts, NULL)) != -1) {
        switch (c) {
        case 'n': name = optarg; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("init", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("init", "unexpected argument \"%s\"", argv[optind]);
    kz_error_clear(&err);
    if (node_create(cli->home, name, token, sizeof(token), &err) < 0)
        return cli_fail(&err);
    fprintf(stderr,
            "kizuna: created node \"%s\" in %s\n"
            "kizuna: the API token of user admin follows; it is shown only once, keep it "
            "safe:\n",
            name, cli->home);
    printf("%s\n", token);
    fflush(stdout);
    sodium_memzero(token, sizeof(token));
    return 0;
}
