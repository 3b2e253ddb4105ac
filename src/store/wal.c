/* wal: the SQLite WAL checkpointer and the writer's settings; the PostgreSQL
 * wake-up listener.  See wal.h. */
#include "store/wal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base/civil.h"
#include "base/log.h"
#include "store/db.h"

/* The WAL in frames (a page and its 24-byte header) past which the writer finishes
 * the checkpointer's work: once the checkpointer is close (WAL_GAP), or when the
 * WAL is too big (WAL_MAX) whatever the cost.  Left to grow, a WAL of gigabytes
 * made every page read search its index and every frame written a new block of
 * the file (measured at 1,000,000 series: 5 GB in a minute, and twice the CPU per
 * occurrence); even at 32,000 frames the poller needed 86 instead of 56 µs per
 * occurrence, and fell behind. */
#define WAL_RESTART 12000 /* about 47 MB, under journal_size_limit (64 MB) */
#define WAL_GAP 2048
#define WAL_MAX 24000
/* the writer's page cache: the poller's connection walks the series and runs
 * indexes every second, and a million series need about 128 MB of them in memory,
 * or each turn re-reads (and spills) pages */
#define WRITER_CACHE_MB 128

struct store_wal {
        store *writer; /* borrowed: the loop's connection */
        store *own;    /* the checkpointer's connection */
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cv;
        pthread_mutex_t pass; /* held through a checkpoint, by either thread */
        bool stopping;
        uint64_t commits;       /* the writer's commits, for the checkpointer */
        int64_t frames, copied; /* the checkpointer's last pass: WAL size, copied */
        int64_t retry_at;       /* monotonic µs: the writer's next copy, after one fell short */
};

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *lock, int64_t us) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (us % 1000000) * 1000;
        ts.tv_sec += us / 1000000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(cv, lock, &ts);
}

/* Copying the WAL back into the database (a checkpoint: writes and an fsync of
 * the database file) is done here, on its own connection and thread, after the
 * writer committed, at most every 100 ms (every 20 ms while behind), instead of
 * inside the writer's commits (SQLite's automatic checkpoint), where it held up
 * firing and claiming.  PASSIVE: it never blocks the writer.  But while the
 * writer writes without pause it never copies the whole WAL either, and the WAL
 * starts again from its beginning only after a checkpoint that did: the writer
 * finishes the job now and then (store_wal_committed).  A thread of its own has
 * no caller to return errors to: it logs them. */
static void *checkpoint_main(void *arg) {
        store_wal *w = arg;
        sked_err err = {0};
        uint64_t seen = 0;
        pthread_mutex_lock(&w->lock);
        while (!w->stopping) {
                if (w->commits == seen) {
                        pthread_cond_wait(&w->cv, &w->lock);
                        continue;
                }
                seen = w->commits;
                pthread_mutex_unlock(&w->lock);
                int64_t frames = 0, copied = 0;
                pthread_mutex_lock(&w->pass);
                if (store_checkpoint(w->own, &frames, &copied, &err) < 0)
                        log_warning("checkpointer: %s", err.msg);
                pthread_mutex_unlock(&w->pass);
                pthread_mutex_lock(&w->lock);
                if (frames) {
                        w->frames = frames;
                        w->copied = copied;
                }
                timed_wait(&w->cv, &w->lock, copied < frames ? 20000 : 100000);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

int store_wal_start(const char *uri, store *writer, store_wal **ret, sked_err *err) {
        *ret = NULL;
        if (store_is_postgres(writer))
                return 0;
        int r = store_cache_mb(writer, WRITER_CACHE_MB, err);
        if (r < 0)
                return r;
        store_wal *w = calloc(1, sizeof *w);
        if (!w)
                return err_set(err, -ENOMEM, "out of memory");
        w->writer = writer;
        pthread_mutex_init(&w->lock, NULL);
        pthread_mutex_init(&w->pass, NULL);
        pthread_cond_init(&w->cv, NULL);
        sked_err e2 = {0};
        if (store_open(uri, &w->own, &e2) < 0) {
                log_warning("checkpointer: %s (the WAL is checkpointed by commits instead)", e2.msg);
                goto fallback;
        }
        if (store_autocheckpoint(writer, false, &e2) < 0)
                goto fallback;
        if (pthread_create(&w->thread, NULL, checkpoint_main, w) != 0) {
                store_autocheckpoint(writer, true, &e2);
                goto fallback;
        }
        *ret = w;
        return 0;
fallback:
        store_close(w->own);
        free(w);
        return 0;
}

void store_wal_committed(store_wal *w) {
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->commits++;
        pthread_cond_signal(&w->cv);
        /* (the checkpointer's figures are from before the writer's last commits:
         * what the writer copies here is those commits' pages) */
        bool copy = w->frames >= WAL_RESTART && (w->frames - w->copied <= WAL_GAP || w->frames >= WAL_MAX) &&
                    time_mono_usec() >= w->retry_at;
        pthread_mutex_unlock(&w->lock);
        if (!copy)
                return;
        int64_t frames = 0, copied = 0;
        sked_err err = {0};
        /* the only writer: nothing is added meanwhile, so it copies all unless a
         * reader holds old pages (then the next try).  After the checkpointer's pass,
         * not beside it: that one (SQLite's checkpoint lock) made this one give up at
         * once, and behind a WAL of 100,000 frames the checkpointer is always in a
         * pass: the WAL then never started again (measured: 370,000 frames in 20 s). */
        pthread_mutex_lock(&w->pass);
        int r = store_checkpoint(w->writer, &frames, &copied, &err);
        pthread_mutex_unlock(&w->pass);
        if (r < 0)
                log_warning("checkpoint: %s", err.msg);
        pthread_mutex_lock(&w->lock);
        if (r == 0 && frames && copied == frames)
                w->frames = w->copied = 0;
        else /* a reader still uses old pages (a long API read?), or the checkpointer
              * was busy: not on every commit meanwhile, each costs an fsync */
                w->retry_at = time_mono_usec() + 100000;
        pthread_mutex_unlock(&w->lock);
}

void store_wal_stop(store_wal *w) {
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        store_close(w->own);
        pthread_mutex_destroy(&w->lock);
        pthread_mutex_destroy(&w->pass);
        pthread_cond_destroy(&w->cv);
        free(w);
}

struct store_listener {
        db_listener *l;
};

int store_listen_start(const char *uri, void (*cb)(void *), void *ud, store_listener **ret, sked_err *err) {
        db_listener *l = NULL;
        *ret = NULL;
        int r = db_listen_start(uri, STORE_NOTIFY_CHANNEL, cb, ud, &l, err);
        if (r < 0 || !l)
                return r;
        store_listener *s = calloc(1, sizeof *s);
        if (!s) {
                db_listen_stop(l);
                return err_set(err, -ENOMEM, "out of memory");
        }
        s->l = l;
        *ret = s;
        return 0;
}

void store_listen_stop(store_listener *s) {
        if (!s)
                return;
        db_listen_stop(s->l);
        free(s);
}
