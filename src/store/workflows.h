/* workflows: workflow definitions (one row per version) and their instances: the
 * checkpoint (position, variables, step outputs, what it waits for), the journal
 * of its steps (for people, never replayed) and the signals sent to it.
 * Same conventions as store.h: 0 or a negative errno, messages in err, one
 * connection per thread; the caller holds the transaction where one is needed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

/* Stores definition (JSON text) as the next version of `name` (1 for a new one). */
int store_workflow_put(store *s, const char *name, const char *mode, const char *definition, sked_time now,
                       int64_t *ret_version, sked_err *err);
/* Version `version` of `name` (0: the newest): its JSON text (caller frees) and version.
 * -ENOENT with `workflow: "x": no such workflow` (or version). */
int store_workflow_get(store *s, const char *name, int64_t version, char **ret_definition, int64_t *ret_version,
                       sked_err *err);
/* [{name, version (the newest), mode, title, created_at, updated_at, versions}], by name. */
int store_workflows_list(store *s, json_t **ret, sked_err *err);
/* [{version, created_at, definition}] of `name`, newest first (at most limit). */
int store_workflow_versions(store *s, const char *name, int limit, json_t **ret, sked_err *err);

typedef struct instance_row {
        int64_t id;
        char *workflow;
        int64_t version;
        char *status, *reason;                      /* reason may be NULL */
        char *input, *vars, *steps;                 /* JSON objects */
        char *position;                             /* "3.1.0" (wf_pos_format) */
        char *wait_kind;                            /* NULL, "timer", "signal", "run" */
        char *wait_signal;                          /* signal */
        int64_t wait_run;                           /* run: the attempt waited for; 0 none */
        sked_time wait_until;                       /* timer: when it fires; 0 none */
        sked_time timeout_at;                       /* 0: none */
        sked_time due_at;                           /* when the loop looks at it next; 0: not until something happens */
        int64_t transitions, journal_seq;           /* steps begun or ended; the last journal entry */
        sked_time created_at, updated_at, ended_at; /* ended_at 0: not ended */
} instance_row;

void instance_row_clear(instance_row *r);
void instance_rows_free(instance_row *rows, size_t n);

/* Inserts r (every field but id); sets r->id. */
int store_instance_insert(store *s, instance_row *r, sked_err *err);
int store_instance_get(store *s, int64_t id, instance_row *ret, sked_err *err);
/* store_instance_get, and on PostgreSQL the row locked (FOR UPDATE) until the
 * transaction ends: the loop advances an instance while other nodes may pause,
 * cancel or signal it; their conditional updates then wait and see the new row. */
int store_instance_lock(store *s, int64_t id, instance_row *ret, sked_err *err);
/* Writes r's mutable fields (status through ended_at). */
int store_instance_update(store *s, const instance_row *r, sked_err *err);

/* Targeted transitions, each one conditional UPDATE (so a concurrent advance on
 * another node is never overwritten); *ret_changed false when the instance was
 * not in a state the operation applies to (or does not exist).
 * pause: queued, running or waiting -> paused (due_at cleared).
 * resume: paused -> waiting (a timer or signal wait), queued (never began) or
 *   running, due at `now` (what happened meanwhile is looked at).
 * cancel: any but succeeded, failed, canceled -> canceled with `reason`.
 * signal_wake: a waiting instance that waits for signal `name` is due at `now`. */
int store_instance_pause(store *s, int64_t id, sked_time now, bool *ret_changed, sked_err *err);
int store_instance_resume(store *s, int64_t id, sked_time now, bool *ret_changed, sked_err *err);
int store_instance_cancel(store *s, int64_t id, const char *reason, sked_time now, bool *ret_changed, sked_err *err);
int store_instance_signal_wake(store *s, int64_t id, const char *name, sked_time now, sked_err *err);
/* The instance is due at `at` (an advance the store refused: later, not at once). */
int store_instance_delay(store *s, int64_t id, sked_time at, sked_err *err);

typedef struct instance_filter {
        const char *workflow, *status; /* NULL = any */
        int64_t before_id;             /* newest first; 0 = from the newest */
        int limit;
} instance_filter;
int store_instances_list(store *s, const instance_filter *f, instance_row **ret, size_t *ret_n, sked_err *err);

/* Ids of instances due by `now` (due_at <= now), earliest first, at most limit. */
int store_instances_due(store *s, sked_time now, int limit, int64_t **ret_ids, size_t *ret_n, sked_err *err);
/* The earliest due_at of all instances (*ret_any false: none). */
int store_instances_next_due(store *s, sked_time *ret, bool *ret_any, sked_err *err);
/* Instances waiting for run `run_id` (and not paused) are due at `now`. */
int store_instances_wake_run(store *s, int64_t run_id, sked_time now, sked_err *err);
/* Every instance waiting for a run that has ended (a sweep: runs finished on other
 * nodes or recovered) is due at `now`; *ret_n how many. */
int store_instances_wake_ended_runs(store *s, sked_time now, int64_t *ret_n, sked_err *err);

/* The journal: entry seq of instance id. */
typedef struct journal_entry {
        const char *step, *path, *kind, *outcome, *detail; /* detail may be NULL */
        sked_time at;
        int64_t run_id; /* 0: none */
} journal_entry;
int store_journal_add(store *s, int64_t instance_id, int64_t seq, const journal_entry *e, sked_err *err);
/* [{seq, at, step, path, kind, outcome, detail, run_id}] after seq `after`, at most limit. */
int store_journal_list(store *s, int64_t instance_id, int64_t after, int limit, json_t **ret, sked_err *err);

/* Signals: kept until a wait for their name takes them (oldest first). */
int store_signal_add(store *s, int64_t instance_id, const char *name, const char *data, sked_time at, sked_err *err);
/* Takes (deletes) the oldest signal `name` of the instance: *ret_found, its data
 * (caller frees; may be NULL) and when it came. */
int store_signal_take(store *s, int64_t instance_id, const char *name, bool *ret_found, char **ret_data,
                      sked_time *ret_at, sked_err *err);
