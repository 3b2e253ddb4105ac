/* retention: deleting finished history past a type's retention.
 * Same conventions as store.h: 0 or a negative errno, messages in err, one
 * connection per thread; the caller holds the transaction where one is needed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

typedef struct purge_counts {
        int64_t runs, messages, results, occurrences;
} purge_counts;
/* Deletes up to `limit` finished runs of `type` that finished before `before`, with
 * their messages and results, and the type's occurrence rows older than `before`
 * that the poller's cursor has passed; adds what it deleted to *add. */
int store_purge(store *s, const char *type, sked_time before, int limit, purge_counts *add, sked_err *err);
