/* parse: checked conversions of user text to numbers; see parse.h. */
#include "base/parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret) {
        const char *p = s;
        bool neg = false;
        uint64_t v = 0, limit;

        if (!s || !*s)
                return -EINVAL;
        if (*p == '-' || *p == '+')
                neg = *p++ == '-';
        if (*p < '0' || *p > '9')
                return -EINVAL;
        /* Accumulate as unsigned magnitude; INT64_MIN's magnitude is INT64_MAX + 1. */
        limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
        bool over = false;
        for (; *p >= '0' && *p <= '9'; p++) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (limit - d) / 10)
                        over = true;
                else
                        v = v * 10 + d;
        }
        if (*p)
                return -EINVAL;
        if (over)
                return -ERANGE;
        int64_t x = neg ? (v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v) : (int64_t) v;
        if (x < min || x > max)
                return -ERANGE;
        *ret = x;
        return 0;
}

int parse_int(const char *s, int min, int max, int *ret) {
        int64_t v;
        int r = parse_int64(s, min, max, &v);
        if (r < 0)
                return r;
        *ret = (int) v;
        return 0;
}

int parse_id(const char *s, int64_t *ret) {
        return parse_int64(s, 1, INT64_MAX, ret);
}
