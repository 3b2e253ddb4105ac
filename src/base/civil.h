/* civil: proleptic Gregorian calendar arithmetic and UTC instants.
 *
 * An instant is `sked_time`: microseconds since 1970-01-01T00:00:00Z, one signed
 * 64-bit integer everywhere.  A wall time (a local date and time without a zone)
 * is held as "local seconds": the seconds since 1970-01-01T00:00:00 of the same
 * calendar, as if that wall clock were UTC.  All functions are pure and
 * thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t sked_time;

#define SKED_USEC 1000000LL
#define SKED_TIME_MAX INT64_MAX

typedef struct civil {
        int year, month, day;     /* month 1..12, day 1..31 */
        int hour, minute, second; /* 0..23, 0..59, 0..59 */
} civil;

/* a / b rounded toward negative infinity (b > 0 or b < 0, never 0): the day of a
 * negative second, the second of a negative instant.  Inline: the rule expanders
 * call it in their inner loops. */
static inline int64_t civil_floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

/* The whole seconds since the epoch of an instant (floor: -0.5 s is -1). */
static inline int64_t time_seconds(sked_time t) {
        return civil_floor_div(t, SKED_USEC);
}

/* Days since 1970-01-01 of a date (no range check), and back. */
int64_t civil_days_from_date(int year, int month, int day);
void civil_date_from_days(int64_t days, int *ret_year, int *ret_month, int *ret_day);

/* 0 = Sunday .. 6 = Saturday. */
int civil_weekday(int64_t days);
bool civil_is_leap(int year);
int civil_days_in_month(int year, int month);

/* Seconds since the epoch of a civil time taken as UTC (or as a wall time), and back. */
int64_t civil_to_seconds(const civil *c);
void civil_from_seconds(int64_t secs, civil *ret);

/* True when every field is in range for a real date (Feb 29 only in leap years). */
bool civil_valid(const civil *c);

/* Parses "YYYY-MM-DDTHH:MM:SS" (also with ' ' for 'T'), nothing before or after.
 * With `allow_z`, a trailing 'Z' is accepted (and required if `need_z`).
 * Returns 0 or -EINVAL. */
int civil_parse(const char *s, bool allow_z, bool need_z, civil *ret);

/* Formats "YYYY-MM-DDTHH:MM:SS" into buf (at least 20 bytes). */
void civil_format(const civil *c, char *buf, size_t len);

/* Writes the wall time of local seconds `secs` at p, without a NUL, and returns the
 * end: "YYYY-MM-DDTHH:MM:SS" (19 characters), or with `basic` the RFC 5545 form
 * "YYYYMMDDTHHMMSS" (15).  Years before 0 are written as 0000.  Hand-written, not
 * snprintf: a calendar week of 100,000 occurrences spends most of its time here. */
char *civil_put_wall(char *p, int64_t secs, bool basic);

/* Instants: "YYYY-MM-DDTHH:MM:SSZ" (seconds precision, fraction dropped). buf >= 21. */
void time_format_utc(sked_time t, char *buf, size_t len);
/* The same, with ".ffffffZ" when t is not a whole second (what time_parse_utc reads
 * back exactly): "2026-12-02T07:00:00.250000Z".  buf >= 28. */
void time_format_utc_us(sked_time t, char *buf, size_t len);
/* Accepts "YYYY-MM-DDTHH:MM:SSZ" and "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
int time_parse_utc(const char *s, sked_time *ret);

/* The real clock (CLOCK_REALTIME) as an instant. */
sked_time time_now_real(void);
/* A monotonic clock in microseconds, for measuring durations. */
int64_t time_mono_usec(void);
