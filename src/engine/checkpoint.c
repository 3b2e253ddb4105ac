/* checkpoint: the SQLite WAL checkpointer thread and the loop's WAL restarts. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"

/* The WAL in frames (a page and its 24-byte header) past which the loop finishes
 * the checkpointer's work: once the checkpointer is close (WAL_GAP), or when the
 * WAL is too big (WAL_MAX) whatever the cost.  Left to grow, a WAL of gigabytes
 * made every page read search its index and every frame written a new block of
 * the file (measured at 1,000,000 series: 5 GB in a minute, and twice the CPU per
 * occurrence); even at 32,000 frames the poller needed 86 instead of 56 µs per
 * occurrence, and fell behind. */
#define WAL_RESTART 12000 /* about 47 MB, under journal_size_limit (64 MB) */
#define WAL_GAP 2048
#define WAL_MAX 24000

/* After a commit, with e->lock held.  (The checkpointer's figures are from before
 * the loop's last commits: what the loop copies here is those commits' pages.) */
void checkpoint_wal_restart(engine *e) {
        if (!e->ckpt_started || e->wal_frames < WAL_RESTART ||
            (e->wal_frames - e->wal_copied > WAL_GAP && e->wal_frames < WAL_MAX) ||
            time_mono_usec() < e->wal_retry_at)
                return;
        pthread_mutex_unlock(&e->lock);
        int64_t frames = 0, copied = 0;
        sked_err err = {0};
        /* the only writer: nothing is added meanwhile, so it copies all unless a
         * reader holds old pages (then the next try).  After the checkpointer's pass,
         * not beside it: that one (SQLite's checkpoint lock) made this one give up at
         * once, and behind a WAL of 100,000 frames the checkpointer is always in a
         * pass: the WAL then never started again (measured: 370,000 frames in 20 s). */
        pthread_mutex_lock(&e->ckpt_pass);
        int r = store_checkpoint(e->st, &frames, &copied, &err);
        pthread_mutex_unlock(&e->ckpt_pass);
        pthread_mutex_lock(&e->lock);
        if (r < 0)
                log_warning("checkpoint: %s", err.msg);
        if (r == 0 && frames && copied == frames)
                e->wal_frames = e->wal_copied = 0;
        else /* a reader still uses old pages (a long API read?), or the checkpointer
              * was busy: not on every commit meanwhile, each costs an fsync */
                e->wal_retry_at = time_mono_usec() + 100000;
}

/* SQLite: copying the WAL back into the database (a checkpoint: writes and an
 * fsync of the database file) is done here, on its own connection and thread,
 * after the loop committed, at most every 100 ms (every 20 ms while behind),
 * instead of inside the loop's commits (SQLite's automatic checkpoint), where it
 * held up firing and claiming.  PASSIVE: it never blocks the loop.  But while the
 * loop writes without pause it never copies the whole WAL either, and the WAL
 * starts again from its beginning only after a checkpoint that did: the loop
 * finishes the job now and then (checkpoint_wal_restart). */
void *checkpoint_main(void *arg) {
        engine *e = arg;
        store *st = NULL;
        sked_err err = {0};
        if (engine_thread_store(e, &st, &err) < 0)
                log_warning("checkpointer: %s (the WAL is checkpointed by commits instead)", err.msg);
        uint64_t seen = 0;
        pthread_mutex_lock(&e->lock);
        while (!e->stopping && st) {
                if (e->commits == seen) {
                        pthread_cond_wait(&e->ckpt_cv, &e->lock);
                        continue;
                }
                seen = e->commits;
                pthread_mutex_unlock(&e->lock);
                int64_t frames = 0, copied = 0;
                pthread_mutex_lock(&e->ckpt_pass);
                if (store_checkpoint(st, &frames, &copied, &err) < 0)
                        log_warning("checkpointer: %s", err.msg);
                pthread_mutex_unlock(&e->ckpt_pass);
                pthread_mutex_lock(&e->lock);
                if (frames) {
                        e->wal_frames = frames;
                        e->wal_copied = copied;
                }
                engine_wait_real(&e->ckpt_cv, &e->lock, copied < frames ? 20000 : 100000);
        }
        pthread_mutex_unlock(&e->lock);
        return NULL;
}
