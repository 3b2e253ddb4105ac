/* handler: how a type does its work, one row per handler kind.
 *
 * A type's manifest names its handler kind (`handler: {command: [...]}` or
 * `{plugin: true}`, docs/manifests.md); the model parses it into the type
 * (ptype.h), and everything the engine does differently per kind is a field of that
 * kind's row here: how a run is executed, who enforces the timeout, whether the type
 * needs code registered in the process.  job_run and the loop ask the row; they
 * never test the kind.  A new kind is a new row (see docs/internals.md, "Handlers").
 *
 * The table is static and immutable: any thread may read it. */
#pragma once

#include <stdbool.h>

#include "model/ptype.h"

struct job;
struct event;

/* Who stops a run that outlived its type's timeout. */
enum handler_timeout {
        /* the kind's runner kills it itself (command: SIGTERM to the process group,
         * then SIGKILL) and reports the timeout in its outcome */
        HANDLER_TIMEOUT_OWN,
        /* it runs on the worker's thread and cannot be killed: the loop asks it to
         * stop (job.timed_out and job.cancel, seen as sked_run_cancelled) and the run
         * fails as timed out whatever the handler returns */
        HANDLER_TIMEOUT_COOPERATIVE,
};

typedef struct handler_ops {
        const char *name; /* the manifest key: "command", "plugin" */
        enum handler_timeout timeout;
        /* The type's work is a sked_handler in this process (a loaded plug-in or an
         * embedder registers it with sked_register_type): a definition without one
         * (API, CLI) is refused unless this node already has its function. */
        bool in_process;
        /* Runs job j (j->type is set) on the calling worker thread until it ends, and
         * fills in fin's outcome, text (a new string or NULL) and has_exit/exit_code.
         * Messages, results and progress are posted as they come; the caller posts fin
         * and measures the duration. */
        void (*run)(struct job *j, struct event *fin);
} handler_ops;

/* The row of t's handler kind; never NULL (a kind without a row is a broken
 * invariant and aborts).  Any thread. */
const handler_ops *handler_of(const ptype *t);
