/* alive: the loop's proof of life for a service manager's watchdog (cfg.alive).
 *
 * Called from the turn, not from a timer thread of its own: a loop that hangs (a
 * lock never released, a statement that never returns) stops the calls, and the
 * manager restarts the service.  A turn that failed (the store is away) still calls:
 * the loop is alive and retries every second, and a restart would not bring the
 * database back. */
#include "base/civil.h"
#include "engine/engine_internal.h"

static bool alive_on(const engine *e) {
        return e->cfg.alive && e->cfg.alive_every_ms > 0;
}

static void alive_after(engine *e, turn_ctx *t) {
        (void) t;
        if (!alive_on(e))
                return;
        int64_t now = time_mono_usec();
        if (e->alive.last_us && now - e->alive.last_us < e->cfg.alive_every_ms * 1000)
                return;
        e->alive.last_us = now;
        e->cfg.alive(e->cfg.alive_userdata);
}

/* An idle loop sleeps up to MAX_SLEEP_US: wake it in time for the next call. */
static sked_time alive_wake(engine *e, const turn_ctx *t) {
        if (!alive_on(e))
                return 0;
        int64_t left = e->alive.last_us + e->cfg.alive_every_ms * 1000 - time_mono_usec();
        return t->now + (left > 0 ? left : 0);
}

const turn_step alive_step = {"alive", 0, NULL, alive_after, alive_wake, NULL};
