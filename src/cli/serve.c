/* serve: `sked serve`, the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/auth.h"
#include "api/http.h"
#include "api/routes.h"
#include "base/log.h"
#include "base/parse.h"
#include "cli/cli.h"
#include "cli/demo.h"
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

static void usage(FILE *f) {
        fprintf(f, "usage: sked serve [--data-dir DIR] [--listen HOST:PORT] [--workers N] [--db URI]\n"
                   "                  [--plugin PATH]... [--demo] [--grace SECONDS] [--http-threads N]\n"
                   "                  [--lookahead MS] [--log-level LEVEL] [--log-format FORMAT]\n"
                   "\n"
                   "  --data-dir DIR     database, admin token and lock (default ./var)\n"
                   "  --listen HOST:PORT address of the HTTP API (default 127.0.0.1:8080)\n"
                   "  --workers N        worker threads running handlers (default 4)\n"
                   "  --db URI           store URI (default sqlite:DIR/sked.db)\n"
                   "  --plugin PATH      load a plug-in shared object (repeatable)\n"
                   "  --demo             register demo types and a demo series\n"
                   "  --grace SECONDS    on SIGTERM, how long running handlers may finish (default 30)\n"
                   "  --http-threads N   threads serving the HTTP API (default 4)\n"
                   "  --lookahead MS     fire and claim occurrences this far ahead of their time,\n"
                   "                     to start them on time (default 2000; 0 = when due)\n"
                   "  --node NAME        this node's name in a cluster (default HOST:PORT)\n"
                   "  --token-file PATH  the admin token (default DIR/admin.token); nodes of a\n"
                   "                     cluster share one, so the CLI can talk to any of them\n"
                   "  --log-level LEVEL  debug, info (default), warning or error\n"
                   "  --log-format FORMAT text (default) or json (one object a line)\n"
                   "  --clock-file PATH  tests only: the clock runs this many seconds (the file's\n"
                   "                     number) ahead of real time, read again as it changes\n");
}

int cli_serve(int argc, char **argv) {
        /* clang-format off */
        static const struct option opts[] = {
                {"data-dir", required_argument, NULL, 'd'},
                {"listen", required_argument, NULL, 'l'},
                {"workers", required_argument, NULL, 'w'},
                {"db", required_argument, NULL, 'D'},
                {"plugin", required_argument, NULL, 'p'},
                {"demo", no_argument, NULL, 'm'},
                {"grace", required_argument, NULL, 'g'},
                {"http-threads", required_argument, NULL, 't'},
                {"node", required_argument, NULL, 'n'},
                {"token-file", required_argument, NULL, 'T'},
                {"lookahead", required_argument, NULL, 'a'},
                {"help", no_argument, NULL, 'h'},
                {"log-level", required_argument, NULL, 'L'},
                {"log-format", required_argument, NULL, 'F'},
                {"clock-file", required_argument, NULL, 'C'},
                {0},
        };
        /* clang-format on */
        const char *data_dir = "var", *listen = "127.0.0.1:8080", *db = NULL, *node = NULL, *token_file = NULL;
        const char *plugins[32];
        size_t nplugins = 0;
        int workers = 4, grace = 30, http_threads = 4, lookahead = 2000;
        bool demo = false;
        enum log_level level = LOG_INFO;
        enum log_format format = LOG_TEXT;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        data_dir = optarg;
                        break;
                case 'l':
                        listen = optarg;
                        break;
                case 'D':
                        db = optarg;
                        break;
                case 'w':
                        if (parse_int(optarg, 1, 1024, &workers) < 0) {
                                fprintf(stderr, "sked serve: --workers: \"%s\": expected 1..1024\n", optarg);
                                return CLI_USAGE;
                        }
                        break;
                case 't':
                        if (parse_int(optarg, 1, 256, &http_threads) < 0) {
                                fprintf(stderr, "sked serve: --http-threads: \"%s\": expected 1..256\n", optarg);
                                return CLI_USAGE;
                        }
                        break;
                case 'a':
                        if (parse_int(optarg, 0, 60000, &lookahead) < 0) {
                                fprintf(stderr, "sked serve: --lookahead: \"%s\": expected milliseconds 0..60000\n",
                                        optarg);
                                return CLI_USAGE;
                        }
                        break;
                case 'g':
                        if (parse_int(optarg, 0, 86400, &grace) < 0) {
                                fprintf(stderr, "sked serve: --grace: \"%s\": expected seconds 0..86400\n", optarg);
                                return CLI_USAGE;
                        }
                        break;
                case 'p':
                        if (nplugins == sizeof plugins / sizeof plugins[0]) {
                                fprintf(stderr, "sked serve: at most 32 --plugin\n");
                                return CLI_USAGE;
                        }
                        plugins[nplugins++] = optarg;
                        break;
                case 'm':
                        demo = true;
                        break;
                case 'n':
                        if (!*optarg || strlen(optarg) > 100) {
                                fprintf(stderr, "sked serve: --node: expected a name of 1 to 100 characters\n");
                                return CLI_USAGE;
                        }
                        node = optarg;
                        break;
                case 'T':
                        token_file = optarg;
                        break;
                case 'L':
                        if (log_level_parse(optarg, &level) < 0) {
                                fprintf(stderr,
                                        "sked serve: --log-level: \"%s\": expected debug, info, warning or error\n",
                                        optarg);
                                return CLI_USAGE;
                        }
                        break;
                case 'F':
                        if (log_format_parse(optarg, &format) < 0) {
                                fprintf(stderr, "sked serve: --log-format: \"%s\": expected text or json\n", optarg);
                                return CLI_USAGE;
                        }
                        break;
                case 'C':
                        test_clock.path = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return CLI_OK;
                default:
                        usage(stderr);
                        return CLI_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "sked serve: unexpected argument \"%s\"\n", argv[optind]);
                return CLI_USAGE;
        }
        /* a malformed address is a usage error, found before anything is created; an
         * address that cannot be bound (taken, not ours) fails later, exit 1 */
        http_server *probe = NULL;
        sked_err lerr = {0};
        if (http_server_new(&(http_config){.listen = listen}, &probe, &lerr) < 0) {
                fprintf(stderr,
                        "sked serve: --listen: \"%s\": expected HOST:PORT, an IP address and a port 0..65535 "
                        "(127.0.0.1:8080, [::1]:8080; host names are not resolved)\n",
                        listen);
                return CLI_USAGE;
        }
        http_server_free(probe);
        log_set_level(level);
        log_set_format(format);

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
        if (token_file)
                snprintf(path, sizeof path, "%s", token_file);
        else
                snprintf(path, sizeof path, "%s/admin.token", data_dir);
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

        /* signals: handled by the main thread only (sigwait); threads inherit the mask */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);

        char uri[PATH_MAX + 16];
        if (db)
                snprintf(uri, sizeof uri, "%s", db);
        else
                snprintf(uri, sizeof uri, "sqlite:%s/sked.db", data_dir);
        char node_name[160];
        if (!node) {
                char host[64] = "localhost";
                gethostname(host, sizeof host - 1);
                const char *colon = strrchr(listen, ':');
                snprintf(node_name, sizeof node_name, "%s:%s", host, colon ? colon + 1 : listen);
                node = node_name;
        }
        engine_config ec = {.store_uri = uri,
                            .workers = (unsigned) workers,
                            .node = node,
                            .lookahead_ms = lookahead ? lookahead : -1};
        if (test_clock.path) {
                ec.clock = test_clock_now;
                log_warning("the clock is shifted by the seconds in %s (--clock-file: for tests only)",
                            test_clock.path);
        }
        engine *e = NULL;
        if (engine_new(&ec, &e, &err) < 0) {
                fprintf(stderr, "sked serve: %s\n", err.msg);
                return CLI_FAILED;
        }
        for (size_t i = 0; i < nplugins; i++)
                if (engine_load_plugin(e, plugins[i], &err) < 0) {
                        fprintf(stderr, "sked serve: %s\n", err.msg);
                        engine_free(e);
                        return CLI_FAILED;
                }
        char errbuf[512];
        if (demo && demo_register((sked *) e, errbuf, sizeof errbuf) < 0) {
                fprintf(stderr, "sked serve: demo: %s\n", errbuf);
                engine_free(e);
                return CLI_FAILED;
        }
        http_config hc = {.listen = listen, .threads = (unsigned) http_threads, .token_hash = token_hash};
        http_server *hs = NULL;
        if (http_server_new(&hc, &hs, &err) < 0 || routes_register(hs, e, feed_hash, &err) < 0 ||
            http_server_start(hs, &err) < 0) {
                fprintf(stderr, "sked serve: --listen %s: %s\n", listen, err.msg);
                http_server_free(hs);
                engine_free(e);
                return CLI_FAILED;
        }
        if (engine_start(e, &err) < 0) {
                fprintf(stderr, "sked serve: %s\n", err.msg);
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
        log_info("sked %s ready: API at http://%s:%u/api/v1 (node %s, store %s, %d workers)", SKED_VERSION, host,
                 http_server_port(hs), node, db ? "postgres" : uri, workers);
        log_info("admin token: %s%s (send it as 'Authorization: Bearer <token>'; the CLI reads it itself)", path,
                 created ? ", created now" : "");
        printf("sked: listening on http://%s:%u  token file: %s\n", host, http_server_port(hs), path);
        fflush(stdout);

        int sig = 0;
        for (;;) {
                if (sigwait(&set, &sig) != 0)
                        continue;
                if (sig == SIGHUP)
                        continue; /* reserved for reloading; ignored for now */
                break;
        }
        log_info("received %s: stopping (running handlers get %d s to finish)", strsignal(sig), grace);
        http_server_stop(hs);
        engine_stop(e, grace * 1000);
        http_server_free(hs);
        engine_free(e);
        log_info("stopped");
        close(lockfd);
        return CLI_OK;
}
