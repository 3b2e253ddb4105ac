/* Shared between the store's files; not an interface for other layers. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

struct store {
        db *d;
        bool lease_held;
        uint64_t lease_gen; /* the session the lease was taken in */
};

char *dup_or_null(const char *s);

/* ---- reads: one shape (rows.c) ----
 * Every read turns the rows of one statement into an array of elements of one C
 * type, with the decoder of that type: a row_shape.  A domain defines one shape
 * per row type (series_shape, run_shape, ...) and reads with it everywhere, one row
 * (row_read) or many (rows_read); reads the store returns as JSON decode each row
 * into a json_t * (json_read).  Each function consumes the statement (db_done),
 * also on failure. */
typedef struct row_shape {
        size_t size;                             /* bytes per element */
        void (*decode)(db_stmt *st, void *elem); /* the current row into *elem */
        void (*clear)(void *elem);               /* frees what *elem owns; NULL: nothing */
} row_shape;

/* Every row: *(T **) ret gets the array (caller frees; NULL when there is none) and
 * *ret_n its length.  On failure nothing is returned and what was decoded is freed. */
int rows_read(db_stmt *st, const row_shape *shape, void *ret, size_t *ret_n, sked_err *err);
/* The first row, decoded into *(T *) ret: 1, or 0 when there was no row (ret
 * untouched).  A write's RETURNING row is read the same way (db_done steps it to
 * the end). */
int row_read(db_stmt *st, const row_shape *shape, void *ret, sked_err *err);
/* Every row, with a shape whose elements are json_t * (NULL ones are left out):
 * *ret is the JSON array. */
int json_read(db_stmt *st, const row_shape *shape, json_t **ret, sked_err *err);

/* A shape of json_t * elements made by `fn` (json_t *fn(db_stmt *)), for json_read. */
#define JSON_SHAPE(name, fn)                                                                                           \
        static void name##_decode(db_stmt *st, void *elem) {                                                           \
                *(json_t **) elem = fn(st);                                                                            \
        }                                                                                                              \
        static void name##_clear(void *elem) {                                                                         \
                json_decref(*(json_t **) elem);                                                                        \
        }                                                                                                              \
        static const row_shape name = {sizeof(json_t *), name##_decode, name##_clear}

/* Shapes of one column (the first). */
typedef struct int_col {
        int64_t v;
        bool null;
} int_col;
extern const row_shape id_shape;   /* int64_t */
extern const row_shape int_shape;  /* int_col: an integer that may be NULL */
extern const row_shape bool_shape; /* bool: PostgreSQL's 't' (or 1) */

/* SQL: 0 when the type named by the parameter belongs to a disabled feature, else 1. */
#define FEATURE_ON_OF_TYPE(t)                                                                                          \
        "COALESCE((SELECT 0 FROM types ty JOIN features f ON f.name = ty.feature WHERE ty.name = " t                   \
        " AND f.enabled = 0), 1)"
