/* common: what every client subcommand shares: the connection options, the verb
 * tables that dispatch `sked NOUN VERB ...`, one request helper that maps the
 * server's answer to an exit code, and the printers for --json, lists and objects.
 *
 * A noun (series, runs, ...) is a cli_noun with a table of verbs; cli_noun_run picks
 * the verb (or the default one when argv[1] is absent or an option) and calls its
 * dispatch with argv[0] = the verb's name.  A verb parses its own options with
 * cli_parse_opts, which also takes the common options and --help and checks the
 * number of positional arguments against the verb's min_args..max_args.
 *
 * Everything here prints to stdout/stderr: this is the CLI's boundary.  Not
 * thread-safe (getopt). */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/strbuf.h"
#include "cli/cli.h"

/* Terminal output, as cli_parse_opts set it from --color=auto|always|never and
 * --wide (one process, one setting: the CLI runs one verb).
 *   cli_color: colour on stdout: always; never; auto (the default) when stdout is a
 *     terminal, NO_COLOR is unset or empty and TERM is not "dumb".
 *   cli_wide: --wide, cut no column of a table.
 *   cli_now: the instant relative times are counted from: $SKED_NOW (an instant
 *     YYYY-MM-DDTHH:MM:SSZ, for tests) when set, else the real clock. */
bool cli_color(void);
bool cli_wide(void);
sked_time cli_now(void);

/* The colour rule of cli_color for a --color value (NULL: auto); pure, for tests.
 * Returns 0 and *ret, or -EINVAL for a value other than auto, always, never. */
int cli_color_decide(const char *mode, bool tty, const char *no_color, const char *term, bool *ret);

/* Options every client command takes. */
typedef struct cli_common {
        const char *url, *token, *data_dir;
        bool json;
} cli_common;

typedef struct cli_noun cli_noun;

enum {
        VERB_DEFAULT = 1 << 0, /* runs when no verb is given (`sked runs` = `sked runs list`) */
};

typedef struct cli_verb {
        const char *name;
        int min_args, max_args; /* positional arguments after the verb's name */
        unsigned flags;
        int (*dispatch)(const cli_noun *n, int argc, char **argv); /* argv[0] = verb; returns the exit code */
        const char *args; /* what the arguments are, for "expected ...": "one series ID" */
} cli_verb;

struct cli_noun {
        const char *name;  /* "series" */
        const char *usage; /* printed for --help (stdout) and bad usage (stderr) */
        const cli_verb *verbs;
        size_t nverbs;
};

/* Runs `sked NOUN ...` (argv[0] = the noun).  An unknown verb exits CLI_USAGE with
 * `sked NOUN: unknown command "x" (verbs: a, b, c)`; a noun without a default verb
 * and no verb given prints its usage to stderr, exit CLI_USAGE; --help exits 0. */
int cli_noun_run(const cli_noun *n, int argc, char **argv);

/* A verb's own option: called with getopt's result (val of its struct option) and
 * optarg.  Returns 0, or <0 after printing why (the verb then exits CLI_USAGE). */
typedef int (*cli_opt_fn)(int opt, const char *arg, void *ud);

/* cli_parse_opts's answer when it printed --help: the verb stops, exit 0. */
#define CLI_HELPED 100

static inline int cli_exit(int r) {
        return r == CLI_HELPED ? CLI_OK : r;
}

/* Parses argv (argv[0] = the verb) with the verb's own options (opts, ended by a
 * zero entry, may be NULL; val must stay below CLI_OPT_BASE), the common options
 * into *c, and --help/-h.  On success *ret_args points at the positional arguments
 * and *ret_nargs counts them (checked against v->min_args..max_args).
 * Returns 0 to go on; CLI_USAGE after printing why; CLI_HELPED after printing the
 * usage on stdout.  Callers: `if ((r = cli_parse_opts(...)) != 0) return cli_exit(r);`. */
int cli_parse_opts(const cli_noun *n, const cli_verb *v, int argc, char **argv, const struct option *opts,
                   cli_opt_fn fn, void *ud, cli_common *c, char ***ret_args, int *ret_nargs);

#define CLI_OPT_BASE 1000

/* Sends one request; prints the server's complaint and maps it to an exit code:
 * transport failure CLI_UNREACHABLE, 400/404/409/412/413 CLI_USAGE, other >= 400
 * CLI_FAILED.  On CLI_OK *ret (if not NULL) is the reply (an empty object for an
 * empty body), the caller's reference. */
int cli_call(const cli_common *c, const char *method, const char *path, json_t *body, json_t **ret);

/* Indented JSON on stdout, keys in the server's order. */
void cli_print_json(json_t *v);

/* A JSON value as a table cell: "-" for null/missing, "yes"/"no", numbers, compact JSON. */
const char *cli_cell(json_t *o, const char *key, char *buf, size_t len);

/* "key value" lines of an object. */
void cli_print_object(json_t *o);

/* How a list command prints the reply's "next" cursor: "(more: --before 5)". */
typedef struct cli_list_opts {
        const char *more; /* option that continues the list, e.g. "--after"; NULL: no hint */
        size_t fit;       /* cut the last column to fit this width; 0: never cut */
} cli_list_opts;

/* A list reply ("items", "next") as a table of the given columns (JSON keys).
 * Instants (strings YYYY-MM-DDTHH:MM:SS[.f]Z) get the time from cli_now() beside
 * them, "2026-11-22T00:51:48Z (in 3 min)"; states and levels are coloured when
 * cli_color(); --wide cuts nothing. */
void cli_print_items(json_t *reply, const char *const *headers, const char *const *keys, size_t n,
                     const cli_list_opts *lo);

/* cell with the time from cli_now() beside it when it is an instant
 * ("2026-11-22T00:51:48Z (in 3 min)", written to buf), else cell itself: what
 * cli_print_items does, for tables built by hand. */
const char *cli_with_relative(const char *cell, char *buf, size_t len);

/* GET path and print the list it answers: JSON with --json, else a table. */
int cli_list(const cli_common *c, const char *path, const char *const *headers, const char *const *keys, size_t n,
             const cli_list_opts *lo);

/* "/api/v1/series/42" style paths from a user-supplied id (checked with parse_id);
 * prints `sked: "x": expected a numeric id` and returns -EINVAL for anything else. */
int cli_id_path(char *buf, size_t len, const char *fmt, const char *id);

/* A numeric option ("--count", "3"): parse_int64 within min..max, else prints
 * `sked: --count "x": expected what` and returns <0. */
int cli_int_opt(const char *name, const char *arg, int64_t min, int64_t max, const char *what, int64_t *ret);

/* --param k=v into params: v is taken as JSON when it parses (12, true, {"a":1}),
 * else as a string.  Prints and returns -EINVAL for a missing '='. */
int cli_add_param(json_t *params, const char *kv);

/* The terminal's width when stdout is a terminal ($COLUMNS first, then
 * TIOCGWINSZ), else 0. */
size_t cli_terminal_width(void);
