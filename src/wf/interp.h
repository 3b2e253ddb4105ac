/* interp: advances one workflow instance through its definition's steps, as a
 * pure function of its checkpoint (position, variables, step outputs), what
 * happened (a signal, a timer, a timeout, a run's end) and the instant.
 *
 * Inline steps (set, if, switch, stop) are executed here; a wait or a run stops
 * the advance with what the instance now waits for, which the caller stores (the
 * engine: in the loop's turn, with the checkpoint, in one transaction).  Nothing
 * here is replayed: the journal it returns is for people.
 *
 * Pure (no I/O); uses d's wf_lua, so one thread at a time per definition. */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"
#include "wf/def.h"

#define WF_INLINE_MAX 256         /* inline steps per advance; then it yields (goes on in the next turn) */
#define WF_VARS_MAX (1024 * 1024) /* bytes of an instance's vars (as JSON) */

/* The checkpoint.  The caller owns the JSON (new objects are swapped in). */
typedef struct wf_inst {
        json_t *input, *vars, *steps; /* objects */
        wf_pos pos;                   /* the step to run next, or the one waited on */
        bool waiting;                 /* pos names a wait or run step that has begun */
} wf_inst;

/* What happened to a waiting instance. */
enum wf_ev { WF_EV_NONE, WF_EV_TIMER, WF_EV_SIGNAL, WF_EV_TIMEOUT, WF_EV_RUN };

typedef struct wf_event {
        enum wf_ev kind;
        const char *signal; /* WF_EV_SIGNAL */
        json_t *data;       /* WF_EV_SIGNAL: its data; WF_EV_RUN: the run's output (steps.<id>) */
        bool run_ok;        /* WF_EV_RUN: the run succeeded */
        const char *error;  /* WF_EV_RUN: why it did not */
        sked_time at;       /* WF_EV_SIGNAL: when it arrived */
} wf_event;

enum wf_out {
        WF_OUT_WAIT,  /* a timer or a signal: wait_kind, due, signal, timeout_at */
        WF_OUT_RUN,   /* queue a run of `type` with `params`; then wait for it */
        WF_OUT_DONE,  /* status (succeeded, failed, canceled) and reason */
        WF_OUT_YIELD, /* WF_INLINE_MAX inline steps: go on in the next turn */
};

typedef struct wf_result {
        enum wf_out out;
        enum wf_wait wait;   /* WF_OUT_WAIT: WF_WAIT_SIGNAL, or a timer (the others) */
        sked_time due;       /* timer: when it fires */
        sked_time timeout;   /* 0: none */
        const char *signal;  /* the definition's (valid while d is) */
        const char *type;    /* WF_OUT_RUN */
        json_t *params;      /* WF_OUT_RUN (owned) */
        const char *step_id; /* WF_OUT_RUN: the step, for the run's key */
        const char *status;  /* WF_OUT_DONE */
        char reason[SKED_ERR_MSG_MAX];
        json_t *journal; /* [{step, path, kind, outcome, detail}] (owned), in order */
        int transitions; /* steps begun or completed */
} wf_result;

/* Advances `in` from its position with event ev (WF_EV_NONE: a new instance or one
 * that yielded) at instant `now`.  A step that fails (an expression error, a wait
 * that timed out without on_timeout, a run that failed) ends the instance failed
 * with a reason naming the step: that is an outcome, not an error.  Returns 0, or
 * -ENOMEM (*in is then unchanged as far as the caller stores it). */
int wf_advance(const wf_def *d, wf_inst *in, const wf_event *ev, sked_time now, wf_result *ret, sked_err *err);
void wf_result_clear(wf_result *r);
