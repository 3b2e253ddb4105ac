/* interval: duration parsing and elapsed-time stepping.  See interval.h. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "sched/interval.h"

int interval_parse(const char *text, int64_t *ret_seconds, sked_err *err) {
        int64_t total = 0;
        const char *p = text;
        char last_unit = 0;
        static const char units[] = "wdhms";
        static const int64_t mult[] = {7 * 86400, 86400, 3600, 60, 1};

        if (!text || !*text)
                return err_set(err, -EINVAL, "interval: empty duration (expected e.g. 15m, 1h30m, 1d)");
        if (strlen(text) > INTERVAL_TEXT_MAX)
                return err_set(err, -EINVAL, "interval: duration longer than %d characters", INTERVAL_TEXT_MAX);
        while (*p) {
                int64_t v = 0;
                int nd = 0;
                while (isdigit((unsigned char) *p)) {
                        if (++nd > 12)
                                return err_set(err, -EINVAL, "interval \"%s\": number too large", text);
                        v = v * 10 + (*p++ - '0');
                }
                const char *u = *p ? strchr(units, tolower((unsigned char) *p)) : NULL;
                if (nd == 0 || !u)
                        return err_set(err, -EINVAL,
                                       "interval \"%s\": expected <number><unit> parts with units "
                                       "w, d, h, m, s (like 15m, 1h30m, 1d)",
                                       text);
                /* Units must come largest first and once each: "1h30m", not "30m1h". */
                if (last_unit && strchr(units, last_unit) >= u)
                        return err_set(err, -EINVAL,
                                       "interval \"%s\": units must go from largest "
                                       "to smallest, each once",
                                       text);
                last_unit = *u;
                p++;
                total += v * mult[u - units];
                if (total > INTERVAL_MAX_SECONDS)
                        return err_set(err, -EINVAL, "interval \"%s\": longer than 3660 days", text);
        }
        if (total < 1)
                return err_set(err, -EINVAL, "interval \"%s\": must be at least 1s", text);
        *ret_seconds = total;
        return 0;
}

int interval_next(sked_time anchor, int64_t step_seconds, sked_time after, sked_time *ret) {
        int64_t step = step_seconds * SKED_USEC;
        if (after < anchor) {
                *ret = anchor;
                return 0;
        }
        /* after - anchor cannot overflow: after >= anchor and both are sked_times
         * far from the extremes in practice; guard anyway. */
        if (anchor < 0 && after > INT64_MAX + anchor)
                return -ENOENT;
        int64_t rem = (after - anchor) % step;
        if (after - rem > INT64_MAX - step)
                return -ENOENT;
        *ret = after - rem + step;
        return 0;
}
