/* write: writes handed to the loop, the single writer, and run in its next turn.
 *
 * A caller (an HTTP thread, libsked) queues a write_req and sleeps; the loop takes
 * the queue after its BEGIN and runs each request in its own savepoint of the
 * turn's transaction (store_begin nests), so a refused request changes nothing and
 * does not fail its neighbours; the callers hear their result once the turn
 * committed (or failed).  Many writes share one commit, one flush: with SQLite a
 * writer on its own connection queued behind the loop's write lock (whose busy
 * handler sleeps in milliseconds) and took 1.5 s at p99 under load.  Blind writes
 * (ENGINE_WRITE_BLIND) side by side share one pipeline and one savepoint instead
 * (apply_pipelined), and each gets its own only when one of them failed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/engine_internal.h"

/* the engine whose loop runs on this thread, if any: its writes run inline */
static _Thread_local engine *loop_here;

void writes_loop_thread(engine *e) {
        loop_here = e;
}

bool writes_on_loop_thread(const engine *e) {
        return loop_here == e;
}

/* Runs fn in a transaction of its own on st (or a savepoint, inside one). */
static int write_direct(engine *e, store *st, engine_write_fn fn, void *ctx, json_t **ret_reply, sked_err *err) {
        json_t *reply = NULL;
        int r = store_begin(st, err);
        if (r < 0)
                return r;
        r = fn(e, st, ctx, &reply, err);
        if ((r = store_end(st, r, err)) < 0) {
                json_decref(reply);
                return r;
        }
        if (ret_reply)
                *ret_reply = reply;
        else
                json_decref(reply);
        return 0;
}

int engine_write(engine *e, engine_write_fn fn, void *ctx, json_t **ret_reply, sked_err *err) {
        if (loop_here == e)
                return write_direct(e, e->st, fn, ctx, ret_reply, err); /* a write inside a write */
        write_req req = {.fn = fn, .ctx = ctx};
        pthread_mutex_lock(&e->lock);
        if (!e->life.started || e->life.draining || e->life.stopping) {
                /* no loop to take it (not started yet, or stopping): write it ourselves */
                pthread_mutex_unlock(&e->lock);
                store *st;
                int r = engine_thread_store(e, &st, err);
                return r < 0 ? r : write_direct(e, st, fn, ctx, ret_reply, err);
        }
        if (e->wr.nwrites >= ENGINE_WRITES_MAX) {
                pthread_mutex_unlock(&e->lock);
                return err_set(err, -EBUSY, "too many writes waiting for the store (%d); retry shortly",
                               ENGINE_WRITES_MAX);
        }
        TAILQ_INSERT_TAIL(&e->wr.writes, &req, link);
        e->wr.nwrites++;
        e->loop.wake = true;
        pthread_cond_signal(&e->loop.loop_cv);
        while (!req.done)
                pthread_cond_wait(&e->wr.commit_cv, &e->lock);
        pthread_mutex_unlock(&e->lock);
        if (req.result < 0) {
                if (err)
                        *err = req.err;
                return req.result;
        }
        if (ret_reply)
                *ret_reply = req.reply;
        else
                json_decref(req.reply);
        return 0;
}

void engine_write_async(engine *e, engine_write_fn fn, void *ctx, unsigned flags, engine_write_done_fn done, void *ud) {
        sked_err err = {0};
        json_t *reply = NULL;
        int r;
        pthread_mutex_lock(&e->lock);
        bool queue = loop_here != e && e->life.started && !e->life.draining && !e->life.stopping;
        write_req *req = queue ? calloc(1, sizeof *req) : NULL;
        if (req && e->wr.nwrites < ENGINE_WRITES_MAX) {
                req->fn = fn;
                req->ctx = ctx;
                req->flags = flags;
                req->done_fn = done;
                req->done_ud = ud;
                TAILQ_INSERT_TAIL(&e->wr.writes, req, link);
                e->wr.nwrites++;
                e->loop.wake = true;
                pthread_cond_signal(&e->loop.loop_cv);
                pthread_mutex_unlock(&e->lock);
                return;
        }
        pthread_mutex_unlock(&e->lock);
        if (req) {
                free(req);
                r = err_set(&err, -EBUSY, "too many writes waiting for the store (%d); retry shortly",
                            ENGINE_WRITES_MAX);
        } else {
                r = engine_write(e, fn, ctx, &reply, &err); /* no loop to queue for: here and now */
        }
        done(ud, r, reply, &err);
}

/* Writes per turn, at most: on PostgreSQL each is a subtransaction (blind writes
 * in a pipeline are one for all of them, or one each when it failed and was
 * undone: an aborted subtransaction leaves the cache), and past 64 in one
 * transaction its subtransaction cache overflows (every session's snapshots then
 * read pg_subtrans); with SQLite, a bound on the turn's length. */
#define WRITES_PER_TURN_PG 64
#define WRITES_PER_TURN 1024

void writes_take(engine *e, write_queue *ret) {
        size_t max = e->postgres ? WRITES_PER_TURN_PG : WRITES_PER_TURN;
        TAILQ_INIT(ret);
        pthread_mutex_lock(&e->lock);
        for (size_t n = 0; n < max && !TAILQ_EMPTY(&e->wr.writes); n++) {
                write_req *w = TAILQ_FIRST(&e->wr.writes);
                TAILQ_REMOVE(&e->wr.writes, w, link);
                TAILQ_INSERT_TAIL(ret, w, link);
                e->wr.nwrites--;
        }
        if (e->wr.nwrites)
                e->loop.wake = true; /* the rest in the next turn, at once */
        pthread_mutex_unlock(&e->lock);
}

/* One write in its own savepoint. */
static int apply_one(engine *e, write_req *w, sked_err *err) {
        /* the savepoint itself failing means the connection or the transaction is
         * gone: the whole turn fails (and every request with it) */
        int r = store_begin(e->st, err);
        if (r < 0)
                return r;
        size_t counted = e->metrics.npending; /* what a refused request counted goes with it */
        r = w->fn(e, e->st, w->ctx, &w->reply, &w->err);
        w->result = store_end(e->st, r, &w->err);
        if (w->result < 0)
                e->metrics.npending = counted;
        if (w->result < 0 && !w->err.code)
                w->err.code = w->result;
        if (w->result < 0) {
                json_decref(w->reply);
                w->reply = NULL;
        }
        return 0;
}

/* Blind writes from first up to end (excluded) in one pipeline: on PostgreSQL
 * their statements go out one after the other without waiting, their results
 * come back in one round trip, and there is one savepoint for them all (each
 * write is a subtransaction less).  A savepoint and an INSERT each, one round trip
 * apart, made the loop slower than the 4 HTTP threads writing side by side on
 * connections of their own had been.  When one fails, the pipeline is undone and
 * each runs again in its own savepoint (apply_one): what is refused is refused
 * alone, as without the pipeline, at the price of a second pass. */
static int apply_pipelined(engine *e, write_req *first, write_req *end, sked_err *err) {
        int r = store_pipeline_begin(e->st, err);
        if (r < 0)
                return r;
        sked_err werr = {0};
        write_req *w;
        size_t counted = e->metrics.npending;
        for (w = first; w != end && r >= 0; w = TAILQ_NEXT(w, link))
                r = w->fn(e, e->st, w->ctx, &w->reply, &werr);
        bool notify = r >= 0 && e->wr.notify && !e->wr.notified; /* with them, not a round trip after */
        if (notify)
                r = store_notify(e->st, &werr);
        if (store_pipeline_end(e->st, r, &werr) == 0) {
                e->wr.notified |= notify;
                return 0;
        }
        e->metrics.npending = counted; /* undone: counted again by the second pass */
        for (w = first; w != end; w = TAILQ_NEXT(w, link)) {
                json_decref(w->reply);
                w->reply = NULL;
                if ((r = apply_one(e, w, err)) < 0)
                        return r;
        }
        return 0;
}

int writes_apply(engine *e, write_queue *q, sked_err *err) {
        for (write_req *w = TAILQ_FIRST(q), *end; w; w = end) {
                size_t n = 1;
                end = TAILQ_NEXT(w, link);
                while ((w->flags & ENGINE_WRITE_BLIND) && end && (end->flags & ENGINE_WRITE_BLIND)) {
                        end = TAILQ_NEXT(end, link);
                        n++;
                }
                int r = n > 1 ? apply_pipelined(e, w, end, err) : apply_one(e, w, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

void writes_done(engine *e, write_queue *q, int r, const sked_err *err) {
        if (TAILQ_EMPTY(q))
                return;
        write_queue async;
        TAILQ_INIT(&async);
        pthread_mutex_lock(&e->lock);
        /* under e->lock: a waiting caller sees `done` (and leaves, its request with
         * it) only once the lock is released */
        for (write_req *w = TAILQ_FIRST(q), *nx; w; w = nx) {
                nx = TAILQ_NEXT(w, link);
                if (r < 0 && w->result == 0) {
                        /* its own work succeeded, but the turn did not commit */
                        w->result = r;
                        if (err)
                                w->err = *err;
                        json_decref(w->reply);
                        w->reply = NULL;
                }
                if (w->done_fn) {
                        TAILQ_REMOVE(q, w, link);
                        TAILQ_INSERT_TAIL(&async, w, link);
                } else {
                        w->done = true;
                }
        }
        TAILQ_INIT(q);
        pthread_cond_broadcast(&e->wr.commit_cv);
        pthread_mutex_unlock(&e->lock);
        for (write_req *w = TAILQ_FIRST(&async), *nx; w; w = nx) {
                nx = TAILQ_NEXT(w, link);
                w->done_fn(w->done_ud, w->result, w->reply, &w->err);
                free(w);
        }
}

static int writes_work(engine *e, turn_ctx *t, sked_err *err) {
        writes_take(e, &t->writes);
        e->wr.notify = e->wr.notified = false;
        int r = writes_apply(e, &t->writes, err);
        if (r == 0 && e->wr.notify && !e->wr.notified) /* other nodes look again (engine_changed) */
                r = store_notify(e->st, err);
        return r;
}

/* committed: the writes are durable, their callers hear it; else why not */
static void writes_after(engine *e, turn_ctx *t) {
        writes_done(e, &t->writes, t->result, t->err);
}

/* (no wake: engine_write wakes the loop) */
const turn_step writes_step = {"writes", 0, writes_work, writes_after, NULL, NULL};
