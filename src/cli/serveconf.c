/* serveconf: the options of `sked serve` from flags, environment and file; see
 * serveconf.h and docs/operations.md ("Configuration"). */
#include "cli/serveconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libfyaml.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/http.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/strbuf.h"

enum serve_kind { SO_STRING, SO_INT, SO_BOOL, SO_LIST };

enum {
        SO_URI = 1 << 0, /* may hold a password: printed redacted */
};

typedef struct serve_opt {
        const char *name; /* flag --NAME, key NAME, variable SKED_NAME */
        enum serve_kind kind;
        size_t offset;    /* of its field in serve_config */
        int64_t min, max; /* SO_INT */
        const char *def;  /* the default as text (parsed like any value); NULL: none, derived */
        const char *arg;  /* the value in the usage: "N" */
        const char *expected;
        int (*check)(const char *value); /* SO_STRING, SO_LIST: 0 when valid; NULL: any non-empty text */
        unsigned flags;
        const char *help; /* '\n' continues on the next usage line */
} serve_opt;

static int check_listen(const char *v) {
        /* the address as the HTTP server will read it; nothing is bound here */
        http_server *probe = NULL;
        if (http_server_new(&(http_config){.listen = v}, &probe, NULL) < 0)
                return -EINVAL;
        http_server_free(probe);
        return 0;
}

static int check_node(const char *v) {
        return strlen(v) <= 100 ? 0 : -EINVAL;
}

static int check_ip(const char *v) {
        unsigned char buf[16];
        return inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1 ? 0 : -EINVAL;
}

static int check_level(const char *v) {
        enum log_level l;
        return log_level_parse(v, &l);
}

static int check_format(const char *v) {
        enum log_format f;
        return log_format_parse(v, &f);
}

#define OFF(f) offsetof(serve_config, f)

/* In the order of the usage and of --print-config.  A new option is a row here and
 * a field in serve_config. */
static const serve_opt opts[] = {
        {"data-dir", SO_STRING, OFF(data_dir), 0, 0, "var", "DIR", "a directory", NULL, 0,
         "database, admin token and lock (created, mode 0700)"},
        {"listen", SO_STRING, OFF(listen), 0, 0, "127.0.0.1:8080", "HOST:PORT",
         "HOST:PORT, an IP address and a port 0..65535 (127.0.0.1:8080, [::1]:8080; host names are not resolved)",
         check_listen, 0, "address of the HTTP API"},
        {"tls-cert", SO_STRING, OFF(tls_cert), 0, 0, NULL, "PATH", "a PEM file", NULL, 0,
         "serve HTTPS (TLS 1.2, 1.3) with this certificate chain\n(PEM; with --tls-key)"},
        {"tls-key", SO_STRING, OFF(tls_key), 0, 0, NULL, "PATH", "a PEM file", NULL, 0,
         "the certificate's private key (PEM, unencrypted; keep it\nmode 0600)"},
        {"workers", SO_INT, OFF(workers), 1, 1024, "4", "N", "1..1024", NULL, 0, "worker threads running handlers"},
        {"db", SO_STRING, OFF(db), 0, 0, NULL, "URI", "a store URI (sqlite:PATH or postgres://...)", NULL, SO_URI,
         "store URI (default sqlite:DIR/sked.db)"},
        {"plugin", SO_LIST, OFF(plugins), 0, 0, NULL, "PATH", "the path of a shared object", NULL, 0,
         "load a plug-in shared object (repeatable, at most 32)"},
        {"demo", SO_BOOL, OFF(demo), 0, 0, "false", NULL, "true or false", NULL, 0,
         "register demo types and demo series"},
        {"grace", SO_INT, OFF(grace), 0, 86400, "30", "SECONDS", "seconds 0..86400", NULL, 0,
         "on SIGTERM, how long running handlers may finish"},
        {"http-threads", SO_INT, OFF(http_threads), 1, 256, "4", "N", "1..256", NULL, 0,
         "threads serving the HTTP API"},
        {"max-connections", SO_INT, OFF(max_connections), 1, 100000, "512", "N", "1..100000", NULL, 0,
         "HTTP connections at once, in total; more wait to be\naccepted until one closes"},
        {"max-connections-per-ip", SO_INT, OFF(max_connections_per_ip), 1, 100000, "64", "N", "1..100000", NULL, 0,
         "of them from one client address (at most\n--max-connections); more are closed when accepted"},
        {"idle-timeout", SO_INT, OFF(idle_timeout), 1, 3600, "30", "SECONDS", "seconds 1..3600", NULL, 0,
         "close an HTTP connection that sent nothing for this long"},
        {"session-idle-timeout", SO_INT, OFF(session_idle), 60, 86400, "1800", "SECONDS", "seconds 60..86400", NULL, 0,
         "a web session unused this long ends"},
        {"session-lifetime", SO_INT, OFF(session_lifetime), 300, 2592000, "43200", "SECONDS", "seconds 300..2592000",
         NULL, 0, "a web session ends this long after its login, used or not"},
        {"trusted-proxy", SO_LIST, OFF(trusted_proxies), 0, 0, NULL, "ADDRESS", "an IP address (127.0.0.1, ::1)",
         check_ip, 0,
         "a reverse proxy whose X-Forwarded-Proto: https marks a\nrequest as HTTPS (session cookies Secure, __Host-, "
         "HSTS)\nand whose X-Forwarded-For names the client (login\nthrottling, audit log); repeatable"},
        {"events-max", SO_INT, OFF(events_max), 1, 100000, "256", "N", "1..100000", NULL, 0,
         "live event streams (GET /api/v1/events) at once; more\nare refused with 503"},
        {"events-max-per-ip", SO_INT, OFF(events_max_per_ip), 1, 100000, "8", "N", "1..100000", NULL, 0,
         "of them from one client address; more are refused with 429"},
        {"events-heartbeat", SO_INT, OFF(events_heartbeat), 100, 3600000, "15000", "MS", "milliseconds 100..3600000",
         NULL, 0,
         "a comment line on every event stream this often, so that\nproxies keep it open (below "
         "--idle-timeout)"},
        {"events-window", SO_INT, OFF(events_window), 1, 100000000, "100000", "N", "1..100000000", NULL, 0,
         "events kept for resuming a stream (Last-Event-ID); older\nones are pruned"},
        {"lookahead", SO_INT, OFF(lookahead), 0, 60000, "2000", "MS", "milliseconds 0..60000", NULL, 0,
         "fire and claim occurrences this far ahead of their time,\nto start them on time; 0 = when due"},
        {"node", SO_STRING, OFF(node), 0, 0, NULL, "NAME", "a name of 1 to 100 characters", check_node, 0,
         "this node's name in a cluster (default HOST:PORT)"},
        {"token-file", SO_STRING, OFF(token_file), 0, 0, NULL, "PATH", "a file name", NULL, 0,
         "the admin token (default DIR/admin.token); nodes of a\ncluster share one, so the CLI can talk to any of "
         "them"},
        {"log-level", SO_STRING, OFF(log_level), 0, 0, "info", "LEVEL", "debug, info, warning or error", check_level, 0,
         "debug, info, warning or error"},
        {"log-format", SO_STRING, OFF(log_format), 0, 0, "text", "FORMAT", "text or json", check_format, 0,
         "text, or json: one object a line"},
        {"clock-file", SO_STRING, OFF(clock_file), 0, 0, NULL, "PATH", "a file name", NULL, 0,
         "tests only: the clock runs this many seconds (the file's\nnumber) ahead of real time, read again as it "
         "changes"},
};
#define NOPTS (sizeof opts / sizeof opts[0])
_Static_assert(NOPTS <= SERVE_OPTS_MAX, "serve_config.origin is too small");

#define FLAG_BASE 1000
enum { FLAG_CONFIG = 900, FLAG_PRINT };

static void *field(serve_config *cfg, const serve_opt *o) {
        return (char *) cfg + o->offset;
}

static const void *cfield(const serve_config *cfg, const serve_opt *o) {
        return (const char *) cfg + o->offset;
}

static void env_name(const serve_opt *o, char *buf, size_t len) {
        size_t i = 0, n = strlen("SKED_");
        snprintf(buf, len, "SKED_");
        for (; o->name[i] && n + 1 < len; i++, n++)
                buf[n] = o->name[i] == '-' ? '_' : (char) toupper((unsigned char) o->name[i]);
        buf[n] = '\0';
}

static int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
        for (size_t i = 0; i < 4; i++) {
                if (!strcmp(s, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (!strcmp(s, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* One value of option o from `where` ("--workers", "SKED_WORKERS", "FILE:3: workers").
 * A list's first value from a source replaces what lower sources gave. */
static int set_value(serve_config *cfg, size_t ix, const char *v, serve_origin from, const char *where, sked_err *err) {
        const serve_opt *o = &opts[ix];
        if (!*v || (o->check && o->check(v) < 0))
                return err_set(err, -EINVAL, "%s: \"%s\": expected %s", where, v, o->expected);
        switch (o->kind) {
        case SO_STRING:
                *(const char **) field(cfg, o) = v;
                break;
        case SO_INT: {
                int64_t n;
                if (parse_int64(v, o->min, o->max, &n) < 0)
                        return err_set(err, -EINVAL, "%s: \"%s\": expected %s", where, v, o->expected);
                *(int64_t *) field(cfg, o) = n;
                break;
        }
        case SO_BOOL:
                if (parse_bool(v, (bool *) field(cfg, o)) < 0)
                        return err_set(err, -EINVAL, "%s: \"%s\": expected %s", where, v, o->expected);
                break;
        case SO_LIST: {
                serve_list *l = field(cfg, o);
                if (cfg->origin[ix].source != from.source)
                        l->n = 0;
                if (l->n == SERVE_LIST_MAX)
                        return err_set(err, -EINVAL, "%s: at most %d values", where, SERVE_LIST_MAX);
                l->v[l->n++] = v;
                break;
        }
        }
        cfg->origin[ix] = from;
        return 0;
}

static char *own(serve_config *cfg, const char *s, size_t n) {
        char **grown = realloc(cfg->owned, (cfg->nowned + 1) * sizeof *grown);
        if (!grown)
                return NULL;
        cfg->owned = grown;
        char *copy = strndup(s, n);
        if (copy)
                cfg->owned[cfg->nowned++] = copy;
        return copy;
}

/* ---- the file ---- */

static int node_line(struct fy_node *n) {
        struct fy_token *t = n && fy_node_get_type(n) == FYNT_SCALAR ? fy_node_get_scalar_token(n) : NULL;
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        return m ? m->line + 1 : 0;
}

static bool is_null_scalar(struct fy_node *n) {
        size_t len;
        const char *s = fy_node_get_scalar(n, &len);
        if (fy_node_get_style(n) != FYNS_PLAIN || !s)
                return false;
        return len == 0 || (len == 1 && s[0] == '~') || (len == 4 && !memcmp(s, "null", 4));
}

static void expected_keys(strbuf *b) {
        for (size_t i = 0; i < NOPTS; i++)
                strbuf_printf(b, "%s%s", i ? ", " : "", opts[i].name);
}

/* One scalar of the file as option ix's value. */
static int file_scalar(serve_config *cfg, size_t ix, struct fy_node *v, const char *where, int line, sked_err *err) {
        size_t len;
        const char *s = fy_node_get_scalar(v, &len);
        if (!s || memchr(s, '\0', len))
                return err_set(err, -EINVAL, "%s: expected %s", where, opts[ix].expected);
        char *copy = own(cfg, s, len);
        if (!copy)
                return err_set(err, -ENOMEM, "out of memory");
        return set_value(cfg, ix, copy, (serve_origin){SERVE_FILE, line}, where, err);
}

static int file_pair(serve_config *cfg, struct fy_node_pair *p, sked_err *err) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        size_t klen;
        const char *ks = k && fy_node_get_type(k) == FYNT_SCALAR ? fy_node_get_scalar(k, &klen) : NULL;
        int line = node_line(k);
        if (!ks)
                return err_set(err, -EINVAL, "%s:%d: expected NAME: VALUE lines", cfg->config, line);
        size_t ix = 0;
        while (ix < NOPTS && !(strlen(opts[ix].name) == klen && !memcmp(opts[ix].name, ks, klen)))
                ix++;
        if (ix == NOPTS) {
                strbuf b = STRBUF_INIT;
                expected_keys(&b);
                err_set(err, -EINVAL, "%s:%d: %.*s: unknown key (expected one of: %s)", cfg->config, line,
                        (int) (klen > 64 ? 64 : klen), ks, strbuf_str(&b));
                strbuf_free(&b);
                return -EINVAL;
        }
        const serve_opt *o = &opts[ix];
        char where[PATH_MAX + 128];
        snprintf(where, sizeof where, "%s:%d: %s", cfg->config, line, o->name);
        if (!v || (fy_node_get_type(v) == FYNT_SCALAR && is_null_scalar(v)))
                return 0; /* `db:` or `db: null`: the default */
        if (fy_node_get_type(v) == FYNT_SCALAR)
                return file_scalar(cfg, ix, v, where, line, err);
        if (fy_node_get_type(v) == FYNT_SEQUENCE && o->kind == SO_LIST) {
                void *it = NULL;
                struct fy_node *e;
                serve_list *l = field(cfg, o);
                l->n = 0;
                cfg->origin[ix] = (serve_origin){SERVE_FILE, line};
                while ((e = fy_node_sequence_iterate(v, &it))) {
                        if (fy_node_get_type(e) != FYNT_SCALAR)
                                return err_set(err, -EINVAL, "%s: expected a list of %ss", where, o->expected);
                        int r = file_scalar(cfg, ix, e, where, line, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        return err_set(err, -EINVAL, "%s: expected %s%s", where, o->kind == SO_LIST ? "a list of " : "",
                       o->kind == SO_LIST ? "paths" : o->expected);
}

static int read_file(const char *path, char **ret, size_t *ret_len, sked_err *err) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return err_set(err, -errno, "--config %s: %s", path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return err_set(err, -EINVAL, "--config %s: not a regular file", path);
        }
        if (st.st_size > SERVECONF_FILE_MAX) {
                close(fd);
                return err_set(err, -EFBIG, "--config %s: larger than %d bytes", path, SERVECONF_FILE_MAX);
        }
        char *buf = malloc((size_t) st.st_size + 1);
        size_t len = 0;
        ssize_t n = 0;
        while (buf && len <= (size_t) st.st_size && (n = read(fd, buf + len, (size_t) st.st_size + 1 - len)) > 0)
                len += (size_t) n;
        int e = n < 0 ? errno : 0;
        close(fd);
        if (!buf)
                return err_set(err, -ENOMEM, "out of memory");
        if (e || len > (size_t) st.st_size) {
                free(buf);
                return e ? err_set(err, -e, "--config %s: %s", path, strerror(e))
                         : err_set(err, -EFBIG, "--config %s: grew while read", path);
        }
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;
}

static int load_file(serve_config *cfg, sked_err *err) {
        char *text = NULL;
        size_t len = 0;
        int r = read_file(cfg->config, &text, &len, err);
        if (r < 0)
                return r;
        struct fy_diag_cfg dc;
        fy_diag_cfg_default(&dc);
        dc.fp = NULL;
        dc.colorize = false;
        struct fy_diag *diag = fy_diag_create(&dc);
        struct fy_parser *fyp = NULL;
        struct fy_document *doc = NULL, *more = NULL;
        if (!diag) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto done;
        }
        fy_diag_set_collect_errors(diag, true);
        struct fy_parse_cfg pc = {.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2, .diag = diag};
        fyp = fy_parser_create(&pc);
        if (!fyp || fy_parser_set_string(fyp, text, len) < 0) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto done;
        }
        doc = fy_parse_load_document(fyp);
        if (doc && (more = fy_parse_load_document(fyp))) {
                r = err_set(err, -EINVAL, "%s: more than one YAML document", cfg->config);
                goto done;
        }
        void *it = NULL;
        struct fy_diag_error *de = fy_diag_errors_iterate(diag, &it);
        if (de) {
                r = err_set(err, -EINVAL, "%s:%d:%d: %s", cfg->config, de->line, de->column, de->msg);
                goto done;
        }
        struct fy_node *root = doc ? fy_document_root(doc) : NULL;
        r = 0;
        if (!root || (fy_node_get_type(root) == FYNT_SCALAR && is_null_scalar(root)))
                goto done; /* empty, or comments only: every option at its default */
        if (fy_node_get_type(root) != FYNT_MAPPING) {
                r = err_set(err, -EINVAL, "%s: expected NAME: VALUE lines (a YAML mapping) at the top level",
                            cfg->config);
                goto done;
        }
        it = NULL;
        struct fy_node_pair *p;
        while (r == 0 && (p = fy_node_mapping_iterate(root, &it)))
                r = file_pair(cfg, p, err);
done:
        if (more)
                fy_parse_document_destroy(fyp, more);
        if (doc)
                fy_parse_document_destroy(fyp, doc);
        if (fyp)
                fy_parser_destroy(fyp);
        fy_diag_destroy(diag);
        free(text);
        return r;
}

/* ---- the environment ---- */

static int load_env(serve_config *cfg, sked_err *err) {
        for (size_t i = 0; i < NOPTS; i++) {
                char name[64];
                env_name(&opts[i], name, sizeof name);
                const char *v = getenv(name);
                if (!v || !*v)
                        continue; /* empty is unset: Environment=SKED_X= in a unit undoes a drop-in */
                if (opts[i].kind != SO_LIST) {
                        int r = set_value(cfg, i, v, (serve_origin){SERVE_ENV, 0}, name, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* a list: colon-separated, like PATH */
                char *copy = own(cfg, v, strlen(v));
                if (!copy)
                        return err_set(err, -ENOMEM, "out of memory");
                char *save = NULL;
                for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
                        int r = set_value(cfg, i, tok, (serve_origin){SERVE_ENV, 0}, name, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- loading ---- */

static int set_defaults(serve_config *cfg, sked_err *err) {
        for (size_t i = 0; i < NOPTS; i++)
                if (opts[i].def && set_value(cfg, i, opts[i].def, (serve_origin){SERVE_DEFAULT, 0}, "default", err) < 0)
                        abort(); /* a default its own row refuses: a bug in the table */
        return 0;
}

int serveconf_load(int argc, char **argv, serve_config *cfg, sked_err *err) {
        struct option lopts[NOPTS + 4];
        size_t n = 0;
        for (size_t i = 0; i < NOPTS; i++)
                lopts[n++] = (struct option){opts[i].name, opts[i].kind == SO_BOOL ? no_argument : required_argument,
                                             NULL, FLAG_BASE + (int) i};
        lopts[n++] = (struct option){"config", required_argument, NULL, FLAG_CONFIG};
        lopts[n++] = (struct option){"print-config", no_argument, NULL, FLAG_PRINT};
        lopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
        lopts[n] = (struct option){0};

        memset(cfg, 0, sizeof *cfg);
        set_defaults(cfg, err);

        /* the flags first, to find --config; applied last, above the file and the environment */
        struct flag {
                size_t ix;
                const char *arg;
        } *flags = calloc((size_t) argc + 1, sizeof *flags);
        size_t nflags = 0;
        int c, r = 0;
        if (!flags)
                return err_set(err, -ENOMEM, "out of memory");
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
                if (c >= FLAG_BASE) {
                        flags[nflags++] = (struct flag){(size_t) (c - FLAG_BASE), optarg ? optarg : "true"};
                } else if (c == FLAG_CONFIG) {
                        cfg->config = optarg;
                        cfg->config_from = SERVE_FLAG;
                } else if (c == FLAG_PRINT) {
                        cfg->print = true;
                } else if (c == 'h') {
                        cfg->help = true;
                        goto done;
                } else {
                        const char *arg = optind > 1 ? argv[optind - 1] : "";
                        r = err_set(err, -EINVAL, "%s \"%.*s\"%s (see 'sked serve --help')",
                                    c == ':' ? "option" : "unknown option", (int) strcspn(arg, "="), arg,
                                    c == ':' ? " needs a value" : "");
                        goto done;
                }
        }
        if (optind < argc) {
                r = err_set(err, -EINVAL, "unexpected argument \"%s\"", argv[optind]);
                goto done;
        }
        if (!cfg->config) {
                const char *env = getenv("SKED_CONFIG");
                if (env && *env) {
                        cfg->config = env;
                        cfg->config_from = SERVE_ENV;
                }
        }
        if (cfg->config && (r = load_file(cfg, err)) < 0)
                goto done;
        if ((r = load_env(cfg, err)) < 0)
                goto done;
        for (size_t i = 0; i < nflags; i++) {
                char where[80];
                snprintf(where, sizeof where, "--%s", opts[flags[i].ix].name);
                if ((r = set_value(cfg, flags[i].ix, flags[i].arg, (serve_origin){SERVE_FLAG, 0}, where, err)) < 0)
                        goto done;
        }
        if (cfg->max_connections_per_ip > cfg->max_connections)
                r = err_field(err, -EINVAL, "max-connections-per-ip",
                              "max-connections-per-ip %lld: more than max-connections %lld",
                              (long long) cfg->max_connections_per_ip, (long long) cfg->max_connections);
done:
        free(flags);
        return r;
}

/* ---- printing ---- */

void serveconf_usage(FILE *f) {
        fprintf(f, "usage: sked serve [--config FILE] [--print-config] [OPTION]...\n\n");
        fprintf(f, "  %-22s %s\n", "--config FILE",
                "read options from FILE (YAML, see sked.conf(5)); also SKED_CONFIG");
        fprintf(f, "  %-22s %s\n", "--print-config", "print the options in force and where each came from; exit");
        for (size_t i = 0; i < NOPTS; i++) {
                const serve_opt *o = &opts[i];
                char flag[64];
                snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
                const char *h = o->help, *nl;
                /* each '\n' of the help starts a line under the first */
                while ((nl = strchr(h, '\n'))) {
                        fprintf(f, "  %-22s %.*s\n", h == o->help ? flag : "", (int) (nl - h), h);
                        h = nl + 1;
                }
                fprintf(f, "  %-22s %s", h == o->help ? flag : "", h);
                if (o->def && o->kind != SO_BOOL)
                        fprintf(f, " (default %s)", o->def);
                fputc('\n', f);
        }
        fprintf(f, "\nEach option is also a key of the --config file (data-dir: /var/lib/sked) and an\n"
                   "environment variable (SKED_DATA_DIR). A flag wins over the environment, the\n"
                   "environment over the file, the file over the default.\n");
}

void serveconf_redact_uri(const char *uri, char *buf, size_t len) {
        strbuf b = STRBUF_INIT;
        const char *p = uri, *scheme = strstr(uri, "://");
        if (scheme) {
                /* postgres://user:PASSWORD@host/db */
                const char *auth = scheme + 3, *end = auth + strcspn(auth, "/?#"), *at = NULL;
                for (const char *q = auth; q < end; q++)
                        if (*q == '@')
                                at = q;
                const char *colon = at ? memchr(auth, ':', (size_t) (at - auth)) : NULL;
                if (colon) {
                        strbuf_append(&b, uri, (size_t) (colon + 1 - uri));
                        strbuf_puts(&b, "***");
                        p = at;
                }
        }
        /* ...?password=PASSWORD&... (libpq's parameter) */
        for (;;) {
                const char *q = strstr(p, "password=");
                if (!q || (q != uri && q[-1] != '?' && q[-1] != '&' && q[-1] != ' ')) {
                        if (!q) {
                                strbuf_puts(&b, p);
                                break;
                        }
                        strbuf_append(&b, p, (size_t) (q + 9 - p));
                        p = q + 9;
                        continue;
                }
                strbuf_append(&b, p, (size_t) (q + 9 - p));
                strbuf_puts(&b, "***");
                p = q + 9 + strcspn(q + 9, "& ");
        }
        snprintf(buf, len, "%s", b.oom ? "***" : strbuf_str(&b));
        strbuf_free(&b);
}

static void json_text(strbuf *b, const char *s) {
        json_t *j = json_string(s);
        char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
        strbuf_puts(b, t ? t : "null");
        free(t);
        json_decref(j);
}

static void value_text(const serve_config *cfg, const serve_opt *o, strbuf *b) {
        switch (o->kind) {
        case SO_STRING: {
                const char *s = *(const char *const *) cfield(cfg, o);
                if (!s) {
                        strbuf_puts(b, "null");
                } else if (o->flags & SO_URI) {
                        char red[4096];
                        serveconf_redact_uri(s, red, sizeof red);
                        json_text(b, red);
                } else {
                        json_text(b, s);
                }
                break;
        }
        case SO_INT:
                strbuf_printf(b, "%lld", (long long) *(const int64_t *) cfield(cfg, o));
                break;
        case SO_BOOL:
                strbuf_puts(b, *(const bool *) cfield(cfg, o) ? "true" : "false");
                break;
        case SO_LIST: {
                const serve_list *l = cfield(cfg, o);
                strbuf_putc(b, '[');
                for (size_t i = 0; i < l->n; i++) {
                        if (i)
                                strbuf_puts(b, ", ");
                        json_text(b, l->v[i]);
                }
                strbuf_putc(b, ']');
                break;
        }
        }
}

static void origin_text(const serve_config *cfg, size_t ix, strbuf *b) {
        const serve_opt *o = &opts[ix];
        char name[64];
        switch (cfg->origin[ix].source) {
        case SERVE_DEFAULT:
                strbuf_puts(b, "default");
                break;
        case SERVE_FILE:
                strbuf_printf(b, "%s:%d", cfg->config, cfg->origin[ix].line);
                break;
        case SERVE_ENV:
                env_name(o, name, sizeof name);
                strbuf_printf(b, "env %s", name);
                break;
        case SERVE_FLAG:
                strbuf_printf(b, "flag --%s", o->name);
                break;
        }
}

void serveconf_print(const serve_config *cfg, FILE *f) {
        strbuf lines[NOPTS];
        size_t width = 0;
        fprintf(f, "# sked serve: the options in force, each with where it came from\n");
        if (cfg->config)
                fprintf(f, "# config file: %s (%s)\n", cfg->config,
                        cfg->config_from == SERVE_FLAG ? "flag --config" : "env SKED_CONFIG");
        else
                fprintf(f, "# config file: none\n");
        for (size_t i = 0; i < NOPTS; i++) {
                lines[i] = (strbuf) STRBUF_INIT;
                strbuf_printf(&lines[i], "%s: ", opts[i].name);
                value_text(cfg, &opts[i], &lines[i]);
                if (lines[i].len > width)
                        width = lines[i].len;
        }
        if (width > 48)
                width = 48;
        for (size_t i = 0; i < NOPTS; i++) {
                strbuf o = STRBUF_INIT;
                origin_text(cfg, i, &o);
                char derived[4096] = "";
                const char *s = opts[i].kind == SO_STRING ? *(const char *const *) cfield(cfg, &opts[i]) : "";
                if (!s) {
                        if (!strcmp(opts[i].name, "db")) {
                                serveconf_db_uri(cfg, derived, sizeof derived);
                        } else if (!strcmp(opts[i].name, "token-file")) {
                                serveconf_token_path(cfg, derived, sizeof derived);
                        } else if (!strcmp(opts[i].name, "node")) {
                                serveconf_node(cfg, derived, sizeof derived);
                        }
                }
                fprintf(f, "%-*s  # %s%s%s\n", (int) width, strbuf_str(&lines[i]), strbuf_str(&o), *derived ? ": " : "",
                        derived);
                strbuf_free(&o);
                strbuf_free(&lines[i]);
        }
}

void serveconf_db_uri(const serve_config *cfg, char *buf, size_t len) {
        if (cfg->db)
                snprintf(buf, len, "%s", cfg->db);
        else
                snprintf(buf, len, "sqlite:%s/sked.db", cfg->data_dir);
}

void serveconf_token_path(const serve_config *cfg, char *buf, size_t len) {
        if (cfg->token_file)
                snprintf(buf, len, "%s", cfg->token_file);
        else
                snprintf(buf, len, "%s/admin.token", cfg->data_dir);
}

void serveconf_node(const serve_config *cfg, char *buf, size_t len) {
        if (cfg->node) {
                snprintf(buf, len, "%s", cfg->node);
                return;
        }
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        const char *colon = strrchr(cfg->listen, ':');
        snprintf(buf, len, "%s:%s", host, colon ? colon + 1 : cfg->listen);
}

void serveconf_free(serve_config *cfg) {
        if (!cfg)
                return;
        for (size_t i = 0; i < cfg->nowned; i++)
                free(cfg->owned[i]);
        free(cfg->owned);
        cfg->owned = NULL;
        cfg->nowned = 0;
}
