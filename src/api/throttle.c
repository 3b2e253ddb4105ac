/* throttle: see throttle.h. */
#include "api/throttle.h"

#include <stdio.h>
#include <string.h>

#define PROBES 8

void throttle_init(throttle *t) {
        memset(t, 0, sizeof *t);
        pthread_mutex_init(&t->lock, NULL);
}

static uint64_t fnv(const char *s) {
        uint64_t h = 1469598103934665603ull;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ull;
        return h;
}

/* The slot of key, or (create) a free, forgotten or the least recently failed one
 * of its probes; NULL when not there and not creating. */
static throttle_slot *find(throttle *t, const char *key, bool create, sked_time now) {
        uint64_t h = fnv(key);
        throttle_slot *victim = NULL;
        bool victim_idle = false;
        for (int i = 0; i < PROBES; i++) {
                throttle_slot *s = &t->slots[(h + (uint64_t) i) % THROTTLE_SLOTS];
                bool idle = !s->key[0] || (now - s->last > THROTTLE_FORGET && now >= s->locked_until);
                if (s->key[0] && !strcmp(s->key, key)) {
                        if (idle)
                                s->fails = 0, s->locked_until = 0;
                        return s;
                }
                if (!victim_idle && (idle || !victim || s->last < victim->last)) {
                        victim = s;
                        victim_idle = idle;
                }
        }
        if (!create)
                return NULL;
        memset(victim, 0, sizeof *victim);
        snprintf(victim->key, sizeof victim->key, "%s", key);
        return victim;
}

static void key_of(char *buf, size_t n, const char *kind, const char *name) {
        snprintf(buf, n, "%s:%s", kind, name ? name : "");
}

sked_time throttle_wait(throttle *t, const char *user, const char *addr, sked_time now) {
        char ku[80], ka[80];
        key_of(ku, sizeof ku, "user", user);
        key_of(ka, sizeof ka, "addr", addr);
        sked_time wait = 0;
        pthread_mutex_lock(&t->lock);
        throttle_slot *s;
        if ((s = find(t, ku, false, now)) && s->locked_until > now)
                wait = s->locked_until - now;
        if ((s = find(t, ka, false, now)) && s->locked_until - now > wait)
                wait = s->locked_until - now;
        pthread_mutex_unlock(&t->lock);
        return wait;
}

static void fail_one(throttle_slot *s, uint32_t free_fails, sked_time now) {
        s->fails++;
        s->last = now;
        if (s->fails >= free_fails) {
                unsigned shift = s->fails - free_fails;
                sked_time lock = shift >= 20 ? THROTTLE_MAX_LOCK : ((sked_time) 1000000 << shift);
                if (lock > THROTTLE_MAX_LOCK)
                        lock = THROTTLE_MAX_LOCK;
                s->locked_until = now + lock;
        }
}

void throttle_failed(throttle *t, const char *user, const char *addr, bool locked, sked_time now) {
        char ku[80], ka[80];
        key_of(ku, sizeof ku, "user", user);
        key_of(ka, sizeof ka, "addr", addr);
        pthread_mutex_lock(&t->lock);
        t->failures[locked ? 1 : 0]++;
        if (!locked) { /* a refusal while locked does not lengthen the lock */
                fail_one(find(t, ku, true, now), THROTTLE_USER_FREE, now);
                fail_one(find(t, ka, true, now), THROTTLE_ADDR_FREE, now);
        }
        pthread_mutex_unlock(&t->lock);
}

void throttle_succeeded(throttle *t, const char *user, const char *addr) {
        char ku[80], ka[80];
        key_of(ku, sizeof ku, "user", user);
        key_of(ka, sizeof ka, "addr", addr);
        pthread_mutex_lock(&t->lock);
        throttle_slot *s;
        if ((s = find(t, ku, false, 0)))
                memset(s, 0, sizeof *s);
        if ((s = find(t, ka, false, 0)))
                memset(s, 0, sizeof *s);
        pthread_mutex_unlock(&t->lock);
}

json_t *throttle_lockouts(throttle *t, sked_time now) {
        json_t *a = json_array();
        pthread_mutex_lock(&t->lock);
        for (size_t i = 0; i < THROTTLE_SLOTS; i++) {
                const throttle_slot *s = &t->slots[i];
                if (!s->key[0] || s->locked_until <= now)
                        continue;
                const char *colon = strchr(s->key, ':');
                json_array_append_new(a, json_pack("{s:s#, s:s, s:I, s:I}", "kind", s->key, (int) (colon - s->key),
                                                   "name", colon + 1, "failures", (json_int_t) s->fails, "locked_until",
                                                   (json_int_t) s->locked_until));
        }
        pthread_mutex_unlock(&t->lock);
        return a;
}

void throttle_counts(throttle *t, uint64_t out[2]) {
        pthread_mutex_lock(&t->lock);
        out[0] = t->failures[0];
        out[1] = t->failures[1];
        pthread_mutex_unlock(&t->lock);
}
