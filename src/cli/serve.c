/* serve: `sked serve`, the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/auth.h"
#include "api/events.h"
#include "api/http.h"
#include "api/routes.h"
#include "api/routes_users.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/sdnotify.h"
#include "cli/cli.h"
#include "cli/demo.h"
#include "cli/serveconf.h"
#include "engine/engine.h"
#include "store/store.h"

/* --clock-file: for black-box tests, the clock is the real one plus the number of
 * seconds (an integer, may be negative) written in the file, read again at most
 * every 20 ms.  Tests write a larger number to step time forward (a timer of an
 * hour fires without waiting an hour); nothing else may ever use it. */
static struct {
        pthread_mutex_t lock;
        const char *path;
        int64_t offset_us, read_at;
} test_clock = {.lock = PTHREAD_MUTEX_INITIALIZER};

static sked_instant test_clock_now(void *ud) {
        (void) ud;
        pthread_mutex_lock(&test_clock.lock);
        int64_t mono = time_mono_usec();
        if (mono - test_clock.read_at > 20000) {
                test_clock.read_at = mono;
                FILE *f = fopen(test_clock.path, "r");
                char buf[64] = "";
                int64_t secs;
                if (f && fgets(buf, sizeof buf, f)) {
                        buf[strcspn(buf, " \t\r\n")] = '\0';
                        if (parse_int64(buf, -3153600000LL, 3153600000LL, &secs) == 0)
                                test_clock.offset_us = secs * SKED_USEC;
                }
                if (f)
                        fclose(f);
        }
        int64_t off = test_clock.offset_us;
        pthread_mutex_unlock(&test_clock.lock);
        return time_now_real() + off;
}

/* The service manager's watchdog, fed from the engine's loop (engine_config.alive). */
static void watchdog_ping(void *ud) {
        sdnotify_send(ud, "WATCHDOG=1");
}

/* The first admin's password, 0600 beside the token file (replaced if there). */
static void write_password_file(const char *path, const char *password) {
        (void) unlink(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                log_warning("%s: %s; the password is printed below only", path, strerror(errno));
                return;
        }
        FILE *f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                return;
        }
        fprintf(f, "%s\n", password);
        fflush(f);
        fsync(fd);
        fclose(f);
}

/* The PEM file of --tls-cert or --tls-key (opt) into *ret (caller frees); prints why
 * not and returns -1.  At most 1 MiB: a certificate chain is a few KiB. */
static int read_pem(const char *opt, const char *path, char **ret) {
        *ret = NULL;
        if (!path)
                return 0;
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "sked serve: --%s %s: %s\n", opt, path, strerror(errno));
                return -1;
        }
        enum { PEM_MAX = 1 << 20 };
        char *buf = malloc(PEM_MAX + 1);
        size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
        bool bad = ferror(f);
        fclose(f);
        const char *why = !buf          ? "out of memory"
                          : bad         ? "cannot be read"
                          : n > PEM_MAX ? "larger than 1 MiB: not a PEM certificate or key"
                                        : NULL;
        if (buf && !why) {
                buf[n] = '\0';
                if (strlen(buf) != n || !strstr(buf, "-----BEGIN "))
                        why = "not a PEM file (expected a -----BEGIN ...----- block)";
        }
        if (why) {
                fprintf(stderr, "sked serve: --%s %s: %s\n", opt, path, why);
                if (buf)
                        sodium_memzero(buf, n < PEM_MAX ? n : PEM_MAX);
                free(buf);
                return -1;
        }
        *ret = buf;
        return 0;
}

static void free_pem(char *pem) {
        if (pem)
                sodium_memzero(pem, strlen(pem));
        free(pem);
}

/* tls_cert, tls_key: the PEM texts of --tls-cert/--tls-key, or NULL (plain HTTP) */
static int serve(const serve_config *cfg, const char *tls_cert, const char *tls_key) {
        const char *data_dir = cfg->data_dir, *listen = cfg->listen;
        int workers = (int) cfg->workers, grace = (int) cfg->grace;
        enum log_level level = LOG_INFO;
        enum log_format format = LOG_TEXT;
        log_level_parse(cfg->log_level, &level); /* checked by serveconf */
        log_format_parse(cfg->log_format, &format);
        log_set_level(level);
        log_set_format(format);
        const char *scheme = tls_cert ? "https" : "http";

        /* the data directory, and one server per directory; nothing in it is for others */
        umask(077);
        if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
                fprintf(stderr, "sked serve: --data-dir %s: %s\n", data_dir, strerror(errno));
                return CLI_FAILED;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/sked.lock", data_dir);
        int lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
                fprintf(stderr, "sked serve: %s: %s\n", path,
                        errno == EWOULDBLOCK ? "another sked serve uses this data directory" : strerror(errno));
                return CLI_FAILED;
        }
        char token[AUTH_TOKEN_LEN + 1];
        bool created = false;
        sked_err err = {0};
        serveconf_token_path(cfg, path, sizeof path);
        char password_path[PATH_MAX + 16];
        snprintf(password_path, sizeof password_path, "%s", path);
        char *slash = strrchr(password_path, '/');
        snprintf(slash ? slash + 1 : password_path,
                 sizeof password_path - (size_t) (slash ? slash + 1 - password_path : 0), "admin.password");
        if (auth_token_file_ensure(path, token, &created, &err) < 0) {
                fprintf(stderr, "sked serve: %s\n", err.msg);
                return CLI_FAILED;
        }
        unsigned char token_hash[AUTH_HASH_LEN], feed_hash[AUTH_HASH_LEN];
        auth_token_hash(token, token_hash);
        memset(token, 0, sizeof token); /* the server keeps only the hash */
        /* a second, read-only token for calendar subscriptions (it sits in URLs) */
        char feed_path[PATH_MAX];
        snprintf(feed_path, sizeof feed_path, "%s/feed.token", data_dir);
        if (auth_token_file_ensure(feed_path, token, NULL, &err) < 0) {
                fprintf(stderr, "sked serve: %s\n", err.msg);
                return CLI_FAILED;
        }
        auth_token_hash(token, feed_hash);
        memset(token, 0, sizeof token);
        /* and one for Prometheus (scrape configs keep it in a credentials file) */
        unsigned char metrics_hash[AUTH_HASH_LEN];
        snprintf(feed_path, sizeof feed_path, "%s/metrics.token", data_dir);
        if (auth_token_file_ensure(feed_path, token, NULL, &err) < 0) {
                fprintf(stderr, "sked serve: %s\n", err.msg);
                return CLI_FAILED;
        }
        auth_token_hash(token, metrics_hash);
        memset(token, 0, sizeof token);

        /* signals: handled by the main thread only (sigwait); threads inherit the mask */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* under systemd (Type=notify): READY=1 once serving, WATCHDOG=1 from the loop */
        sdnotify *notify = NULL;
        int nr = sdnotify_open(&notify);
        if (nr < 0)
                log_warning("NOTIFY_SOCKET: %s; not notifying the service manager", strerror(-nr));
        int64_t watchdog_us = notify ? sdnotify_watchdog_usec() : 0;

        char uri[PATH_MAX + 16], node[160];
        serveconf_db_uri(cfg, uri, sizeof uri);
        serveconf_node(cfg, node, sizeof node);
        engine_config ec = {.store_uri = uri,
                            .workers = (unsigned) workers,
                            .node = node,
                            .lookahead_ms = cfg->lookahead ? cfg->lookahead : -1,
                            /* half the interval, as sd_watchdog_enabled(3) advises */
                            .alive = watchdog_us ? watchdog_ping : NULL,
                            .alive_userdata = notify,
                            .alive_every_ms = watchdog_us / 2000,
                            .events_keep = cfg->events_window};
        if (watchdog_us && ec.alive_every_ms == 0)
                ec.alive_every_ms = 1;
        if (cfg->clock_file) {
                test_clock.path = cfg->clock_file;
                ec.clock = test_clock_now;
                log_warning("the clock is shifted by the seconds in %s (--clock-file: for tests only)",
                            test_clock.path);
        }
        engine *e = NULL;
        if (engine_new(&ec, &e, &err) < 0) {
                fprintf(stderr, "sked serve: %s\n", err.msg);
                sdnotify_close(notify);
                return CLI_FAILED;
        }
        for (size_t i = 0; i < cfg->plugins.n; i++)
                if (engine_load_plugin(e, cfg->plugins.v[i], &err) < 0) {
                        fprintf(stderr, "sked serve: %s\n", err.msg);
                        engine_free(e);
                        sdnotify_close(notify);
                        return CLI_FAILED;
                }
        char *password = NULL;
        if (routes_users_bootstrap(e, token_hash, &password, &err) < 0) {
                fprintf(stderr, "sked serve: users: %s\n", err.msg);
                engine_free(e);
                sdnotify_close(notify);
                return CLI_FAILED;
        }
        if (password) {
                write_password_file(password_path, password);
                /* through the log, so that --log-format json stays one object a line */
                log_warning("created the user admin with the password %s (also in %s); it must be changed at "
                            "the first login",
                            password, password_path);
                memset(password, 0, strlen(password));
                free(password);
        }
        char errbuf[512];
        if (cfg->demo && demo_register((sked *) e, errbuf, sizeof errbuf) < 0) {
                fprintf(stderr, "sked serve: demo: %s\n", errbuf);
                engine_free(e);
                sdnotify_close(notify);
                return CLI_FAILED;
        }
        http_config hc = {
                .listen = listen,
                .threads = (unsigned) cfg->http_threads,
                .max_connections = (unsigned) cfg->max_connections,
                .max_connections_per_ip = (unsigned) cfg->max_connections_per_ip,
                .timeout_s = (unsigned) cfg->idle_timeout,
                .tls_cert_pem = tls_cert,
                .tls_key_pem = tls_key,
                .trusted_proxies = cfg->trusted_proxies.v,
                .ntrusted = cfg->trusted_proxies.n,
                /* no token_hash: the token file's token is the first admin's,
                 * in the store (routes_users_bootstrap), checked by
                 * routes_users_authenticate: revoking it ends it */
        };
        api_users_config users = {.session_idle_s = cfg->session_idle, .session_lifetime_s = cfg->session_lifetime};
        if (cfg->events_heartbeat >= cfg->idle_timeout * 1000)
                log_warning("--events-heartbeat %lld ms is not below --idle-timeout %lld s: a proxy may close quiet "
                            "event streams",
                            (long long) cfg->events_heartbeat, (long long) cfg->idle_timeout);
        events_config evc = {.max = (unsigned) cfg->events_max,
                             .max_per_ip = (unsigned) cfg->events_max_per_ip,
                             .heartbeat_ms = cfg->events_heartbeat};
        events_hub *hub = NULL;
        if (events_hub_new(e, &evc, &hub, &err) < 0) {
                fprintf(stderr, "sked serve: %s\n", err.msg);
                engine_free(e);
                sdnotify_close(notify);
                return CLI_FAILED;
        }
        http_server *hs = NULL;
        if (http_server_new(&hc, &hs, &err) < 0 ||
            routes_register(hs, e, feed_hash, metrics_hash, &users, hub, &err) < 0 || http_server_start(hs, &err) < 0) {
                fprintf(stderr, "sked serve: --listen %s: %s\n", listen, err.msg);
                http_server_free(hs);
                events_hub_free(hub);
                engine_free(e);
                sdnotify_close(notify);
                return CLI_FAILED;
        }
        if (engine_start(e, &err) < 0) {
                fprintf(stderr, "sked serve: %s\n", err.msg);
                sdnotify_close(notify);
                return CLI_FAILED;
        }
        /* announce only once the poller has taken its first turn, so that /healthz
         * answers 200 from the first request on */
        if (engine_wait_started(e, 10000) < 0)
                log_warning("the poller has not completed a turn within 10 s; starting anyway");
        const char *host = listen;
        char hostbuf[128];
        const char *colon = strrchr(listen, ':');
        snprintf(hostbuf, sizeof hostbuf, "%.*s", (int) (colon ? colon - listen : (long) strlen(listen)), listen);
        host = hostbuf;
        log_info("sked %s ready: API at %s://%s:%u/api/v1 (node %s, store %s, %d workers)", SKED_VERSION, scheme, host,
                 http_server_port(hs), node, cfg->db ? "postgres" : uri, workers);
        log_info("admin token: %s%s (send it as 'Authorization: Bearer <token>'; the CLI reads it itself)", path,
                 created ? ", created now" : "");
        printf("sked: listening on %s://%s:%u  token file: %s\n", scheme, host, http_server_port(hs), path);
        fflush(stdout);
        char status[256];
        snprintf(status, sizeof status, "READY=1\nSTATUS=listening on %s://%s:%u", scheme, host, http_server_port(hs));
        sdnotify_send(notify, status);

        int sig = 0;
        for (;;) {
                if (sigwait(&set, &sig) != 0)
                        continue;
                if (sig == SIGHUP)
                        continue; /* reserved for reloading; ignored for now */
                break;
        }
        log_info("received %s: stopping (running handlers get %d s to finish)", strsignal(sig), grace);
        sdnotify_send(notify, "STOPPING=1\nSTATUS=stopping");
        events_hub_stop(hub); /* the streams end first: the HTTP server waits for open replies */
        http_server_stop(hs);
        engine_stop(e, grace * 1000);
        http_server_free(hs);
        events_hub_free(hub);
        engine_free(e);
        sdnotify_close(notify);
        log_info("stopped");
        close(lockfd);
        return CLI_OK;
}

int cli_serve(int argc, char **argv) {
        serve_config cfg;
        sked_err cerr = {0};
        int rc = serveconf_load(argc, argv, &cfg, &cerr);
        if (rc < 0) {
                fprintf(stderr, "sked serve: %s\n", cerr.msg);
                serveconf_free(&cfg);
                return CLI_USAGE;
        }
        if (cfg.help) {
                serveconf_usage(stdout);
                serveconf_free(&cfg);
                return CLI_OK;
        }
        if (cfg.print) {
                serveconf_print(&cfg, stdout);
                serveconf_free(&cfg);
                return CLI_OK;
        }
        /* read before anything is opened or created: a wrong path changes nothing */
        if (!cfg.tls_cert != !cfg.tls_key) {
                fprintf(stderr, "sked serve: --%s: HTTPS needs both --tls-cert and --tls-key\n",
                        cfg.tls_cert ? "tls-key" : "tls-cert");
                serveconf_free(&cfg);
                return CLI_USAGE;
        }
        char *tls_cert = NULL, *tls_key = NULL;
        if (read_pem("tls-cert", cfg.tls_cert, &tls_cert) < 0 || read_pem("tls-key", cfg.tls_key, &tls_key) < 0)
                rc = CLI_FAILED;
        else if (tls_cert && http_tls_check(tls_cert, tls_key, &cerr) < 0) {
                size_t fl = strlen(cerr.field); /* the message without its "tls-cert: " */
                const char *m =
                        fl && !strncmp(cerr.msg, cerr.field, fl) && cerr.msg[fl] == ':' ? cerr.msg + fl + 2 : cerr.msg;
                fprintf(stderr, "sked serve: --tls-cert %s: %s\n", cfg.tls_cert, m);
                rc = CLI_FAILED;
        } else
                rc = serve(&cfg, tls_cert, tls_key); /* the server copies them */
        free_pem(tls_cert);
        free_pem(tls_key);
        serveconf_free(&cfg);
        return rc;
}
