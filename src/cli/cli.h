/*
 * The command-line interface: one binary, `kizuna`, with subcommands. The
 * command table in main.c maps names to handlers (dispatch is data); each
 * handler lives in a cmd_*.c file, parses its own options, and returns the
 * exit status: 0 success, 1 a negative result (invalid input, matches
 * found), 2 a usage or system error. Errors go to stderr naming the file,
 * object and property at fault.
 */
#ifndef KZ_CLI_H
#define KZ_CLI_H

#include <stdio.h>

#include "util/error.h"

struct node;

/* What every handler receives besides its arguments. */
struct cli {
    const char *home;  /* --home, else $KIZUNA_HOME, else ./kizuna-home */
    struct node *node; /* opened by cli_node(); closed by main */
};

/* Opens the node at cli->home once; NULL (with the error printed) when there
 * is none or it cannot be opened. */
struct node *cli_node(struct cli *cli);

/* Prints "kizuna: <formatted error>" to stderr and returns the exit status
 * for it. */
int cli_fail(const struct kz_error *e);

/* Prints "kizuna CMD: message" and a hint to run --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The usage error for what getopt_long just refused (it returned '?'; the
 * library's own message is off, opterr = 0): an unknown option, or one
 * that needs a value, named as the user wrote it. Returns 2. */
int cli_option_error(const char *cmd, char **argv);

/* A listing's text table (table.c): rows of ncols cells, printed with each
 * column as wide as its widest cell. cli_table_new returns NULL for ncols
 * 0 or past 8, or without memory; add copies the cells (-1 without
 * memory); print and free take NULL. */
struct cli_table;
struct cli_table *cli_table_new(unsigned ncols);
int cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);

/* Parses a decimal integer in [lo, hi]; -1 when it is not one. */
int cli_parse_long(const char *s, long lo, long hi, long *out);

/* True when argv holds -h or --help (before a "--"). */
int cli_wants_help(int argc, char **argv);

/* Handlers: argv[0] is the command name. */
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_validate(struct cli *cli, int argc, char **argv);
int cmd_collection(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_pattern(struct cli *cli, int argc, char **argv);
int cmd_serve(struct cli *cli, int argc, char **argv);
int cmd_user(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);
int cmd_grant(struct cli *cli, int argc, char **argv);
int cmd_org(struct cli *cli, int argc, char **argv);
int cmd_community(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_peer(struct cli *cli, int argc, char **argv);
int cmd_sync(struct cli *cli, int argc, char **argv);
int cmd_node(struct cli *cli, int argc, char **argv);
int cmd_match(struct cli *cli, int argc, char **argv);
int cmd_warninglist(struct cli *cli, int argc, char **argv);
int cmd_apply(struct cli *cli, int argc, char **argv);
int cmd_store(struct cli *cli, int argc, char **argv);

/* The warninglists imported into the node (NULL when none); the caller
 * frees the set. */
struct warninglist_set;
int cli_load_warninglists(struct node *n, struct warninglist_set **out, struct kz_error *err);

/* Records a CLI action in the audit log, durably; e->user NULL stands for
 * cli_actor(). Returns -1 (the error printed) when the row could not be
 * written. With e NULL it only opens the log, which brings in the rows a
 * crashed server left in its journal. */
struct audit_event;
int cli_audit(struct node *n, const struct audit_event *e);

/* Records an account or access change made on the command line (action,
 * the collection's id or NULL, and what changed), as cli_audit. Returns
 * the exit status: 0, or 2 when the row could not be written. */
int cli_audit_change(struct node *n, const char *action, const char *collection, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* Who runs this command, for the audit log: "operator:<the OS user>". */
const char *cli_actor(void);

#endif
