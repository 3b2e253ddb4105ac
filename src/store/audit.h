/* audit: the log of every change made through the API (who, when, from where,
 * what); rows are written in the transaction of the change.  Same conventions as
 * store.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

typedef struct audit_entry {
        sked_time at;
        const char *actor, *via, *addr; /* via: "token", "session", "none" */
        const char *method, *path;
        const char *change;         /* JSON text of the request's body, secrets removed; may be NULL */
        const char *before, *after; /* JSON text of the resource before and after; may be NULL */
} audit_entry;

/* Appends e (with db_send: inside a pipeline it is sent with the rest). */
int store_audit_insert(store *s, const audit_entry *e, sked_err *err);

typedef struct audit_filter {
        const char *actor;       /* NULL: anyone */
        const char *path_prefix; /* NULL: any path */
        const char *method;      /* NULL: any */
        sked_time since, until;  /* 0: no bound; since <= at < until */
        int64_t before;          /* ids below this (pagination), 0: from the newest */
        int64_t limit;
} audit_filter;

/* Entries matching f, newest first, as JSON [{id, at (integer), actor, via, addr,
 * method, path, change, before, after (each parsed JSON or null)}]. */
int store_audit_list(store *s, const audit_filter *f, json_t **ret, sked_err *err);
