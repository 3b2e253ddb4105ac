/* schedcache: the poller's parsed schedules, by series id and version.  An
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
        schedule *s;
} schedcache_entry;

typedef struct schedcache {
        schedcache_entry *slots;
        size_t cap, n; /* cap is a power of two */
} schedcache;

/* The cached schedule of (series_id, version), or NULL.  A cached schedule of an
 * older version is freed and NULL returned. */
schedule *schedcache_get(schedcache *c, int64_t series_id, int64_t version);
/* Caches s (taking ownership); replaces an entry of the same series.  -ENOMEM (s is
 * then not taken). */
int schedcache_put(schedcache *c, int64_t series_id, int64_t version, schedule *s);
void schedcache_clear(schedcache *c);
