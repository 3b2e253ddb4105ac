/* Shared between the store's files; not an interface for other layers. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

struct store {
        db *d;
        bool lease_held;
        uint64_t lease_gen; /* the session the lease was taken in */
};

char *dup_or_null(const char *s);
/* Steps `st` to the end, turning each row into a JSON value with `row` (NULL values
 * are skipped); *ret is the array. */
int json_rows(db_stmt *st, json_t *(*row)(db_stmt *), json_t **ret, sked_err *err);
/* Steps `st` to the end, decoding each row into a growing array of `size`-byte
 * elements with `decode`; on failure frees what was decoded with `clear`. */
int collect(db_stmt *st, size_t size, void (*decode)(db_stmt *, void *), void (*clear)(void *), void **ret,
            size_t *ret_n, sked_err *err);
/* collect() for statements whose first column is an id (or any integer). */
int ids_collect(db_stmt *st, int64_t **ret, size_t *ret_n, sked_err *err);

/* SQL: 0 when the type named by the parameter belongs to a disabled feature, else 1. */
#define FEATURE_ON_OF_TYPE(t)                                                                       \
        "COALESCE((SELECT 0 FROM types ty JOIN features f ON f.name = ty.feature WHERE ty.name = " t \
        " AND f.enabled = 0), 1)"
