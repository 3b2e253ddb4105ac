/* workflow: durable workflow instances in the engine: registering definitions,
 * starting instances, signals, pause/resume/cancel, and the loop's turn step that
 * advances the instances that are due (workflow_step, engine_internal.h).
 *
 * Inline steps run inside the loop's turn and commit with it; a `run` step
 * becomes an ordinary run (retries, leases, idempotency key
 * `wf:INSTANCE:STEP:ATTEMPT`) whose end advances its instance in the turn that
 * records it.  Each instance is pinned to the definition version it started
 * with; the loop keeps each version it has used compiled (one wf_lua each).
 *
 * The _apply functions are engine_write_fn's: they run on the loop thread (through
 * engine_write / api_write_through_loop), each in its savepoint, with `op` as
 * context; a refused request changes nothing.  The others are thread-safe. */
#pragma once

#include <jansson.h>

#include "engine/engine.h"
#include "wf/def.h"

#define WF_SIGNAL_DATA_MAX (64 * 1024) /* bytes of a signal's data (JSON) */
#define WF_INPUT_MAX (256 * 1024)      /* bytes of an instance's input (JSON) */

/* Checks definition `in` as registration does, with the engine's types for `run`
 * steps (any thread).  *ret_errors: every error (see wf_def_build). */
int engine_workflow_check(engine *e, const json_t *in, wf_def **ret, json_t **ret_errors, sked_err *err);

/* POST /api/v1/workflows: stores `text` (a checked definition) as the next
 * version of `name`; out: version. */
typedef struct wf_register_op {
        char name[WF_NAME_MAX + 1];
        char mode[16];
        char *text; /* the definition as JSON (the caller's) */
        int64_t version;
} wf_register_op;
int engine_workflow_register_apply(engine *e, store *st, void *op, json_t **ret_reply, sked_err *err);

/* Starts an instance of the newest version of `name` with `input` (a JSON object
 * text, NULL = {}; validated against the definition's input); out: the
 * instance's view (engine_instance_json), the caller's reference. */
typedef struct wf_start_op {
        char name[WF_NAME_MAX + 1];
        char *input;
        json_t *instance;
} wf_start_op;
int engine_workflow_start_apply(engine *e, store *st, void *op, json_t **ret_reply, sked_err *err);

/* signal, cancel, pause, resume of instance `id`; out: its view after. */
enum wf_instance_verb { WF_SIGNAL, WF_CANCEL, WF_PAUSE, WF_RESUME };
typedef struct wf_instance_op {
        int64_t id;
        enum wf_instance_verb verb;
        char signal[WF_NAME_MAX + 1];
        char *data; /* signal: JSON text or NULL; cancel: the reason or NULL */
        json_t *instance;
} wf_instance_op;
int engine_instance_apply(engine *e, store *st, void *op, json_t **ret_reply, sked_err *err);

/* The one JSON view of an instance row: id, workflow, version, status, reason,
 * input, vars, steps, position, wait ({kind, signal, until, timeout_at, run_id}
 * or null), transitions, created_at, updated_at, ended_at (instants as UTC text). */
struct instance_row;
json_t *engine_instance_json(const struct instance_row *r);

/* Frees what the engine holds for workflows (engine_free). */
void engine_workflows_free(engine *e);
