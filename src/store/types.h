/* types: the store's process types (their definitions as JSON text) and the
 * features that group them.
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

/* ---- process types ---- */
int store_type_put(store *s, const char *name, bool background, const char *feature, const char *definition,
                   sked_time now, sked_err *err);
/* A JSON array of the stored definitions, ordered by name. */
int store_type_list(store *s, json_t **ret, sked_err *err);

/* How many series and unfinished (queued or running) runs type `name` has. */
int store_type_usage(store *s, const char *name, int64_t *ret_series, int64_t *ret_unfinished, sked_err *err);
/* The ids of type `name`'s series, ascending, at most limit (caller frees *ret). */
int store_type_series(store *s, const char *name, int limit, int64_t **ret, size_t *ret_n, sked_err *err);
/* Deletes the type's row: -ENOENT (field "name") when there is none.  Its series
 * must be gone first (the foreign key); its runs stay, history. */
int store_type_delete(store *s, const char *name, sked_err *err);

/* ---- features ---- */
/* Enables or disables a feature: its types' series stop (or start again) being
 * scheduled and listed.  *ret_series (may be NULL) gets how many series changed. */
int store_feature_set(store *s, const char *name, bool enabled, const char *note, sked_time now, int64_t *ret_series,
                      sked_err *err);
/* Every feature named by a type or set explicitly:
 * [{"name","enabled","note","changed_at","types","series"}] by name. */
int store_features_list(store *s, json_t **ret, sked_err *err);
