/* schedcache: the poller's parsed schedules (or anything built from a series row),
 * by series id and version.  An
 * open-addressing hash table (linear probing, no deletion: an edited series
 * replaces its entry in place), so a lookup costs O(1) however many series there
 * are.  One owner thread (the loop). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sched/schedule.h"

typedef struct schedcache_entry {
        int64_t series_id; /* 0 = empty slot */
        int64_t version;
        void *v;
} schedcache_entry;

typedef struct schedcache {
        schedcache_entry *slots;
        size_t cap, n;              /* cap is a power of two */
        void (*free_value)(void *); /* frees a value; NULL: values are schedules (schedule_free) */
} schedcache;

/* The cached schedule of (series_id, version), or NULL.  A cached schedule of an
 * older version is freed and NULL returned. */
void *schedcache_get(schedcache *c, int64_t series_id, int64_t version);
/* Caches v (taking ownership); replaces an entry of the same series.  -ENOMEM (v is
 * then not taken). */
int schedcache_put(schedcache *c, int64_t series_id, int64_t version, void *v);
void schedcache_clear(schedcache *c);
