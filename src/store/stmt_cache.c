/* stmt_cache: see stmt_cache.h. */
#include "store/stmt_cache.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static size_t slot_of(const stmt_cache *c, const char *key) {
        /* Fibonacci hashing of the address; literals are at least byte-aligned, so
         * keep every bit */
        uint64_t h = (uint64_t) (uintptr_t) key * UINT64_C(0x9e3779b97f4a7c15);
        return (size_t) (h >> 32) & (c->cap - 1);
}

db_stmt *stmt_cache_get(const stmt_cache *c, const char *key) {
        if (!c->cap)
                return NULL;
        for (size_t i = slot_of(c, key);; i = (i + 1) & (c->cap - 1)) {
                if (c->keys[i] == key)
                        return c->stmts[i];
                if (!c->keys[i])
                        return NULL;
        }
}

static void insert(stmt_cache *c, const char *key, db_stmt *s) {
        size_t i = slot_of(c, key);
        while (c->keys[i])
                i = (i + 1) & (c->cap - 1);
        c->keys[i] = key;
        c->stmts[i] = s;
        c->n++;
}

int stmt_cache_put(stmt_cache *c, const char *key, db_stmt *s) {
        if ((c->n + 1) * 2 > c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 128;
                stmt_cache grown = {calloc(cap, sizeof *grown.keys), calloc(cap, sizeof *grown.stmts), cap, 0};
                if (!grown.keys || !grown.stmts) {
                        free(grown.keys);
                        free(grown.stmts);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < c->cap; i++)
                        if (c->keys[i])
                                insert(&grown, c->keys[i], c->stmts[i]);
                free(c->keys);
                free(c->stmts);
                *c = grown;
        }
        insert(c, key, s);
        return 0;
}

void stmt_cache_clear(stmt_cache *c, void (*destroy)(db_stmt *)) {
        for (size_t i = 0; i < c->cap; i++)
                if (c->keys[i])
                        destroy(c->stmts[i]);
        free(c->keys);
        free(c->stmts);
        *c = (stmt_cache){0};
}
