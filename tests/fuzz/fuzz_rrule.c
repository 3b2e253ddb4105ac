/* fuzz_rrule: RRULE text through rrule_parse and the expansion (src/sched/rrule.c).
 * The first byte picks DTSTART among a few wall times (before 1970, a leap day, a
 * month's end, ordinary); the rest is the rule.  Invariants of every accepted rule:
 *  - the walls come out strictly ascending (so without duplicates), none before
 *    DTSTART, none after rrule_until_local nor after 2582-12-31T23:59:59;
 *  - each rrule_iter_next examines at most RRULE_SEARCH_STEPS periods and days (the
 *    work bound, rrule_iter_steps is its witness), plus the one period in hand;
 *  - the first wall exists (rrule_parse refuses a rule that produces none);
 *  - an iterator started just after a wall w[m-1] yields w[m], w[m+1], ... again: the
 *    restart at the period holding `from` agrees with the walk from DTSTART. */
#include "base/civil.h"
#include "fuzz.h"
#include "sched/rrule.h"
#include "sched/rrule_internal.h"

#define WALLS 48
#define WALL_LAST 19344441599LL /* 2582-12-31T23:59:59 in local seconds */

static const int64_t starts[] = {
        1767225600LL, /* 2026-01-01T00:00:00 */
        1709164800LL, /* 2024-02-29T00:00:00 */
        1769817599LL, /* 2026-01-31T23:59:59 */
        -86400LL * 365 /* 1969-01-01T00:00:00 */,
        1798675200LL + 9 * 3600 + 30 * 60, /* 2026-12-31T09:30:00 */
        0,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        int64_t dtstart = starts[data[0] % (sizeof starts / sizeof *starts)];
        char *text = fuzz_text(data + 1, size - 1);
        if (!text)
                return 0;
        rrule *r = NULL;
        sked_err err = {0};
        rrule_iter *it = NULL;
        if (rrule_parse(text, dtstart, &r, &err) < 0)
                goto out;
        FUZZ_CHECK(rrule_iter_new(r, dtstart, &it) == 0, "rrule_iter_new");
        int64_t w[WALLS], until = rrule_until_local(r);
        int n = 0;
        for (; n < WALLS; n++) {
                int64_t before = rrule_iter_steps(it);
                int k = rrule_iter_next(it, &w[n]);
                int64_t used = rrule_iter_steps(it) - before;
                FUZZ_CHECK(used <= RRULE_SEARCH_STEPS + 1024, "one search took %lld steps", (long long) used);
                if (k < 0)
                        break;
                FUZZ_CHECK(w[n] >= dtstart, "wall %lld before DTSTART %lld", (long long) w[n], (long long) dtstart);
                FUZZ_CHECK(w[n] <= until && w[n] <= WALL_LAST, "wall %lld after the end", (long long) w[n]);
                FUZZ_CHECK(n == 0 || w[n] > w[n - 1], "walls %lld then %lld", (long long) w[n - 1], (long long) w[n]);
        }
        FUZZ_CHECK(n > 0 || rrule_iter_gave_up(it), "an accepted rule without a first wall: %s", text);
        rrule_iter_free(it);
        it = NULL;
        if (n >= 2) {
                int m = 1 + (size > 1 ? data[size - 1] : 0) % (n - 1);
                FUZZ_CHECK(rrule_iter_new(r, w[m - 1] + 1, &it) == 0, "rrule_iter_new");
                for (int i = m; i < n; i++) {
                        int64_t v;
                        int k = rrule_iter_next(it, &v);
                        if (k < 0 && rrule_iter_gave_up(it))
                                break; /* the restart may search from further back */
                        FUZZ_CHECK(k == 0 && v == w[i], "restarted at %lld: wall %d is %lld, not %lld",
                                   (long long) (w[m - 1] + 1), i, k == 0 ? (long long) v : -1LL, (long long) w[i]);
                }
        }
out:
        rrule_iter_free(it);
        rrule_free(r);
        free(text);
        return 0;
}
