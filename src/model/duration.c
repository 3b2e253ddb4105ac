#include "model/duration.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Units from largest to smallest; a duration names them in this order. */
static const struct {
        const char *name;
        int64_t ms;
} units[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

#define UNIT_COUNT (sizeof units / sizeof units[0])
#define UNIT_LIST "ms, s, m, h or d"

int duration_parse(const char *s, int64_t *ret_ms, sked_err *err) {
        if (!s || !*s)
                return err_set(err, -EINVAL, "\"\": expected a duration like 30s, 15m, 1h30m, 2d or 500ms");
        if (strlen(s) > 64)
                return err_set(err, -EINVAL, "duration too long (at most 64 characters)");

        int64_t total = 0;
        size_t last = 0; /* index into units of the next allowed unit */
        const char *p = s;
        while (*p) {
                if (*p < '0' || *p > '9')
                        return err_set(err, -EINVAL, "\"%s\": expected a duration like 30s, 15m, 1h30m, 2d or 500ms",
                                       s);
                int64_t n = 0;
                while (*p >= '0' && *p <= '9') {
                        if (n > (INT64_MAX - 9) / 10)
                                return err_set(err, -ERANGE, "\"%s\": too large", s);
                        n = n * 10 + (*p - '0');
                        p++;
                }
                const char *u = p;
                while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
                        p++;
                size_t ulen = (size_t) (p - u);
                if (ulen == 0)
                        return err_set(err, -EINVAL, "\"%s\": missing unit after %" PRId64 " (expected %s)", s, n,
                                       UNIT_LIST);
                size_t i;
                for (i = 0; i < UNIT_COUNT; i++)
                        if (strlen(units[i].name) == ulen && memcmp(units[i].name, u, ulen) == 0)
                                break;
                if (i == UNIT_COUNT)
                        return err_set(err, -EINVAL, "\"%s\": unknown unit \"%.*s\" (expected %s)", s, (int) ulen, u,
                                       UNIT_LIST);
                if (i < last)
                        return err_set(err, -EINVAL,
                                       "\"%s\": units must go from largest to smallest, each once (e.g. 1h30m)", s);
                last = i + 1;
                if (n > INT64_MAX / units[i].ms || total > INT64_MAX - n * units[i].ms)
                        return err_set(err, -ERANGE, "\"%s\": too large", s);
                total += n * units[i].ms;
        }
        *ret_ms = total;
        return 0;
}

int duration_from_json(const json_t *v, const char *field, int64_t *ret_ms, sked_err *err) {
        int64_t ms;
        int r;

        if (json_is_string(v)) {
                r = duration_parse(json_string_value(v), &ms, err);
                if (r < 0) {
                        err_prefix(err, field);
                        return r;
                }
        } else if (json_is_integer(v)) {
                json_int_t secs = json_integer_value(v);
                if (secs < 0)
                        return err_field(err, -EINVAL, field, "expected a duration, got a negative number");
                if (secs > INT64_MAX / 1000)
                        return err_field(err, -ERANGE, field, "too large");
                ms = (int64_t) secs * 1000;
        } else
                return err_field(err, -EINVAL, field,
                                 "expected a duration (a string like \"30s\" or \"1h30m\", or whole seconds)");
        *ret_ms = ms;
        return 0;
}

void duration_format(int64_t ms, char *buf, size_t len) {
        size_t off = 0;
        uint64_t rest;

        if (len == 0)
                return;
        buf[0] = '\0';
        if (ms == 0) {
                snprintf(buf, len, "0s");
                return;
        }
        if (ms < 0) {
                snprintf(buf, len, "-");
                off = 1;
                rest = (uint64_t) - (ms + 1) + 1;
        } else
                rest = (uint64_t) ms;
        for (size_t i = 0; i < UNIT_COUNT && off < len; i++) {
                uint64_t n = rest / (uint64_t) units[i].ms;
                if (n == 0)
                        continue;
                rest -= n * (uint64_t) units[i].ms;
                int w = snprintf(buf + off, len - off, "%" PRIu64 "%s", n, units[i].name);
                if (w < 0)
                        return;
                off += (size_t) w;
        }
}
