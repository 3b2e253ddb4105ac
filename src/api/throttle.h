/* throttle: failed logins counted per account and per client address in a table of
 * fixed size (bounded memory whatever the attacker sends), and the lock-outs they
 * cause: from the FAILS_FREE-th failure of a key, each further failure locks it for
 * twice as long as the last (1 s, 2 s, 4 s, ... at most THROTTLE_MAX_LOCK); a key
 * with no failure for THROTTLE_FORGET is forgotten.  Accounts lock after
 * THROTTLE_USER_FREE failures, addresses after THROTTLE_ADDR_FREE (an address tries
 * many names).  A success clears the account's and the address's counts.
 * Thread-safe (one mutex). */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/civil.h"

#define THROTTLE_SLOTS 4096
#define THROTTLE_USER_FREE 5
#define THROTTLE_ADDR_FREE 20
#define THROTTLE_MAX_LOCK (15 * 60 * (sked_time) 1000000)
#define THROTTLE_FORGET (60 * 60 * (sked_time) 1000000)

typedef struct throttle_slot {
        char key[80]; /* "user:NAME" or "addr:ADDRESS"; "" free */
        uint32_t fails;
        sked_time last, locked_until;
} throttle_slot;

typedef struct throttle {
        pthread_mutex_t lock;
        throttle_slot slots[THROTTLE_SLOTS];
        uint64_t failures[2]; /* counted: wrong credentials, refused while locked */
} throttle;

void throttle_init(throttle *t);

/* How long (microseconds) a login for user from addr must wait: 0 when it may try. */
sked_time throttle_wait(throttle *t, const char *user, const char *addr, sked_time now);
/* A failed login (locked: it was refused while locked, else wrong credentials). */
void throttle_failed(throttle *t, const char *user, const char *addr, bool locked, sked_time now);
/* A good login: the account's and the address's counts go. */
void throttle_succeeded(throttle *t, const char *user, const char *addr);
/* The keys locked at now: [{"kind":"user"|"addr","name","failures","locked_until"(integer)}]. */
json_t *throttle_lockouts(throttle *t, sked_time now);
/* The counters (index 0: wrong credentials, 1: refused while locked). */
void throttle_counts(throttle *t, uint64_t out[2]);
