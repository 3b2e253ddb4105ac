/* ptype: process type definitions, validated and normalized from a manifest.
 *
 * A manifest (see docs/manifests.md) is read by manifest_parse()/manifest_load() into
 * JSON; ptype_from_json() checks every key and value and builds a `ptype`, whose `json`
 * member is the normalized definition that is stored and served by the API.  Feeding
 * that normalized JSON back to ptype_from_json() gives the same type (durations are
 * then read from the *_ms keys).
 *
 * A ptype is immutable once built; it may be read from any thread.  Not reference
 * counted: one owner frees it with ptype_free(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

#define PTYPE_NAME_MAX 64
#define PTYPE_TITLE_MAX 256
#define PTYPE_DESCRIPTION_MAX 16384
#define PTYPE_ARGV_MAX 256      /* entries in handler.command */
#define PTYPE_ARG_MAX 4096      /* bytes in one argument, env value, path */
#define PTYPE_ENV_MAX 100       /* entries in handler.env */
#define PTYPE_SCHEDULE_MAX 1024 /* bytes in series.schedule */

typedef struct ptype_retry {
        int max_attempts;           /* 1..100; 1 = no retry */
        int64_t initial_backoff_ms; /* delay before the 2nd attempt */
        int64_t max_backoff_ms;     /* cap on the growing delay */
        double multiplier;          /* 1.0..10.0 */
} ptype_retry;

/* A type's handler kind: the key of its manifest's `handler` mapping.  What each
 * kind does when a run starts is a row of the engine's table (engine/handler.h),
 * indexed by this; the parser (ptype.c, handler_kinds) is the only producer of a
 * kind, so a ptype never holds PTYPE_HANDLER_COUNT or beyond. */
typedef enum ptype_handler {
        PTYPE_HANDLER_COMMAND, /* {command: [...], workdir, env}: argv is set */
        PTYPE_HANDLER_PLUGIN,  /* {plugin: true}: a sked_handler in this process */
        PTYPE_HANDLER_COUNT    /* not a kind: how many there are */
} ptype_handler;

#define PTYPE_GRACE_DEFAULT_MS 5000 /* defaults.grace when absent (the kill grace before it existed) */
#define PTYPE_GRACE_MAX_MS 600000   /* at most 10 min */

typedef struct ptype {
        char *name;            /* "ledger.transfer" */
        char *title;           /* never NULL (defaults to name) */
        char *description;     /* may be NULL */
        char *feature;         /* may be NULL */
        bool background;       /* kind: background */
        ptype_handler handler; /* its handler kind */
        char **argv;           /* command handler: NULL-terminated; else NULL */
        size_t argc;
        char *workdir; /* may be NULL */
        char **env;    /* NULL-terminated "KEY=VALUE" list, never NULL */
        int64_t timeout_ms;
        int64_t grace_ms; /* defaults.grace: SIGTERM to SIGKILL of a command stopped early */
        int64_t retention_ms;
        int concurrency; /* 0 = unlimited */
        ptype_retry retry;
        /* The JSON members below are references owned by the ptype (borrow them, or
         * json_incref to keep them past ptype_free). */
        json_t *params;       /* normalized parameter schema (array) */
        json_t *query_fields; /* normalized query field list (array) */
        json_t *series;       /* background: {schedule, tz, params}; else NULL */
        json_t *policy;       /* defaults.policy: normalized overrides (policy.h), or NULL */
        json_t *json;         /* the whole normalized definition */
} ptype;

/* The manifest key of handler kind k ("command", "plugin"); NULL when k is not a
 * kind (PTYPE_HANDLER_COUNT or beyond).  Any thread. */
const char *ptype_handler_name(ptype_handler k);

/* True when `s` is a valid type or feature name: ^[a-z][a-z0-9_.-]{0,63}$. */
bool ptype_name_valid(const char *s);

/* The top-level keys of a manifest, NULL-terminated: what ptype_from_json accepts, and
 * what POST /api/v1/types declares as its body's members. */
extern const char *const ptype_manifest_keys[];

/* Validates a manifest's JSON (borrowed, not modified) and builds a type.
 * Errors are -EINVAL with a message naming the key at fault, e.g.
 * `defaults.timout: unknown key (expected one of: timeout, retry, concurrency, retention)`,
 * `handler: expected exactly one of command or plugin`; -ENOMEM on allocation failure.
 * *ret written only on success; free it with ptype_free(). */
int ptype_from_json(const json_t *def, ptype **ret, sked_err *err);

/* manifest_load() + ptype_from_json(); messages of the second step are prefixed with the
 * path: `ledger.yaml: defaults.timout: unknown key (...)` (err->field stays the key). */
int ptype_load(const char *path, ptype **ret, sked_err *err);

/* Frees a type and everything it owns; NULL is a no-op. */
void ptype_free(ptype *t);
