/* stmt_cache: a connection's prepared statements, keyed by the address of the
 * caller's SQL text (string literals: the same text is the same statement).
 *
 * The map holds pointers to statements the backend allocated one by one, so a
 * statement never moves while the connection lives: a caller may hold one handle
 * while it prepares others.  No ceiling and no eviction: the keys are the program's
 * SQL literals, a set fixed at build time (about 80).  One connection, one thread. */
#pragma once

#include <stddef.h>

#include "store/db.h"

typedef struct stmt_cache {
        const char **keys; /* open addressing; NULL: a free slot */
        db_stmt **stmts;
        size_t cap, n; /* cap: 0 or a power of two, at least twice n */
} stmt_cache;

/* The statement prepared for `key`, or NULL. */
db_stmt *stmt_cache_get(const stmt_cache *c, const char *key);
/* Records `s` (owned by the backend) under `key`, which must not be there yet.
 * -ENOMEM when the map cannot grow (nothing changed then). */
int stmt_cache_put(stmt_cache *c, const char *key, db_stmt *s);
/* Calls destroy on every statement and frees the map; the cache is empty after. */
void stmt_cache_clear(stmt_cache *c, void (*destroy)(db_stmt *));
