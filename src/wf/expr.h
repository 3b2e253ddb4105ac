/* expr: workflow expressions in Lua 5.4, sandboxed.
 *
 * A wf_lua is one Lua state holding the compiled expressions of one definition
 * version (compiled once, at registration or when the version is first loaded).
 * Each evaluation runs in a fresh environment: the safe globals (assert, error,
 * ipairs, next, pairs, select, tonumber, tostring, type, rawequal, rawlen; the
 * string, table, math and utf8 libraries without string.dump; `time`), read
 * through read-only proxies, and `input`, `vars`, `steps` converted from JSON on
 * first use.  Nothing else exists: no io, os, require, load, dofile, debug,
 * coroutine, collectgarbage, getmetatable/setmetatable, pcall/xpcall (a caught
 * budget error would let a loop go on).  Chunks are loaded as text only (no
 * bytecode).
 *
 * Bounds per evaluation: WF_EXPR_STEPS VM instructions (lua_sethook; past them
 * every instruction fails, so nothing can catch it), WF_EXPR_MEM bytes allocated
 * beyond what the state held when it began (lua_Alloc; Lua collects garbage
 * before it gives up), and the JSON conversion bounds below both ways.
 *
 * `${ expr }` inside a string is an expression (wf_tmpl): a string that is only
 * `${ ... }` takes the expression's value and type (number, boolean, table as
 * JSON, nil as null); in a longer string each part is converted to text (tables
 * as compact JSON, nil as "").  A condition is a plain Lua expression; its truth
 * is Lua's (nil and false are false).
 *
 * Instants are sked's: integers of microseconds since the epoch, UTC.
 *
 * Threads: a wf_lua is used by one thread at a time (the engine's loop evaluates;
 * registration compiles into a state of its own). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"

#define WF_EXPR_STEPS 1000000         /* VM instructions per evaluation */
#define WF_EXPR_MEM (8 * 1024 * 1024) /* bytes an evaluation may allocate beyond the state's */
#define WF_EXPR_TEXT_MAX 16384        /* bytes of one expression's source */
#define WF_JSON_DEPTH 32              /* nesting of a value, both ways */
#define WF_JSON_ITEMS 100000          /* values in one conversion, both ways */
#define WF_JSON_BYTES (1024 * 1024)   /* bytes of strings in one conversion, both ways */

typedef struct wf_lua wf_lua;

/* What an evaluation sees.  Any pointer may be NULL (an empty object). */
typedef struct wf_scope {
        const json_t *input, *vars, *steps;
        sked_time now; /* time.now() */
} wf_scope;

/* A new state with the sandbox set up.  Returns 0 or -ENOMEM. */
int wf_lua_new(wf_lua **ret, sked_err *err);
void wf_lua_free(wf_lua *L);

/* Compiles the Lua expression `text` (not a statement: it is evaluated as
 * `return (text)`) and returns its handle in *ret.  Errors name `field`:
 * `steps[0].if: [string "..."]:1: unexpected symbol near '>'`.  -EINVAL or -ENOMEM. */
int wf_lua_compile(wf_lua *L, const char *text, const char *field, int *ret, sked_err *err);

/* Evaluates compiled expression h in a fresh environment; *ret is its value as JSON
 * (nil: JSON null; a new reference).  Errors (-EINVAL: a runtime error, the budget,
 * memory, a value JSON cannot hold) name `field`. */
int wf_lua_eval(wf_lua *L, int h, const wf_scope *sc, const char *field, json_t **ret, sked_err *err);

/* Evaluates h as a condition (Lua truth). */
int wf_lua_truth(wf_lua *L, int h, const wf_scope *sc, const char *field, bool *ret, sked_err *err);

/* A value with `${ ... }` parts compiled; immutable once made. */
typedef struct wf_tmpl wf_tmpl;

/* Compiles every `${ ... }` in the strings of v (any JSON), keeping literal parts
 * as they are.  An unclosed `${` or a part that does not compile is an error
 * naming field (and the key or index inside v: `set.x`, `params.list[2]`).
 * Returns 0 (*ret may be a template without expressions), -EINVAL or -ENOMEM. */
int wf_tmpl_compile(wf_lua *L, const json_t *v, const char *field, wf_tmpl **ret, sked_err *err);
/* Whether t has any expression (false: its value is the literal). */
bool wf_tmpl_dynamic(const wf_tmpl *t);
/* The value of t in sc (a new reference). */
int wf_tmpl_eval(wf_lua *L, const wf_tmpl *t, const wf_scope *sc, const char *field, json_t **ret, sked_err *err);
void wf_tmpl_free(wf_tmpl *t);

/* Bytes the state holds now (for tests and limits). */
size_t wf_lua_memory(const wf_lua *L);
