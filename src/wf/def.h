/* def: workflow definitions: the structure check of a definition (YAML or JSON,
 * already read into JSON), its compiled form (the step tree with its expressions
 * compiled into one wf_lua), and positions in the tree.
 *
 * A definition: name, mode (`background`; `realtime` and `action` are recognised
 * and refused as not supported yet), optional title and description, `input` (the
 * parameter schema language of process types, as a list of entries or a mapping of
 * name to entry), and `steps`, a list of steps.  Each step has an `id` (unique in
 * the definition) and exactly one kind: set, if (with then/else), switch (with
 * default), wait, run, stop.  docs/workflows.md is the reference.
 *
 * Pure; a wf_def is immutable once built and used by one thread at a time (its
 * wf_lua is not thread-safe). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"
#include "wf/expr.h"

#define WF_NAME_MAX 128
#define WF_ID_MAX 64
#define WF_STEPS_MAX 1000 /* steps in a definition, nested ones included */
#define WF_NEST_MAX 16    /* nesting of step lists */
#define WF_POS_MAX (2 * WF_NEST_MAX + 1)
#define WF_ERRORS_MAX 100 /* errors reported by one check */

enum wf_kind { WF_SET, WF_IF, WF_SWITCH, WF_WAIT, WF_RUN, WF_STOP };
enum wf_wait { WF_WAIT_DURATION, WF_WAIT_UNTIL, WF_WAIT_AT, WF_WAIT_SIGNAL };

typedef struct wf_step wf_step;

typedef struct wf_steps {
        size_t n;
        wf_step *v;
} wf_steps;

struct wf_step {
        char *id;
        char *path; /* "steps[1].then[0]" */
        enum wf_kind kind;
        /* set */
        size_t nset;
        char **set_keys;
        wf_tmpl **set_vals;
        /* if: cond, then (branch 0), else (branch 1) */
        int cond;
        wf_steps then_, else_;
        /* switch: case i is branch i, default is branch ncases */
        size_t ncases;
        int *case_cond;
        wf_steps *cases;
        wf_steps dflt;
        /* wait */
        enum wf_wait wait;
        int64_t duration_us; /* duration */
        wf_tmpl *until;      /* until: an instant, or a wall time with zone */
        char *zone;          /* until, at: the zone of a wall time ("UTC" when absent) */
        int at_secs;         /* at: seconds after local midnight */
        char *signal;        /* signal */
        int64_t timeout_us;  /* 0: none */
        bool has_on_timeout; /* on_timeout is branch 0; without it a timeout fails */
        wf_steps on_timeout;
        /* run */
        char *type;
        wf_tmpl *params; /* an object, or NULL */
        /* stop */
        bool canceled;
        wf_tmpl *message; /* or NULL */
};

typedef struct wf_def {
        char *name, *mode, *title;
        json_t *input; /* the normalized parameter schema (an array; empty: no input) */
        wf_steps steps;
        size_t nsteps;
        wf_lua *lua;
} wf_def;

/* The top-level keys of a definition, NULL-terminated: what wf_def_build accepts, and
 * what POST /api/v1/workflows declares as its body's members. */
extern const char *const wf_def_keys[];

/* Whether a process type exists (registration checks `run` steps with it); NULL: not checked. */
typedef bool (*wf_type_exists_fn)(void *ud, const char *type);

/* Checks definition `in` and builds it.  Every error found (at most WF_ERRORS_MAX)
 * is appended to *ret_errors as {"field": path, "message": text} (ret_errors may
 * be NULL); err gets the first one, with the count when there are more:
 * `steps[2].then[0].set.x: ...`.  Returns 0 (*ret built), -EINVAL or -ENOMEM. */
int wf_def_build(const json_t *in, wf_type_exists_fn exists, void *ud, wf_def **ret, json_t **ret_errors,
                 sked_err *err);
void wf_def_free(wf_def *d);

/* ---- positions: a path to a step, [index, branch, index, branch, index ...] ---- */
typedef struct wf_pos {
        int n;
        int v[WF_POS_MAX];
} wf_pos;

/* The step at p, or NULL when p names none. */
const wf_step *wf_pos_step(const wf_def *d, const wf_pos *p);
/* Branch b of step s (if: 0 then, 1 else; switch: case b, ncases the default;
 * wait: 0 on_timeout), or NULL. */
const wf_steps *wf_step_branch(const wf_step *s, int b);
/* Moves p past the step it names: the next one in its list, or past the parent
 * step when the list ends.  Returns false when the definition's steps are done. */
bool wf_pos_next(const wf_def *d, wf_pos *p);
/* "3.1.0"; buf >= WF_POS_MAX * 8.  And back (-EINVAL on junk). */
void wf_pos_format(const wf_pos *p, char *buf, size_t len);
int wf_pos_parse(const char *s, wf_pos *ret);

/* The instant a timer wait of step s started at `now` is due (duration, until,
 * at); until's expression is evaluated in sc.  -EINVAL with a message naming the
 * step on a bad value. */
int wf_wait_due(const wf_def *d, const wf_step *s, const wf_scope *sc, sked_time now, sked_time *ret, sked_err *err);
