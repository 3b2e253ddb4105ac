/* enqueue: one-off runs handed to the loop and written in its next turn (group commit). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"

int engine_insert_runs(engine *e, store *st, const char *type, char *const *texts, size_t n, sked_time now,
                       int64_t *ids, sked_err *err) {
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
                run_row run = {.type = (char *) type, .trigger = "manual", .params = texts[i], .attempt = 1,
                               .queued_at = now, .not_before = now};
                r = store_run_insert(st, &run, err);
                ids[i] = run.id;
                free(run.idem_key);
        }
        if (r == 0)
                r = store_notify(st, err); /* other nodes' workers may take them */
        (void) e;
        return r;
}

int engine_submit_runs(engine *e, enqueue_req *req) {
        pthread_mutex_lock(&e->lock);
        if (!e->started || e->draining || e->stopping) {
                pthread_mutex_unlock(&e->lock);
                return -ESHUTDOWN;
        }
        req->next = NULL;
        if (e->enq_tail)
                e->enq_tail->next = req;
        else
                e->enq_head = req;
        e->enq_tail = req;
        e->wake = true;
        pthread_cond_signal(&e->loop_cv);
        while (!req->done)
                pthread_cond_wait(&e->commit_cv, &e->lock);
        pthread_mutex_unlock(&e->lock);
        return req->result;
}

/* Answers the enqueue requests of a turn (committed: r == 0). */
void enqueue_done(engine *e, enqueue_req *reqs, int r, const sked_err *err) {
        if (!reqs)
                return;
        pthread_mutex_lock(&e->lock);
        for (enqueue_req *q = reqs, *nx; q; q = nx) {
                nx = q->next;
                q->result = r;
                if (r < 0 && err)
                        q->err = *err;
                q->done = true;
        }
        pthread_cond_broadcast(&e->commit_cv);
        pthread_mutex_unlock(&e->lock);
}
