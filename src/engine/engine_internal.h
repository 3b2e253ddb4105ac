/* Shared between the engine's files; not an interface for other layers. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <sys/queue.h>

#include "engine/engine.h"
#include "engine/handler.h"
#include "engine/metrics.h"
#include "engine/schedcache.h"
#include "model/policy.h"
#include "sched/schedule.h"
#include "store/wal.h"

/* A registered type: immutable once published; replaced, never edited. */
typedef struct type_entry {
        struct type_entry *next;
        ptype *t;
        sked_handler fn;
        void *userdata;
        bool retired; /* replaced by a newer entry of the same name */
} type_entry;

/* A run claimed by this engine and handed to a worker. */
typedef struct job {
        struct job *next;
        engine *e;
        run_row run;
        const type_entry *type;
        int64_t seq; /* next message/result sequence number */
        int64_t n_info, n_warning, n_error, n_results, progress;
        volatile int cancel;     /* polled by the command handler (command_spec.cancel) */
        atomic_int timed_out;    /* set by the loop: the type's timeout passed */
        atomic_int superseded;   /* set by the loop: cancelled, RUN_CANCEL_OVERLAP (cancel_other) or
                                    RUN_CANCEL_REQUEST (POST /runs/{id}/cancel); 0 = not */
        _Atomic sked_time began; /* when a worker started it (0: waiting for one) */
        sked_time start_at;      /* not before: claimed ahead of its time (look-ahead) */
        sked_time lease_until;   /* its lease as last written (claim, renewal) */
        size_t inflight_ix;      /* its place in e->inflight (loop-owned) */
        char *params_text, *query_text;
} job;

enum event_kind { EV_MESSAGE, EV_RESULT, EV_PROGRESS, EV_FINISH };

/* OUT_UNSTARTED: claimed, never handed to its handler (the engine stopped first):
 * queued again as it was */
/* OUT_RETRACTED: claimed ahead, then its occurrence was taken back (series paused,
 * edited or deleted): the run row is gone, nothing to write */
enum run_outcome { OUT_OK, OUT_FAIL, OUT_RETRY, OUT_LOST, OUT_UNSTARTED, OUT_RETRACTED };

typedef struct event {
        struct event *next;
        enum event_kind kind;
        job *j;
        int64_t seq;
        sked_time at;
        int level;
        char *text, *key, *status, *data;
        /* EV_FINISH */
        enum run_outcome outcome;
        bool has_exit;
        int exit_code;
        int64_t duration_us; /* how long the handler ran (monotonic clock) */
} event;

/* A write handed to the loop (engine_write): run in the next turn, in its own
 * savepoint; its caller waits on commit_cv for `done` (it lives on the caller's
 * stack), or done_fn is called (engine_write_async: on the heap). */
typedef struct write_req {
        TAILQ_ENTRY(write_req) link;
        engine_write_fn fn;
        void *ctx;
        unsigned flags; /* ENGINE_WRITE_BLIND */
        json_t *reply;
        int result;
        sked_err err;
        bool done;
        engine_write_done_fn done_fn; /* engine_write_async: called after the turn, then freed */
        void *done_ud;
} write_req;
TAILQ_HEAD(write_queue, write_req);
typedef struct write_queue write_queue;

/* ---- the turn's steps (loop.c) ----
 * A turn is one transaction: BEGIN, each step's work in table order, COMMIT; then
 * each step's `after` (committed or not), then the steps that want a transaction
 * of their own; the loop then sleeps until the earliest instant a step's `wake`
 * names (or a wake-up: engine_wake, a worker's report, a write).  A new subsystem
 * (workflow timers, signals) is one more step: a row in loop.c's table. */
typedef struct turn_ctx {
        sked_time now;       /* the turn's instant, taken after BEGIN */
        bool role;           /* this node holds the poller role (fires, recovers) */
        bool draining;       /* stopping: fire and claim nothing */
        int result;          /* the turn's outcome, for `after` (< 0: rolled back) */
        const sked_err *err; /* why, when result < 0 */
        event *events;       /* what workers reported, taken after BEGIN */
        write_queue writes;  /* writes taken after BEGIN */
        int fired;           /* occurrences fired */
        sked_time next_due;  /* the next fire instant (any_due) */
        bool any_due;
        sked_time next_ready; /* the earliest not_before of a queued run (any_ready) */
        bool any_ready;
        job *claimed;                /* claimed this turn, handed to workers after the commit */
        poller_health health_before; /* restored when the turn fails */
        int64_t mono_start;          /* time_mono_usec() when the turn began */
} turn_ctx;

enum { STEP_OWN_TRANSACTION = 1 }; /* runs after the turn's commit, in a transaction of its own */

typedef struct turn_step {
        const char *name;
        unsigned flags;
        /* its work, inside the turn's transaction (or its own); < 0 fails the turn
         * (STEP_OWN_TRANSACTION: only its own transaction, and it is logged) */
        int (*work)(engine *e, turn_ctx *t, sked_err *err);
        /* optional, after the commit (t->result == 0) or the rollback: hand out what
         * was decided, or forget it; runs for every step, even one whose work did not */
        void (*after)(engine *e, turn_ctx *t);
        /* optional, after `after`: the instant the step wants the next turn (0: none) */
        sked_time (*wake)(engine *e, const turn_ctx *t);
        /* optional, before `work`: whether it has work this turn (NULL: always).  A
         * STEP_OWN_TRANSACTION step that is not due costs no transaction: an empty
         * BEGIN and COMMIT after every turn were two round trips on PostgreSQL */
        bool (*due)(const engine *e, const turn_ctx *t);
} turn_step;

/* the steps, each in the file of its subsystem */
extern const turn_step role_step;      /* poller.c: the poller role (PostgreSQL: the advisory lock) */
extern const turn_step events_step;    /* loop.c: what workers reported */
extern const turn_step eventlog_step;  /* eventlog.c: the live events' log, pruned to its window */
extern const turn_step writes_step;    /* write.c: API writes, each in its savepoint */
extern const turn_step fire_step;      /* fire.c: due occurrences */
extern const turn_step lease_step;     /* lease.c: recover expired leases, renew ours */
extern const turn_step claim_step;     /* claim.c: ready runs for the workers */
extern const turn_step health_step;    /* poller.c: heartbeat, the poller's health record */
extern const turn_step retention_step; /* retention.c: purge (own transaction) */
extern const turn_step workflow_step;  /* workflow.c: workflow instances that are due */
extern const turn_step metrics_step;   /* metrics.c: counts what the turn committed (after only) */
extern const turn_step alive_step;     /* alive.c: proof of life for a watchdog (cfg.alive) */

/* The engine.  Fields are grouped by the file that owns them (writes them); the
 * others read them, under `lock` where the comment says so. */
struct engine {
        /* set up by engine_new, read by all */
        engine_config cfg;
        char *store_uri, *node;
        store *st;                  /* the loop's connection */
        bool postgres;              /* a shared database: cluster rules apply */
        sked_time ahead;            /* look-ahead (µs): fired and claimed this early, started on time */
        pthread_mutex_t lock;       /* the queues, lists and flags between threads */
        pthread_mutex_t plans_lock; /* the API threads' plans (api_plans), held while one is used */
        schedcache api_plans;       /* (calendar.c, feed.c) */

        struct { /* engine.c: lifecycle, clock, connections */
                pthread_key_t store_key;
                pthread_mutex_t conns_lock;
                store **conns; /* every per-thread connection, closed at engine_free */
                size_t nconns;
                bool started, draining, stopping; /* under lock */
                int64_t stopping_since;           /* monotonic µs */
                sked_time started_at, last_clock_sync;
                _Atomic int64_t clock_offset; /* the database's clock minus ours (PostgreSQL) */
                store_listener *listener;
                store_wal *wal; /* SQLite: the checkpointer (store maintenance hooks) */
        } life;

        struct { /* loop.c: the loop thread and its turn */
                pthread_cond_t loop_cv, idle_cv;
                bool wake; /* under lock: turn again at once */
                pthread_t loop_thread;
                int64_t turn_us;          /* how long the last turn took (loop-owned) */
                uint64_t turns;           /* completed turns, for wait_idle */
                bool idle;                /* nothing queued/running at the end of the last turn */
                event *ev_head, *ev_tail; /* reported by workers, waiting for the loop */
        } loop;

        struct { /* write.c: writes waiting for the loop (engine_write) */
                write_queue writes;
                size_t nwrites;
                pthread_cond_t commit_cv; /* a turn committed (or failed): write_req results */
                bool notify;              /* loop-owned: a write of this turn called engine_changed */
                bool notified;            /* loop-owned: and its NOTIFY went in a pipeline that stays */
        } wr;

        struct { /* workers.c: the worker pool and its work list (under lock) */
                pthread_t *workers;
                unsigned nworkers;
                unsigned workers_alive;
                unsigned nbusy;             /* workers running a job */
                job *work_head, *work_tail; /* claimed, committed, waiting for a worker */
                pthread_cond_t work_cv;
        } work;

        struct {                /* claim.c: claims and the inflight list */
                job **inflight; /* claimed and not yet finished (loop writes, under lock) */
                size_t ninflight, capinflight;
                double handler_us;    /* moving average of handler durations, for the claim look-ahead */
                bool claim_blocked;   /* the last claim found ready runs but none it may start */
                sked_time claim_wake; /* runs claimable ahead but passed over (concurrency limit): then */
        } claim;

        struct { /* lease.c: renewals, recovery, cancels (loop-owned) */
                struct cancel_later {
                        int64_t id;
                        int why; /* RUN_CANCEL_* */
                } * cancels;     /* runs to stop once the turn commits */
                size_t ncancel, capcancel;
                sked_time last_renew, last_recover;
        } lease;

        struct { /* registry.c: types, features, plug-ins */
                pthread_rwlock_t types_lock;
                type_entry *types;
                char **features_off; /* disabled features (under types_lock) */
                size_t nfeatures_off;
                void **plugins;
                size_t nplugins;
        } reg;

        struct {                   /* fire.c */
                schedcache scache; /* the loop's plans */
        } fire;

        struct wf_engine *wf; /* workflow.c: compiled definitions, the next due instance (loop-owned) */

        struct { /* poller.c (and retention.c): the role and the health record (loop-owned) */
                poller_health health;
                bool poller_role; /* this node fires occurrences and recovers leases */
                sked_time last_heartbeat, last_purge;
        } poller;

        struct { /* eventlog.c: the live events' log (loop-owned; the hook set before the start) */
                sked_time last_prune;
                void (*committed)(void *userdata);
                void *committed_userdata;
        } evlog;

        engine_metrics metrics;  /* metrics.c: counters for /metrics */
        struct {                 /* alive.c (loop-owned) */
                int64_t last_us; /* monotonic µs of the last cfg.alive call, 0: none yet */
        } alive;
};

#define PURGE_EVERY_US (60 * SKED_USEC)
#define EVENTS_PRUNE_EVERY_US (2 * SKED_USEC)
#define PURGE_BATCH 1000 /* finished runs purged per type per turn */
#define RECOVER_EVERY_US (2 * SKED_USEC)
#define HEARTBEAT_EVERY_US (1 * SKED_USEC)
#define MAX_SLEEP_US (5 * SKED_USEC)
#define AHEAD_MAX 65536 /* runs claimed ahead of their time, at most */

/* engine.c: lifecycle, clock */
/* PostgreSQL with the real clock: measures the database's clock offset (the loop, every 2 s). */
void engine_sync_clock(engine *e);

/* loop.c: the loop thread and its turn */
void *loop_main(void *arg);
void engine_post(engine *e, event *ev);
void event_free(event *ev);
/* Waits on cv for `span` µs of real time, at most MAX_SLEEP_US (the injected clock
 * may not be real time: the caller looks at it again). */
void engine_wait_real(pthread_cond_t *cv, pthread_mutex_t *lock, int64_t span);

/* enqueue.c: inserts one-off runs with the caller's store (inside its transaction). */
int engine_insert_runs(engine *e, store *st, const char *type, char *const *texts, size_t n, sked_time now,
                       int64_t *ids, sked_err *err);

/* write.c: the loop's side of engine_write */
/* Marks the calling thread as e's loop: its engine_write calls run inline. */
void writes_loop_thread(engine *e);
bool writes_on_loop_thread(const engine *e);
/* Takes the queued writes (after the turn's BEGIN). */
void writes_take(engine *e, write_queue *ret);
/* Runs each in its own savepoint of the open transaction; a request that fails
 * keeps its error and changes nothing.  <0 only when the turn must fail. */
int writes_apply(engine *e, write_queue *q, sked_err *err);
/* Answers them (r < 0: the turn failed, so did every request) and empties q. */
void writes_done(engine *e, write_queue *q, int r, const sked_err *err);

/* registry.c: types, features, plug-ins */
const type_entry *engine_type_find(engine *e, const char *name);
/* Whether type t belongs to a disabled feature (its runs wait, its series rest). */
bool engine_type_off(engine *e, const type_entry *t);
/* Reloads which features are disabled (a change may come from another node). */
int registry_features_refresh(engine *e, store *st, sked_err *err);
void registry_features_off_free(char **names, size_t n);
/* Brings the registry in line with the store (other nodes register types too). */
int registry_types_refresh(engine *e, store *st, sked_err *err);
/* Registers the series of background type t if it has none (*ret_created). */
int registry_background_series(engine *e, store *st, const ptype *t, bool *ret_created, sked_err *err);

/* finish.c: a run's end, its retry or recovery */
int finish_job(engine *e, job *j, const event *ev, sked_time now, sked_err *err);
/* Queues the next attempt of `run` (retry after failure or recovery after a lost lease). */
int finish_requeue(engine *e, const run_row *run, const char *trigger, sked_time not_before, sked_time now,
                   int64_t *ret_id, sked_err *err);
int finish_max_attempts(engine *e, const char *type);

/* claim.c: claims and the inflight list (written by the loop, under e->lock) */
/* Claims what the workers can take; returns how many (or < 0), *ret_horizon the latest
 * not_before it looked at. */
int claim_runs(engine *e, sked_time now, job **ret_head, sked_time *ret_horizon, sked_err *err);
size_t claim_depth(const engine *e);
size_t claimed_due(engine *e, sked_time now, size_t limit);
int claim_inflight_add(engine *e, job *j);
void claim_inflight_remove(engine *e, job *j);

/* series.c: `params` (a JSON object, or NULL/null: none) merged over the parameters
 * `base` (JSON text) and validated against `type`'s schema: *ret the result's text
 * (caller frees), NULL when there were no overrides.  -EINVAL (field "params"),
 * -ENOENT (field "type"). */
int engine_params_override(engine *e, const char *type, const char *base, json_t *params, char **ret, sked_err *err);

/* lease.c: renewals, recovery, cancels */
/* Recovers runs whose lease expired before `before` (SKED_TIME_MAX: all running). */
int lease_recover_expired(engine *e, sked_time now, sked_time before, sked_err *err);
void lease_expire_plugin_runs(engine *e, sked_time now);
int lease_renew(engine *e, sked_time now, sked_err *err);
/* A turn rolled back: what it renewed is not on disk; all is renewed next turn. */
void lease_renewals_unknown(engine *e);
/* Asks this node's handlers of these runs to stop: superseded for `why` (RUN_CANCEL_*). */
void engine_cancel_local(engine *e, const int64_t *run_ids, size_t n, int why);
/* The loop's version: remembered during the turn, signalled by engine_cancel_flush
 * after the commit (dropped if the turn rolls back). */
int engine_cancel_later(engine *e, const int64_t *run_ids, size_t n, int why);
void engine_cancel_flush(engine *e, bool committed);
/* Takes back the occurrences of a series fired ahead whose runs have not started
 * (store_series_retract, in the caller's transaction), and drops this node's jobs of
 * them.  For a pause, a rule edit or a deletion: those apply to them too. */
int engine_series_retract(engine *e, store *st, int64_t series_id, sked_err *err);

/* retention.c */
int retention_purge(engine *e, sked_time now, sked_err *err);

/* workers.c: the worker threads and the work list (under e->lock) */
void *workers_main(void *arg);
void workers_merge(engine *e, job *claimed);
/* Unlinks these jobs (ids NULL: all) from the work list; each finishes with `outcome`. */
void workers_unlink(engine *e, const int64_t *ids, size_t n, enum run_outcome outcome);
void workers_release_unstarted(engine *e);

/* series.c */
/* engine_series_create; `internal` (type registration) may set "background": true. */
int series_create(engine *e, store *st, json_t *in, bool internal, series_row *ret, sked_err *err);
/* Its first half: validates `in` and computes the first due instant into *ret
 * (series_row_clear it, also on error); writes nothing. */
int series_build_row(engine *e, json_t *in, bool internal, series_row *ret, sked_err *err);
/* The instant a rule without a start is anchored at, for a series created at `created`. */
sked_time series_anchor(const char *spec, sked_time created);
/* pol (may be NULL: defaults) supplies the DST overrides. */
int series_schedule_parse(const series_row *s, sked_time anchor, const policy *pol, schedule **ret, sked_err *err);

/* fire.c: what a series needs to fire, built from its row and type; immutable. */
typedef struct series_plan {
        schedule *sc;
        policy pol; /* effective: defaults, type, series */
        sleep_window *sleep;
        size_t nsleep;
        const type_entry *te; /* the type it was built with (a re-registered type rebuilds it) */
        /* the calendar's memo (API threads' plans only): the rule's instants in the
         * last range listed, since a week is viewed again and again.  One pointer:
         * the poller keeps a plan per series, a million of them. */
        struct plan_memo *memo;
} series_plan;

typedef struct plan_memo {
        sked_time from, to;
        int n;
        sked_time at[]; /* n instants */
} plan_memo;
int series_plan_build(engine *e, const series_row *s, series_plan **ret, sked_err *err);
/* The plan of a series from the API threads' cache (not the loop's, e->scache);
 * the caller holds e->plans_lock while it uses the plan.  NULL when the series'
 * rule does not parse. */
series_plan *engine_plan_cached(engine *e, const series_row *s);
void series_plan_free(void *sp);
/* The effective policy of a series. */
int series_policy(engine *e, const series_row *s, policy *ret, sked_err *err);
/* The jitter delay of an occurrence (stable; 0 without jitter). */
sked_time series_jitter(const series_row *s, const series_plan *sp, sked_time nominal);
/* Fires what is due (rules and moved occurrences), inside the loop's transaction. */
int engine_fire_due(engine *e, sked_time now, int *ret_fired, sked_err *err);

/* run.c */
/* Runs j on the calling worker thread through its kind's row (handler_of) and posts
 * its EV_FINISH; the loop frees the job. */
void job_run(job *j);
void job_free(job *j);
/* What a running job logs, from its worker's thread, within the run's limits: a
 * message (level SKED_INFO..SKED_ERROR; past the message cap, dropped) and a result
 * (-EINVAL without a key, -ENOSPC past the result cap, -E2BIG for data over 1 MiB).
 * The text is copied, cut to valid UTF-8.  For handler runners (handler.c). */
void job_post_message(job *j, int level, const char *text);
int job_post_result(job *j, const char *key, const char *status, const char *data);
