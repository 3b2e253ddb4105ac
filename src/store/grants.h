/* grants: what an admin lets an operator change beyond the series they own: every
 * series of a type, or of the types of a feature (docs/security.md "Roles").  Same
 * conventions as store.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/err.h"

typedef struct store store;

#define GRANTS_MAX 256 /* of one user, types and features together */

/* The grants of user `name` as {"types": [...], "features": [...]}, each by name;
 * -ENOENT with err when there is no such user. */
int store_grants_get(store *s, const char *name, json_t **ret, sked_err *err);

/* Replaces the grants of user `name` with types[0..nt) and features[0..nf). */
int store_grants_put(store *s, const char *name, const char *const *types, size_t nt, const char *const *features,
                     size_t nf, sked_err *err);

/* *ret: user `name` holds a grant of `type` or of its feature. */
int store_grant_covers(store *s, const char *name, const char *type, bool *ret, sked_err *err);
