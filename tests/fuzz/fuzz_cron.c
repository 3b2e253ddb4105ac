/* fuzz_cron: cron expressions through cron_parse and cron_next_wall
 * (src/sched/cron.c).  The first byte picks the start among a few wall times; the
 * rest is the expression.  Invariants of every accepted expression, from the start
 * and from each answer on:
 *  - the answer lies in [from, limit] and matches (cron_matches), and no wall time
 *    between `from` and it matches (checked second by second over short gaps);
 *  - searching again from the answer gives the answer (it is the first match);
 *  - answers come out strictly ascending. */
#include <errno.h>

#include "fuzz.h"
#include "sched/cron.h"

static const int64_t starts[] = {1767225600LL, 1709164800LL - 1, 1769817599LL, -31536000LL, 0};
#define ANSWERS 24
#define SCAN 4000 /* seconds checked one by one for an earlier match */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        char *text = fuzz_text(data + 1, size - 1);
        if (!text)
                return 0;
        cron_expr c;
        sked_err err = {0};
        if (cron_parse(text, &c, &err) == 0) {
                int64_t from = starts[data[0] % (sizeof starts / sizeof *starts)];
                int64_t limit = from + 3LL * 366 * 86400, prev = INT64_MIN;
                for (int i = 0; i < ANSWERS; i++) {
                        int64_t w;
                        int r = cron_next_wall(&c, from, limit, &w);
                        FUZZ_CHECK(r == 0 || r == -ENOENT, "cron_next_wall returned %d", r);
                        if (r < 0)
                                break;
                        FUZZ_CHECK(w >= from && w <= limit, "%lld outside [%lld, %lld]", (long long) w,
                                   (long long) from, (long long) limit);
                        FUZZ_CHECK(cron_matches(&c, w), "%lld does not match %s", (long long) w, text);
                        FUZZ_CHECK(w > prev, "%lld after %lld", (long long) w, (long long) prev);
                        for (int64_t t = from; t < w && t < from + SCAN; t++)
                                FUZZ_CHECK(!cron_matches(&c, t), "%lld matches before the answer %lld", (long long) t,
                                           (long long) w);
                        int64_t again;
                        FUZZ_CHECK(cron_next_wall(&c, w, limit, &again) == 0 && again == w, "not the first match");
                        prev = w;
                        from = w + 1;
                }
        }
        free(text);
        return 0;
}
