/* serveconf: the options of `sked serve`, from one table read by all three sources:
 * the command line (--NAME VALUE), the environment (SKED_NAME, the name upper-cased
 * with '-' as '_') and a configuration file (--config FILE or SKED_CONFIG, YAML, one
 * `NAME: VALUE` a line; sked.conf(5)).  Precedence: flag > environment > file >
 * default.  A new option is a row of the table (serveconf.c) and a field here: its
 * flag, variable, key, usage line and --print-config line follow.
 *
 * Errors name where the bad value came from and what was expected:
 *   --workers: "x": expected 1..1024
 *   SKED_WORKERS: "x": expected 1..1024
 *   /etc/sked/sked.conf:3: workers: "x": expected 1..1024
 *   /etc/sked/sked.conf:4: wokers: unknown key (expected one of: data-dir, listen, ...)
 *
 * Values read from the file are owned by the serve_config (serveconf_free); those
 * from argv and the environment are borrowed from them.  Not thread-safe (getopt,
 * getenv): call from main before threads start. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

#define SERVE_LIST_MAX 32               /* values of a repeatable option (--plugin) */
#define SERVECONF_FILE_MAX (256 * 1024) /* bytes of a configuration file */

typedef struct serve_list {
        const char *v[SERVE_LIST_MAX];
        size_t n;
} serve_list;

enum serve_source { SERVE_DEFAULT, SERVE_FILE, SERVE_ENV, SERVE_FLAG };

/* Where one option's value came from: the file's line for SERVE_FILE. */
typedef struct serve_origin {
        enum serve_source source;
        int line;
} serve_origin;

#define SERVE_OPTS_MAX 64

/* The options in force.  Strings are never NULL unless the option has no default
 * (db, node, token-file: derived, see serveconf_db_uri and friends). */
typedef struct serve_config {
        const char *data_dir, *listen, *db, *node, *token_file;
        const char *tls_cert, *tls_key;     /* PEM files: HTTPS (both or neither) */
        const char *log_level, *log_format; /* checked: log_level_parse / log_format_parse accept them */
        const char *clock_file;             /* tests only (--clock-file) */
        int64_t workers, grace, http_threads, lookahead;
        int64_t max_connections, max_connections_per_ip, idle_timeout;          /* HTTP limits (http_config) */
        int64_t session_idle, session_lifetime;                                 /* web sessions (seconds) */
        int64_t events_max, events_max_per_ip, events_heartbeat, events_window; /* live events */
        bool demo;
        serve_list plugins, trusted_proxies;

        /* how it was read */
        const char *config;                  /* the configuration file, or NULL */
        enum serve_source config_from;       /* SERVE_FLAG (--config) or SERVE_ENV (SKED_CONFIG) */
        bool print, help;                    /* --print-config, --help */
        serve_origin origin[SERVE_OPTS_MAX]; /* by row of the table */
        char **owned;                        /* strings read from the file */
        size_t nowned;
} serve_config;

/* Reads argv (argv[0] = "serve"), the environment and the configuration file into
 * *cfg (which is reset first; serveconf_free it in any case).  Returns 0; -EINVAL
 * for a bad flag, variable, key or value (a usage error: exit 2), -ENOENT/-EACCES/...
 * when the file cannot be read, -EFBIG above SERVECONF_FILE_MAX (also exit 2: the
 * operator named it); err says which and why.  With --help, returns 0 at once with
 * cfg->help set. */
int serveconf_load(int argc, char **argv, serve_config *cfg, sked_err *err);

/* `sked serve --help`: the usage, one line per option, from the table. */
void serveconf_usage(FILE *f);

/* What is in force, as a configuration file that reads back the same (YAML), each
 * line commented with its origin: `workers: 8  # env SKED_WORKERS`.  Secrets are
 * never printed: a password in the db URI shows as "***". */
void serveconf_print(const serve_config *cfg, FILE *f);

/* The derived defaults: the store URI (db, else sqlite:DATA-DIR/sked.db), the token
 * file (token-file, else DATA-DIR/admin.token), the node name (node, else the host
 * name and the port of listen). */
void serveconf_db_uri(const serve_config *cfg, char *buf, size_t len);
void serveconf_token_path(const serve_config *cfg, char *buf, size_t len);
void serveconf_node(const serve_config *cfg, char *buf, size_t len);

/* uri with a password (user:PASSWORD@, password=...) replaced by "***", for
 * printing. */
void serveconf_redact_uri(const char *uri, char *buf, size_t len);

/* NULL is a no-op. */
void serveconf_free(serve_config *cfg);
