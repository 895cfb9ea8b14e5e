/*
 * `kizuna store migrate`: bring the store's schema up to date and say which
 * version it is at. Every server and command does the same when it opens the
 * store (PostgreSQL: under an advisory lock, so servers starting at once
 * wait for one another); this command does it alone, for an upgrade window
 * before the servers are started again.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "node/node.h"
#include "store/store.h"

static const char help[] =
        "usage: kizuna [--home DIR] store migrate\n\n"
        "Brings the node's store schema up to the version this kizuna knows\n"
        "(SQLite or PostgreSQL, as kizuna.conf says) and prints it. Safe while other\n"
        "servers of the node run or start: migrations run one at a time, and a\n"
        "store already up to date is left alone.\n";

static int store_migrate(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct kz_error err;
    struct node *n;
    int c, have = 0, known = 0;

    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("store migrate", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("store migrate", "unexpected argument \"%s\"", argv[optind]);
    /* opening the store is what migrates it */
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    if (store_schema_version(node_store(n), &have, &known, &err) < 0)
        return cli_fail(&err);
    printf("store: %s schema at version %d (this kizuna knows %d)\n", node_config(n)->store_backend,
           have, known);
    return 0;
}

int cmd_store(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "migrate") == 0)
        return store_migrate(cli, argc - 1, argv + 1);
    return cli_usage_error("store", "unknown subcommand \"%s\" (migrate)", argv[1]);
}
