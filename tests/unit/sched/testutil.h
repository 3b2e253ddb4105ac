/* Helpers shared by the sched unit tests (header-only, static). */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/civil.h"
#include "base/err.h"

/* "2026-03-08T07:30:00Z" -> instant; fails the test on bad input. */
static inline sked_time T(const char *s) {
        sked_time t = 0;
        assert_int_equal(time_parse_utc(s, &t), 0);
        return t;
}

/* "2026-03-08T02:30:00" -> local seconds. */
static inline int64_t W(const char *s) {
        civil c;
        assert_int_equal(civil_parse(s, false, false, &c), 0);
        return civil_to_seconds(&c);
}

static inline const char *fmt_t(sked_time t, char *buf) {
        time_format_utc(t, buf, 32);
        return buf;
}

static inline const char *fmt_w(int64_t w, char *buf) {
        civil c;
        civil_from_seconds(w, &c);
        civil_format(&c, buf, 32);
        return buf;
}

#define assert_time(t, s)                                                                                              \
        do {                                                                                                           \
                char b_[32];                                                                                           \
                assert_string_equal(fmt_t((t), b_), (s));                                                              \
        } while (0)
#define assert_wall(w, s)                                                                                              \
        do {                                                                                                           \
                char b_[32];                                                                                           \
                assert_string_equal(fmt_w((w), b_), (s));                                                              \
        } while (0)
