/* workers: the worker threads and the work list they take claimed runs from. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"
#include "engine/runlog.h"

/* Hands claimed jobs (in start order) to the workers: the work list stays in
 * start order, so that a job claimed ahead of its time does not hold up those due
 * now.  Called with e->lock held. */
void workers_merge(engine *e, job *claimed) {
        if (!claimed)
                return; /* (most turns: the list may hold tens of thousands of jobs) */
        job *last = claimed;
        while (last->next)
                last = last->next;
        /* the merge below takes the work list's job first on equal starts */
        if (e->work.work_tail && e->work.work_tail->start_at > last->start_at)
                last = e->work.work_tail;
        job *head = NULL, **tail = &head, *a = e->work.work_head, *b = claimed;
        while (a && b) {
                job **take = b->start_at < a->start_at ? &b : &a;
                job *j = *take;
                *take = j->next;
                *tail = j;
                tail = &j->next;
        }
        *tail = a ? a : b;
        e->work.work_head = head;
        e->work.work_tail = last;
}

/* Once every worker has gone, runs claimed ahead that no worker took are released:
 * queued again as they were (for the next start, or another node).
 * Called with e->lock held. */
void workers_unlink(engine *e, const int64_t *ids, size_t n, enum run_outcome outcome) {
        job **link = &e->work.work_head, *last = NULL;
        while (*link) {
                job *j = *link;
                bool take = !ids;
                for (size_t i = 0; i < n && !take; i++)
                        take = ids[i] == j->run.id;
                if (!take) {
                        last = j;
                        link = &j->next;
                        continue;
                }
                *link = j->next;
                j->next = NULL;
                event *ev = calloc(1, sizeof *ev);
                if (!ev)
                        abort(); /* cannot record it: better a crash, recovered at the next start */
                ev->kind = EV_FINISH;
                ev->j = j;
                ev->outcome = outcome;
                if (e->loop.ev_tail)
                        e->loop.ev_tail->next = ev;
                else
                        e->loop.ev_head = ev;
                e->loop.ev_tail = ev;
        }
        e->work.work_tail = last;
}

void workers_release_unstarted(engine *e) {
        workers_unlink(e, NULL, 0, OUT_UNSTARTED);
}

void *workers_main(void *arg) {
        engine *e = arg;
        pthread_mutex_lock(&e->lock);
        for (;;) {
                while (!e->work.work_head && !e->life.stopping)
                        pthread_cond_wait(&e->work.work_cv, &e->lock);
                if (!e->work.work_head)
                        break;
                job *j = e->work.work_head;
                sked_time wait = j->start_at - engine_now(e);
                if (wait > 0) {
                        /* claimed ahead: start on time.  Stopping, it is left for
                         * release_unstarted (queued again), not started early. */
                        if (e->life.stopping)
                                break;
                        engine_wait_real(&e->work.work_cv, &e->lock, wait);
                        continue;
                }
                e->work.work_head = j->next;
                if (!e->work.work_head)
                        e->work.work_tail = NULL;
                j->next = NULL;
                e->work.nbusy++;
                pthread_mutex_unlock(&e->lock);
                runlog_start(j);
                job_run(j); /* posts EV_FINISH; the loop frees the job */
                pthread_mutex_lock(&e->lock);
                e->work.nbusy--;
        }
        e->work.workers_alive--;
        pthread_cond_broadcast(&e->loop.idle_cv);
        pthread_mutex_unlock(&e->lock);
        return NULL;
}
