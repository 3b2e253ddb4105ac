/* sked_bench: the in-process side of bench/run (issue 5), linked against libsked.
 *
 *   sked_bench queue   DB N BATCH WORKERS           enqueue N no-op runs in batches, then drain
 *   sked_bench latency DB RATE SECONDS WORKERS       steady offered load: enqueue-to-start latency
 *   sked_bench sched   DB S WINDOW_S IDLE_S WORKERS  S mixed series, due-to-start latency, RSS, idle CPU
 *   sked_bench command DB N WORKERS                 N runs of a command type /bin/true
 *   sked_bench minutely DB K WORKERS OUTFILE         K series "cron:* * * * *" fire once at the next
 *                                                   minute; start delays (s) are written to OUTFILE
 *
 * Each prints one JSON object on stdout (figures only; bench/run adds bench/system/durable).
 * The store is SQLite in WAL mode with synchronous=FULL (sked's default), or PostgreSQL
 * with synchronous_commit=on when DB is a postgres:// URI. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sked/sked.h>

static int64_t real_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double mono_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_us(int64_t us) {
        if (us <= 0)
                return;
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
}

static void die(const char *what, const char *err) {
        fprintf(stderr, "sked_bench: %s: %s\n", what, err);
        exit(1);
}

static double cpu_s(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* VmRSS or VmHWM of this process, in MB. */
static double status_mb(const char *key) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        double kb = 0;
        size_t kl = strlen(key);
        while (f && fgets(line, sizeof line, f))
                if (strncmp(line, key, kl) == 0 && line[kl] == ':')
                        kb = strtod(line + kl + 1, NULL);
        if (f)
                fclose(f);
        return kb / 1024.0;
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* Percentile (nearest rank) of a sorted array, in ms from µs. */
static double pct_ms(const int64_t *v, size_t n, double p) {
        if (!n)
                return -1;
        size_t k = (size_t) (p / 100.0 * n);
        if (k >= n)
                k = n - 1;
        return v[k] / 1000.0;
}

/* sked_stop with a watchdog: if it does not return in 20 s, say so and exit 3 (the
 * figures are printed before it is called). */
static void *stop_watchdog(void *arg) {
        (void) arg;
        sleep(20);
        fprintf(stderr, "sked_bench: sked_stop did not return within 20 s\n");
        fflush(stdout);
        _exit(3);
}

static void stop_engine(sked *s) {
        pthread_t t;
        pthread_create(&t, NULL, stop_watchdog, NULL);
        pthread_detach(t);
        sked_stop(s, 5000);
        sked_free(s);
}

static sked *open_engine(const char *db, unsigned workers, sked_clock clock) {
        char uri[4096], err[512];
        /* DB is a SQLite file, or a postgres:// URI (bench/run's queue on PostgreSQL) */
        if (!strncmp(db, "postgres://", 11) || !strncmp(db, "postgresql://", 13))
                snprintf(uri, sizeof uri, "%s", db);
        else
                snprintf(uri, sizeof uri, "sqlite:%s", db);
        /* the default look-ahead (2 s), also with the bench's injected clock;
         * BENCH_LOOKAHEAD_MS sets another (negative: off) */
        const char *la = getenv("BENCH_LOOKAHEAD_MS");
        sked_config cfg = {.store = uri,
                           .workers = workers,
                           .node = "bench",
                           .clock = clock,
                           .lookahead_ms = la ? atol(la) : 2000};
        sked *s = NULL;
        if (sked_new(&cfg, &s, err, sizeof err) < 0)
                die("sked_new", err);
        return s;
}

/* ---- queue: throughput ---- */

static atomic_long done_count;

static int noop(sked_run *run, void *ud) {
        (void) run;
        (void) ud;
        atomic_fetch_add(&done_count, 1);
        return SKED_RUN_OK;
}

static const char *noop_type = "{\"name\": \"bench.noop\", \"handler\": {\"plugin\": true},"
                               " \"params\": [{\"name\": \"t\", \"type\": \"int\", \"default\": 0}]}";

static int bench_queue(const char *db, long n, long batch, unsigned workers) {
        char err[512];
        sked *s = open_engine(db, workers, NULL);
        if (sked_register_type(s, noop_type, noop, NULL, err, sizeof err) < 0)
                die("register", err);
        const char **params = calloc((size_t) batch, sizeof *params);
        for (long i = 0; i < batch; i++)
                params[i] = "{}";
        double t0 = mono_s();
        for (long done = 0; done < n; done += batch) {
                long k = n - done < batch ? n - done : batch;
                if (sked_enqueue(s, "bench.noop", params, (size_t) k, NULL, err, sizeof err) < 0)
                        die("sked_enqueue", err);
        }
        double t1 = mono_s();
        if (sked_start(s, err, sizeof err) < 0)
                die("sked_start", err);
        double limit = t1 + 600;
        while (atomic_load(&done_count) < n && mono_s() < limit)
                sleep_us(200);
        /* the last completions are durable only after the loop's next commit */
        if (sked_wait_idle(s, 60000) < 0)
                die("sked_wait_idle", "timed out");
        double t2 = mono_s();
        long got = atomic_load(&done_count);
        stop_engine(s);
        printf("{\"n\": %ld, \"batch\": %ld, \"workers\": %u, \"completed\": %ld, \"enqueue_s\": %.3f,"
               " \"enqueue_per_s\": %.0f, \"drain_s\": %.3f, \"jobs_per_s\": %.0f}\n",
               n, batch, workers, got, t1 - t0, n / (t1 - t0), t2 - t1, got / (t2 - t1));
        return got == n ? 0 : 1;
}

/* ---- latency: steady offered load ---- */

static int64_t *lat;
static atomic_long lat_n;
static long lat_cap;

static int stamp(sked_run *run, void *ud) {
        (void) ud;
        int64_t now = real_us();
        const char *p = strstr(sked_run_params(run), "\"t\":");
        if (p) {
                int64_t t = strtoll(p + 4, NULL, 10);
                long i = atomic_fetch_add(&lat_n, 1);
                if (i < lat_cap)
                        lat[i] = now - t;
        }
        atomic_fetch_add(&done_count, 1);
        return SKED_RUN_OK;
}

static int bench_latency(const char *db, long rate, long seconds, unsigned workers) {
        char err[512];
        sked *s = open_engine(db, workers, NULL);
        if (sked_register_type(s, noop_type, stamp, NULL, err, sizeof err) < 0)
                die("register", err);
        if (sked_start(s, err, sizeof err) < 0)
                die("sked_start", err);
        long n = rate * seconds;
        lat_cap = n;
        lat = calloc((size_t) n, sizeof *lat);
        int64_t period = 1000000 / rate, t0 = real_us();
        long late = 0;
        for (long i = 0; i < n; i++) {
                int64_t due = t0 + i * period, now = real_us();
                if (now < due)
                        sleep_us(due - now);
                else if (now - due > 5000)
                        late++;
                char buf[64];
                int64_t t = real_us();
                snprintf(buf, sizeof buf, "{\"t\": %" PRId64 "}", t);
                const char *pp = buf;
                if (sked_enqueue(s, "bench.noop", &pp, 1, NULL, err, sizeof err) < 0)
                        die("sked_enqueue", err);
        }
        double achieved = n / ((real_us() - t0) / 1e6);
        double limit = mono_s() + 60;
        while (atomic_load(&done_count) < n && mono_s() < limit)
                sleep_us(1000);
        stop_engine(s);
        long m = atomic_load(&lat_n);
        if (m > n)
                m = n;
        qsort(lat, (size_t) m, sizeof *lat, cmp_i64);
        printf("{\"offered_per_s\": %ld, \"achieved_offered_per_s\": %.0f, \"enqueues_late_5ms\": %ld,"
               " \"started\": %ld, \"workers\": %u, \"start_latency_p50_ms\": %.3f, \"start_latency_p99_ms\": %.3f,"
               " \"start_latency_max_ms\": %.3f}\n",
               rate, achieved, late, m, workers, pct_ms(lat, (size_t) m, 50), pct_ms(lat, (size_t) m, 99),
               m ? lat[m - 1] / 1000.0 : -1);
        return m == n ? 0 : 1;
}

/* ---- sched: many series ----
 * The engine runs on an injected clock, real time plus an offset, so that the series can
 * be created and the idle poller measured while nothing is due, and then the clock is
 * moved to just before the instant A at which every series starts.  The offset is
 * constant while latencies are measured, so they are real-time latencies. */

static _Atomic int64_t clock_offset;
static int64_t anchor_us;     /* A */
static int64_t window_end_us; /* A + window */
static atomic_long fired_in_window;

static sked_instant bench_clock(void *ud) {
        (void) ud;
        return real_us() + atomic_load(&clock_offset);
}

static int due(sked_run *run, void *ud) {
        (void) ud;
        int64_t now = bench_clock(NULL), nominal = sked_run_nominal(run);
        if (nominal >= anchor_us && nominal < window_end_us) {
                long i = atomic_fetch_add(&lat_n, 1);
                if (i < lat_cap)
                        lat[i] = now - nominal;
                atomic_fetch_add(&fired_in_window, 1);
        }
        atomic_fetch_add(&done_count, 1);
        return SKED_RUN_OK;
}

static void fmt_wall(int64_t us, char *out, size_t len) {
        time_t t = (time_t) (us / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
}

static int bench_sched(const char *db, long S, long window_s, long idle_s, unsigned workers) {
        char err[512];
        int64_t now = real_us();
        anchor_us = (now / 60000000 + 24 * 60) * 60000000; /* a minute boundary a day ahead */
        window_end_us = anchor_us + window_s * 1000000;
        atomic_store(&clock_offset, anchor_us - 3600LL * 1000000 - now); /* the engine sees A - 1 h */
        sked *s = open_engine(db, workers, bench_clock);
        if (sked_register_type(s, "{\"name\": \"bench.tick\", \"handler\": {\"plugin\": true}}", due, NULL, err,
                               sizeof err) < 0)
                die("register", err);
        char start[32];
        fmt_wall(anchor_us, start, sizeof start);
        /* every series fires once a minute at second i % 60: S/60 are due each second;
         * created CREATE_BATCH at a time, each batch one transaction */
        enum { CREATE_BATCH = 1000 };
        static char texts[CREATE_BATCH][512];
        const char *batch[CREATE_BATCH];
        size_t nb = 0;
        double c0 = mono_s();
        long n_rrule = 0, n_cron = 0, n_every = 0;
        for (long i = 0; i < S; i++) {
                char *js = texts[nb], st2[32];
                int sec = (int) (i % 60);
                switch (i % 3) {
                case 0:
                        fmt_wall(anchor_us + sec * 1000000LL, st2, sizeof st2);
                        snprintf(js, sizeof texts[0],
                                 "{\"type\": \"bench.tick\", \"schedule\": \"every 60s\", \"start\": \"%s\"}", st2);
                        n_every++;
                        break;
                case 1:
                        snprintf(js, sizeof texts[0],
                                 "{\"type\": \"bench.tick\", \"schedule\": \"cron:%d * * * * *\", \"start\": \"%s\"}",
                                 sec, start);
                        n_cron++;
                        break;
                default:
                        snprintf(js, sizeof texts[0],
                                 "{\"type\": \"bench.tick\", \"schedule\": \"RRULE:FREQ=MINUTELY;BYSECOND=%d\","
                                 " \"start\": \"%s\"}",
                                 sec, start);
                        n_rrule++;
                        break;
                }
                batch[nb++] = js;
                if (nb == CREATE_BATCH || i == S - 1) {
                        if (sked_create_series_batch(s, batch, nb, NULL, err, sizeof err) < 0)
                                die("sked_create_series_batch", err);
                        nb = 0;
                }
        }
        double c1 = mono_s();
        fprintf(stderr, "sked_bench sched: created %ld series in %.1f s\n", S, c1 - c0);
        char walp[4200];
        snprintf(walp, sizeof walp, "%s-wal", db);
        struct stat wst;
        double wal_mb = stat(walp, &wst) == 0 ? wst.st_size / 1048576.0 : 0;
        if (sked_start(s, err, sizeof err) < 0)
                die("sked_start", err);
        sleep_us(3000000); /* start-up: recovery, first turns */
        double cpu0 = cpu_s(), w0 = mono_s();
        sleep_us(idle_s * 1000000);
        double idle_cpu_pct = 100.0 * (cpu_s() - cpu0) / (mono_s() - w0);
        double rss_idle = status_mb("VmRSS");
        /* move the engine's clock to A - 5 s and wake it */
        lat_cap = S * (window_s / 60 + 2) + 1000;
        lat = calloc((size_t) lat_cap, sizeof *lat);
        atomic_store(&clock_offset, anchor_us - 5000000 - real_us());
        double busy0 = cpu_s();
        sked_wait_idle(s, 1000);
        /* wait until the window has passed plus time to drain the last second */
        int64_t end_wait = window_end_us + 30000000;
        while (bench_clock(NULL) < window_end_us + 2000000)
                sleep_us(100000);
        long expected = 0;
        for (long i = 0; i < S; i++)
                expected += (window_s - (i % 60) + 59) / 60 > 0 ? (window_s - (i % 60) + 59) / 60 : 0;
        while (atomic_load(&fired_in_window) < expected && bench_clock(NULL) < end_wait)
                sleep_us(100000);
        double busy_cpu_s = cpu_s() - busy0; /* the process, firing and running the window */
        double rss = status_mb("VmRSS"), hwm = status_mb("VmHWM");
        long m = atomic_load(&lat_n);
        if (m > lat_cap)
                m = lat_cap;
        qsort(lat, (size_t) m, sizeof *lat, cmp_i64);
        printf("{\"series\": %ld, \"rules\": {\"every\": %ld, \"cron\": %ld, \"rrule\": %ld}, \"create_s\": %.1f,"
               " \"create_per_s\": %.0f, \"window_s\": %ld, \"due_per_s\": %.0f, \"expected\": %ld, \"fired\": %ld,"
               " \"due_to_start_p50_ms\": %.3f, \"due_to_start_p99_ms\": %.3f, \"due_to_start_max_ms\": %.3f,"
               " \"wal_mb_after_create\": %.0f, \"rss_mb\": %.1f, \"rss_peak_mb\": %.1f, \"rss_idle_mb\": %.1f, "
               "\"idle_cpu_pct\": %.3f, \"idle_s\": %ld,"
               " \"cpu_us_per_occurrence\": %.1f, \"rss_samples_mb\": %.1f}\n",
               S, n_every, n_cron, n_rrule, c1 - c0, S / (c1 - c0), window_s, S / 60.0, expected, m,
               pct_ms(lat, (size_t) m, 50), pct_ms(lat, (size_t) m, 99), m ? lat[m - 1] / 1000.0 : -1, wal_mb, rss, hwm,
               rss_idle, idle_cpu_pct, idle_s, m ? busy_cpu_s * 1e6 / (double) m : 0,
               /* in rss_mb: this program's own record of the latencies, not sked's */
               (double) m * sizeof *lat / 1048576.0);
        stop_engine(s);
        return 0;
}

/* ---- minutely: precision of K "* * * * *" jobs at one minute boundary ---- */

static FILE *minutely_out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static int minutely(sked_run *run, void *ud) {
        (void) ud;
        int64_t now = real_us();
        pthread_mutex_lock(&out_lock);
        fprintf(minutely_out, "%.6f\n", (now - sked_run_nominal(run)) / 1e6);
        fflush(minutely_out);
        pthread_mutex_unlock(&out_lock);
        atomic_fetch_add(&done_count, 1);
        return SKED_RUN_OK;
}

static int bench_minutely(const char *db, long k, unsigned workers, const char *outfile) {
        char err[512];
        minutely_out = fopen(outfile, "w");
        if (!minutely_out)
                die(outfile, strerror(errno));
        sked *s = open_engine(db, workers, NULL);
        if (sked_register_type(s, "{\"name\": \"bench.minutely\", \"handler\": {\"plugin\": true}}", minutely, NULL,
                               err, sizeof err) < 0)
                die("register", err);
        for (long i = 0; i < k; i++) {
                int64_t id;
                if (sked_create_series(s, "{\"type\": \"bench.minutely\", \"schedule\": \"cron:* * * * *\"}", &id, err,
                                       sizeof err) < 0)
                        die("sked_create_series", err);
        }
        if (sked_start(s, err, sizeof err) < 0)
                die("sked_start", err);
        double limit = mono_s() + 75;
        while (atomic_load(&done_count) < k && mono_s() < limit)
                sleep_us(50000);
        stop_engine(s);
        fclose(minutely_out);
        printf("{\"jobs\": %ld, \"fired\": %ld}\n", k, atomic_load(&done_count));
        return 0;
}

/* ---- command: runs of a command type that does nothing ---- */

static int bench_command(const char *db, long n, unsigned workers) {
        char err[512];
        sked *s = open_engine(db, workers, NULL);
        if (sked_register_type(s, "{\"name\": \"bench.true\", \"handler\": {\"command\": [\"/bin/true\"]}}", NULL, NULL,
                               err, sizeof err) < 0)
                die("register", err);
        const char **params = calloc((size_t) n, sizeof *params);
        if (sked_enqueue(s, "bench.true", params, (size_t) n, NULL, err, sizeof err) < 0)
                die("sked_enqueue", err);
        double t0 = mono_s();
        if (sked_start(s, err, sizeof err) < 0)
                die("sked_start", err);
        int r = sked_wait_idle(s, 300000);
        double t1 = mono_s();
        stop_engine(s);
        printf("{\"n\": %ld, \"workers\": %u, \"drain_s\": %.3f, \"runs_per_s\": %.0f, \"timed_out\": %s}\n", n,
               workers, t1 - t0, n / (t1 - t0), r < 0 ? "true" : "false");
        return r < 0;
}

int main(int argc, char **argv) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc >= 6 && strcmp(argv[1], "queue") == 0)
                return bench_queue(argv[2], atol(argv[3]), atol(argv[4]), (unsigned) atoi(argv[5]));
        if (argc >= 6 && strcmp(argv[1], "latency") == 0)
                return bench_latency(argv[2], atol(argv[3]), atol(argv[4]), (unsigned) atoi(argv[5]));
        if (argc >= 7 && strcmp(argv[1], "sched") == 0)
                return bench_sched(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]), (unsigned) atoi(argv[6]));
        if (argc >= 6 && strcmp(argv[1], "minutely") == 0)
                return bench_minutely(argv[2], atol(argv[3]), (unsigned) atoi(argv[4]), argv[5]);
        if (argc >= 5 && strcmp(argv[1], "command") == 0)
                return bench_command(argv[2], atol(argv[3]), (unsigned) atoi(argv[4]));
        fprintf(stderr, "usage: sked_bench queue DB N BATCH WORKERS | latency DB RATE SECONDS WORKERS |\n"
                        "       sched DB S WINDOW_S IDLE_S WORKERS | minutely DB K WORKERS OUTFILE\n");
        return 2;
}
