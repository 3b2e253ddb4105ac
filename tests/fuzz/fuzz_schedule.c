/* fuzz_schedule: a whole schedule (RRULE, cron or interval, in a zone, with its DST
 * policies) through schedule_parse, schedule_list and schedule_next
 * (src/sched/schedule.c, with the real tz database).  Input: lines "spec", "zone",
 * "start wall time", "policies" (two digits: gap, repeat).  Invariants:
 *  - schedule_list answers at most `max` instants, strictly ascending (no duplicates),
 *    all in [from, to);
 *  - schedule_next agrees with it: the first after from-1µs is the list's first, and
 *    the one after each listed instant is the next listed. */
#include <errno.h>

#include "fuzz.h"
#include "sched/schedule.h"

#define MAX 64
static const sked_time window_from = 1767225600LL * 1000000; /* 2026-01-01T00:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_text(data, size);
        if (!s)
                return 0;
        char *part[4];
        fuzz_lines(s, part, 4);
        schedule_opts o = {.tz = part[1][0] ? part[1] : NULL, .start_local = part[2][0] ? part[2] : NULL};
        o.anchor = window_from - 86400LL * 1000000;
        if (strlen(part[3]) >= 2) {
                o.gap_policy = part[3][0] - '0';
                o.repeat_policy = part[3][1] - '0';
        }
        schedule *sc = NULL;
        sked_err err = {0};
        if (schedule_parse(part[0], &o, &sc, &err) == 0) {
                sked_time out[MAX], from = window_from, to = window_from + 400LL * 86400 * 1000000;
                int n = schedule_list(sc, from, to, out, MAX);
                FUZZ_CHECK(n >= 0 && n <= MAX, "schedule_list answered %d", n);
                for (int i = 0; i < n; i++) {
                        FUZZ_CHECK(out[i] >= from && out[i] < to, "instant %lld outside the window",
                                   (long long) out[i]);
                        FUZZ_CHECK(i == 0 || out[i] > out[i - 1], "instant %d not after the one before", i);
                        sked_time nx;
                        int r = schedule_next(sc, i ? out[i - 1] : from - 1, &nx);
                        FUZZ_CHECK(r == 0 && nx == out[i], "schedule_next gave %lld, the list %lld",
                                   r ? -1LL : (long long) nx, (long long) out[i]);
                }
                if (n > 0 && n < MAX) {
                        sked_time nx;
                        FUZZ_CHECK(schedule_next(sc, out[n - 1], &nx) < 0 || nx >= to, "schedule_next past the list");
                }
                int64_t local;
                int32_t off;
                schedule_local(sc, from, &local, &off);
                schedule_free(sc);
        }
        free(s);
        return 0;
}
