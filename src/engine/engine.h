/* engine: the poller/dispatcher loop and the worker pool.
 *
 * One loop thread is the engine's only writer of run state: each turn it commits,
 * in one transaction, what workers reported (messages, results, finished runs),
 * the occurrences that fell due, lease renewals and recoveries, and the runs it
 * claimed for idle workers (group commit: many changes share one flush).  Claimed
 * runs reach workers only after that commit, so a handler never starts on a run
 * whose `running` state is not on disk.  Workers run handlers and report back
 * through an in-memory queue.
 *
 * The API layer reads and writes series through its own store connection
 * (engine_thread_store) and calls engine_wake() after a change. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "base/civil.h"
#include "base/err.h"
#include "base/strbuf.h"
#include "model/ptype.h"
#include "sked/sked.h"
#include "store/store.h"

typedef struct engine engine;

typedef struct engine_config {
        const char *store_uri;
        unsigned workers; /* 0 = 4 */
        const char *node; /* NULL = hostname */
        sked_clock clock; /* NULL = real time */
        void *clock_userdata;
        int64_t lease_ms;      /* 0 = 30 s */
        int64_t late_after_ms; /* occurrences late by at most this run whatever the catch-up policy; 0 = 60 s */
        /* occurrences are fired and their runs claimed up to this far ahead of their
         * time, and started on time; 0 = 2 s with the real clock, off with an injected
         * one; < 0 = off (fired and claimed when due) */
        int64_t lookahead_ms;
        /* proof of life for a service manager's watchdog: called on the loop thread
         * after a turn (committed or not: a turn that finds the store away still
         * proves the loop runs), at most once per alive_every_ms, and the loop wakes
         * for it when idle; NULL or alive_every_ms <= 0: never.  `sked serve` sends
         * WATCHDOG=1 from it.  Must not block. */
        void (*alive)(void *userdata);
        void *alive_userdata;
        int64_t alive_every_ms;
        /* live events (GET /api/v1/events): how many the log keeps (the window a
         * client can resume in); 0 = 100,000 */
        int64_t events_keep;
} engine_config;

int engine_new(const engine_config *cfg, engine **ret, sked_err *err);
/* Recovers runs left running by a previous process, then starts the threads. */
int engine_start(engine *e, sked_err *err);
/* See sked_stop(). */
void engine_stop(engine *e, int64_t grace_ms);
void engine_free(engine *e);

/* Tells the loop that series or runs changed, so it recomputes when to wake. */
void engine_wake(engine *e);
/* engine_wake, and the same for every node on a shared database (st: the caller's
 * connection; the notification goes out when its transaction, if any, commits). */
void engine_changed(engine *e, store *st);
sked_time engine_now(engine *e);
/* Calls fn(userdata) on the loop thread after each turn that committed (the live
 * event streams read the log then).  Call before engine_start; fn must not block. */
void engine_on_commit(engine *e, void (*fn)(void *userdata), void *userdata);
const char *engine_node(const engine *e);

/* The calling thread's own store connection (opened on first use, closed when the
 * thread exits or the engine is freed). */
int engine_thread_store(engine *e, store **ret, sked_err *err);

/* ---- writes through the loop ----
 * fn runs on the loop thread, with the loop's connection st, inside the turn's
 * transaction and in a savepoint of its own (st's store_begin/store_end nest as
 * savepoints there): what fn writes commits with the turn or, when fn fails, is
 * rolled back alone.  fn may set *ret_reply (a new reference), handed to the
 * caller on success.  ctx belongs to the caller; fn must not keep it.  */
typedef int (*engine_write_fn)(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err);
/* Writes waiting for the loop, at most; engine_write answers -EBUSY beyond. */
#define ENGINE_WRITES_MAX 4096
/* Runs fn in the loop's next turn and waits until that turn committed: 0 means
 * the write is durable.  fn's own error, or the turn's (then nothing of fn's is
 * written), or -EBUSY (queue full; nothing done).  Any thread.  Before the engine
 * started or once it stops, fn runs on the caller's own connection in its own
 * transaction; on the loop thread (a write inside a write) it runs inline. */
int engine_write(engine *e, engine_write_fn fn, void *ctx, json_t **ret_reply, sked_err *err);

/* The same without waiting: done(ud, result, reply, err) is called exactly once,
 * when the turn committed or failed, on the loop thread (or at once, on the
 * caller's, when the queue is full or no loop runs); it takes the reply (may be
 * NULL) and must be quick: the loop waits for it.  ctx must live until then. */
typedef void (*engine_write_done_fn)(void *ud, int result, json_t *reply, const sked_err *err);
/* flags: ENGINE_WRITE_BLIND when fn only writes, with store calls that can send
 * without waiting (store.h, pipelines: store_series_insert), needs nothing it wrote
 * back before the commit, and may run twice (what it does in memory is done again,
 * or is harmless).  Blind writes side by side in a turn share one pipeline instead
 * of a savepoint each: on PostgreSQL one round trip for all of them.  When one of
 * them fails, none of that pipeline stays and each runs again in its own
 * savepoint, so only the failing one fails. */
enum { ENGINE_WRITE_BLIND = 1 };
void engine_write_async(engine *e, engine_write_fn fn, void *ctx, unsigned flags, engine_write_done_fn done, void *ud);

/* Waits (up to timeout_ms) until the loop completed its first turn: the poller's
 * health record and this node's heartbeat are written.  0 or -ETIMEDOUT. */
int engine_wait_started(engine *e, int64_t timeout_ms);

/* Waits until nothing is queued, running or in the engine's queues (see sked_wait_idle). */
int engine_wait_idle(engine *e, int64_t timeout_ms);

/* ---- types ---- */
/* Validates and stores a type definition (JSON manifest object, borrowed), binds
 * `fn` (plugin types) and registers a background type's series if it has none.
 * *ret_def (may be NULL) receives the normalized definition (new reference). */
int engine_type_register(engine *e, json_t *def, sked_handler fn, void *userdata, json_t **ret_def, sked_err *err);
/* The current definition of a type (new reference), or NULL. */
json_t *engine_type_json(engine *e, const char *name);
/* Deletes type `name` through the loop: refused (-EEXIST, field "force", the counts
 * in the message) while it has series or unfinished runs, unless `force`: then its
 * series are deleted (at most 10,000; their history stays), its queued runs end
 * "cancelled" and its running ones are asked to stop (by `by`).  *ret: {"name",
 * "series_deleted", "runs_cancelled", "runs_stopping"}.  -ENOENT (field "name"). */
int engine_type_delete(engine *e, const char *name, bool force, const char *by, json_t **ret, sked_err *err);
/* Registers the series of every background type that has none (sked poller init).
 * A type whose definition cannot make its series is skipped (logged): *ret_skipped
 * (may be NULL) receives [{"type", "detail"}], a new reference. */
int engine_poller_init(engine *e, int *ret_registered, json_t **ret_skipped, sked_err *err);
/* Loads plug-in shared objects and calls their sked_plugin_init. */
int engine_load_plugin(engine *e, const char *path, sked_err *err);

/* ---- series ---- */
/* Creates a series from a JSON request body: validates every field (type,
 * schedule, tz, start, end, count, params, query), computes its first due instant.
 * Nothing is written when anything is wrong. */
int engine_series_create(engine *e, store *st, json_t *in, series_row *ret, sked_err *err);
/* Creates the series of `list`, a JSON array of request bodies (borrowed), in one
 * store transaction: all of them or none.  Every element is validated as by
 * engine_series_create before anything is written.  An error names its element:
 * "<what>[i].schedule: ..." (what: "series" for libsked; "" over HTTP, where the
 * body is the array, giving "[i].schedule"); a list that is not an array of 1 to
 * ENGINE_SERIES_BATCH_MAX elements is -EINVAL on field `what` ("body" when empty).
 * *ret receives n rows in the order of `list` (ids ascending); the caller frees them
 * with series_rows_free(*ret, n).  Any thread, on its own connection `st`, which
 * must not be inside a transaction. */
#define ENGINE_SERIES_BATCH_MAX 10000
int engine_series_create_batch(engine *e, store *st, json_t *list, const char *what, series_row **ret, sked_err *err);
/* The two halves of engine_series_create, for a write through the loop: validate
 * and compute the first due instant (any thread, writes nothing; *ret is the row
 * to insert, the caller clears it), then insert `row` (sets its id) with st. */
int engine_series_build(engine *e, json_t *in, series_row *ret, sked_err *err);
int engine_series_insert(engine *e, store *st, series_row *row, sked_err *err);
/* The next occurrences of a schedule as series creation would read it, for a preview
 * (POST /api/v1/preview): `in` holds a series' schedule members (schedule, tz, start,
 * end, count, policy; type, optional, adds its policy defaults), validated as on create
 * and with the same field names in errors.  The anchor (an RRULE's DTSTART or an
 * interval's start when `start` is absent) is now, as for a series created now; lists
 * up to `limit` occurrences at or after `from` (0: now).  *ret: {"schedule",
 * "schedule_text", "tz", "kind", "items": [{"at", "local"}]} (the caller owns it).
 * -EINVAL / -ENOENT with err's field; any thread, writes nothing. */
#define ENGINE_PREVIEW_MAX 50
int engine_schedule_preview(engine *e, json_t *in, sked_time from, int limit, json_t **ret, sked_err *err);
/* The same for engine_series_create_batch: *ret receives n = json_array_size(list)
 * rows (series_rows_free); the insert writes all of them in one transaction (or
 * savepoint) or none. */
int engine_series_build_batch(engine *e, json_t *list, const char *what, series_row **ret, sked_err *err);
int engine_series_insert_batch(engine *e, store *st, series_row *rows, size_t n, const char *what, sked_err *err);
/* Applies the fields present in `patch` to series `id` if its version is
 * expected_version (0: the version read; -ESTALE otherwise), validating as on create.
 * When the rule changes, one-off changes of instants the new rule no longer has
 * are dropped: *ret_dropped (may be NULL) lists them. */
int engine_series_update(engine *e, store *st, int64_t id, json_t *patch, int64_t expected_version, series_row *ret,
                         json_t **ret_dropped, sked_err *err);
int engine_series_set_enabled(engine *e, store *st, int64_t id, bool enabled, const char *note, series_row *ret,
                              sked_err *err);
/* Queues a manual run of series `id` now, with `params` (may be NULL) overriding
 * some of the series' parameters. */
int engine_series_trigger(engine *e, store *st, int64_t id, json_t *params, run_row *ret, sked_err *err);
/* Deletes series `id` (see store_series_delete; `purge` also drops its history). */
int engine_series_delete(engine *e, store *st, int64_t id, bool purge, sked_err *err);

/* ---- run control (runctl.c; writes of the loop) ---- */
/* The error text of a run cancelled on request (who and why are the run's
 * cancelled_by and cancel_reason). */
#define RUN_CANCELLED_TEXT "cancelled on request"
/* Cancels run `id` for principal `by` with `reason` (may be NULL): a queued run
 * (waiting included) ends "cancelled" now; a running one is asked to stop (its
 * node's handler: a command's process group gets SIGTERM, then SIGKILL after the
 * type's grace; a plug-in sees sked_run_cancelled()) and ends "cancelled" when it
 * returns.  *ret: the run as it is now.  -ENOENT, -EEXIST (finished, or already
 * asked). */
int engine_run_cancel(engine *e, store *st, int64_t id, const char *by, const char *reason, run_row *ret,
                      sked_err *err);
/* Queues a new run repeating finished run `id` (type, series, nominal, params with
 * `params` (may be NULL) merged over them, query), trigger "rerun", rerun_of = id,
 * idempotency key "rerun:ID:N:attempt".  -ENOENT, -EEXIST (not finished), -EINVAL
 * (params; 1,000 re-runs already: -EEXIST). */
int engine_run_rerun(engine *e, store *st, int64_t id, json_t *params, run_row *ret, sked_err *err);
/* A queued run waiting for a later instant (a retry's backoff) may start now.
 * -ENOENT, -EEXIST (not so). */
int engine_run_retry_now(engine *e, store *st, int64_t id, run_row *ret, sked_err *err);

/* ---- one occurrence (see docs/calendar.md) ---- */
/* Changes one occurrence of series `id`, named by its nominal instant, one-off:
 * `in` may set "start" (a new time: UTC "...Z" or wall time in the series' zone;
 * null: back to the rule's), "params" (overrides; null: none), "enabled" (false:
 * it does not run), "note".  *ret is the occurrence as listed. */
int engine_occurrence_change(engine *e, store *st, int64_t id, sked_time nominal, json_t *in, json_t **ret,
                             sked_err *err);
/* Drops every one-off change of that occurrence. */
int engine_occurrence_reset(engine *e, store *st, int64_t id, sked_time nominal, sked_err *err);

/* ---- calendar ---- */
typedef struct calendar_query {
        sked_time from, to;    /* [from, to) */
        const char *tz;        /* the viewer's zone */
        const int64_t *series; /* NULL: all (not hidden) */
        size_t nseries;
        int limit;       /* occurrences at most */
        bool group_hour; /* dense series as one block per hour (CALENDAR_DENSE_SPACING) */
} calendar_query;
/* A series whose shown occurrences are closer than this on average over the range
 * (seconds) is dense: with group_hour, its occurrences are given as "blocks", one per
 * hour of the viewer's zone with their count, not one by one. */
#define CALENDAR_DENSE_SPACING 300
/* The plan in [from, to) as JSON text (*ret, caller frees; docs/calendar.md): the
 * earliest `limit` occurrences. */
int engine_calendar(engine *e, store *st, const calendar_query *q, char **ret, sked_err *err);
/* The plan as an iCalendar feed (series_id 0: all). */
int engine_calendar_ics(engine *e, store *st, int64_t series_id, sked_time from, sked_time to, char **ret,
                        sked_err *err);

/* ---- features ---- */
/* Whether type `name` belongs to a disabled feature (hidden from listings). */
bool engine_type_hidden(engine *e, const char *name);
/* Enables or disables a feature; *ret is its listing entry. */
int engine_feature_set(engine *e, store *st, const char *name, bool enabled, const char *note, json_t **ret,
                       sked_err *err);
/* The occurrences of a series in [from, to): past ones from the store with their
 * run state, future ones computed from the rule (state "planned").  At most `limit`,
 * the earliest; *ret_next_from (may be NULL) is 0 when that is all of them, else
 * the instant to continue from (the list was cut). */
int engine_series_occurrences(engine *e, store *st, const series_row *s, sked_time from, sked_time to, int limit,
                              json_t **ret, sked_time *ret_next_from, sked_err *err);

/* Queues n one-off runs of `type` (see sked_enqueue). */
int engine_enqueue(engine *e, store *st, const char *type, const char *const *params_json, size_t n,
                   int64_t *ret_ids /* n ids, or NULL */, sked_err *err);

/* The poller's health as JSON (store record + live figures). */
json_t *engine_poller_status(engine *e, store *st);

/* Appends the engine's metrics in the Prometheus text format (metrics.c): runs
 * started and finished, durations, start lateness, occurrences missed and skipped
 * (by type), the loop's turns and the poller role. */
void engine_metrics_write(engine *e, strbuf *b);
