/* schedule: one type over the three kinds of schedule (RRULE, cron, interval), in
 * a time zone, with the DST rules of DESIGN.md:
 *  - RRULE and cron with a restricted hour are expanded in wall time; each wall
 *    time is resolved to an instant by the gap policy (shift: offset before the
 *    gap; skip) and the repeat policy (first, last, both).  Instants that coincide
 *    fire once; results come out sorted.
 *  - cron whose hour field allows every hour keeps its real-time cadence: it fires
 *    at each instant whose wall time matches (both copies of a repeated hour,
 *    nothing for wall times a gap skips).
 *  - intervals count elapsed time and ignore DST.
 * A parsed schedule is immutable: every function taking `const schedule *` may be
 * called from any thread at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"
#include "sched/tz.h"

#define SCHEDULE_SPEC_MAX 1024
#define SCHEDULE_COUNT_MAX 100000

typedef struct schedule schedule;

typedef struct schedule_opts {
        const char *tz;                /* IANA zone name; NULL = "UTC" */
        const char *start_local;       /* "YYYY-MM-DDTHH:MM:SS" wall time in tz (DTSTART / cron
                                        * earliest / interval anchor); NULL = anchor */
        sked_time anchor;              /* used when start_local is NULL: DTSTART = wall time of this
                                        * instant, cron earliest = interval anchor = this instant */
        sked_time end;                 /* 0 = none: no occurrence after this instant */
        int64_t count;                 /* 0 = none: at most this many occurrences from the start */
        int gap_policy, repeat_policy; /* TZ_GAP_*, TZ_REPEAT_*; 0 = shift, first */
} schedule_opts;

/* Parses `spec`: "RRULE:FREQ=..." (or bare "FREQ=..."), "cron:<fields>" (or bare
 * 5/6 cron fields, or a macro such as @daily), "every:<dur>" or "every <dur>".
 * opts may be NULL (UTC, anchor 0).  The caller owns *ret (schedule_free).
 * Errors: -EINVAL (bad spec, start, count or policy), -ENOENT (unknown zone),
 * -ENOMEM; err names the input at fault. */
int schedule_parse(const char *spec, const schedule_opts *opts, schedule **ret, sked_err *err);

/* The first occurrence strictly after `after`.  Returns 0, or -ENOENT when the
 * schedule is exhausted (COUNT, UNTIL, end, or beyond year 9999).  Thread-safe. */
int schedule_next(const schedule *s, sked_time after, sked_time *ret);

/* Writes up to `max` occurrences in [from, to) to out[], ascending; returns how
 * many (0..max).  Thread-safe. */
int schedule_list(const schedule *s, sked_time from, sked_time to, sked_time *out, size_t max);

/* The wall time (local seconds) and UTC offset of instant t in the schedule's zone. */
void schedule_local(const schedule *s, sked_time t, int64_t *ret_local, int32_t *ret_offset);

/* Occurrence t as text, as `sked preview` and POST /api/v1/preview show it: the UTC
 * instant "YYYY-MM-DDTHH:MM:SSZ" into ret_utc (SCHEDULE_UTC_TEXT bytes) and the wall
 * time in the schedule's zone with its offset, "YYYY-MM-DDTHH:MM:SS+HH:MM", into
 * ret_local (SCHEDULE_LOCAL_TEXT bytes).  Thread-safe. */
#define SCHEDULE_UTC_TEXT 32
#define SCHEDULE_LOCAL_TEXT 48
void schedule_format(const schedule *s, sked_time t, char *ret_utc, char *ret_local);

/* "rrule" | "cron" | "interval". */
const char *schedule_kind(const schedule *s);

const tz_zone *schedule_zone(const schedule *s);

/* NULL is a no-op. */
void schedule_free(schedule *s);
