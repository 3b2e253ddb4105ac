#include "engine/schedcache.h"

#include <errno.h>
#include <stdlib.h>

static size_t slot_of(const schedcache *c, int64_t id) {
        uint64_t h = (uint64_t) id * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
        return (size_t) (h >> 20) & (c->cap - 1);
}

static schedcache_entry *find(const schedcache *c, int64_t id) {
        if (!c->cap)
                return NULL;
        for (size_t i = slot_of(c, id);; i = (i + 1) & (c->cap - 1)) {
                schedcache_entry *e = &c->slots[i];
                if (e->series_id == id || e->series_id == 0)
                        return e;
        }
}

static void drop(const schedcache *c, void *v) {
        if (c->free_value)
                c->free_value(v);
        else
                schedule_free(v);
}

void *schedcache_get(schedcache *c, int64_t series_id, int64_t version) {
        schedcache_entry *e = find(c, series_id);
        if (!e || e->series_id != series_id)
                return NULL;
        if (e->version == version)
                return e->v;
        drop(c, e->v); /* edited: keep the slot, drop the old rule */
        e->v = NULL;
        e->version = -1;
        return NULL;
}

static int grow(schedcache *c) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        schedcache_entry *slots = calloc(cap, sizeof *slots);
        if (!slots)
                return -ENOMEM;
        schedcache old = *c;
        c->slots = slots;
        c->cap = cap;
        for (size_t i = 0; i < old.cap; i++)
                if (old.slots[i].series_id)
                        *find(c, old.slots[i].series_id) = old.slots[i];
        free(old.slots);
        return 0;
}

int schedcache_put(schedcache *c, int64_t series_id, int64_t version, void *v) {
        if ((c->n + 1) * 10 > c->cap * 7 && grow(c) < 0)
                return -ENOMEM;
        schedcache_entry *e = find(c, series_id);
        if (e->series_id == series_id)
                drop(c, e->v);
        else
                c->n++;
        *e = (schedcache_entry){series_id, version, v};
        return 0;
}

void schedcache_clear(schedcache *c) {
        for (size_t i = 0; i < c->cap; i++)
                if (c->slots[i].v)
                        drop(c, c->slots[i].v);
        free(c->slots);
        *c = (schedcache){.free_value = c->free_value};
}
