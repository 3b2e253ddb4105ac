/* policy: how a series behaves when the plan meets reality (catch-up after
 * downtime, overlap with a run still going, jitter, DST overrides), and its daily
 * sleep windows.
 *
 * A policy is given as overrides at two levels: a type's `defaults.policy` and a
 * series' `policy`; the effective policy is the built-in default, then the type's
 * keys, then the series' keys.  JSON in (a mapping, any subset of keys):
 *   catchup         "none" | "latest" (default) | "all"
 *   catchup_window  duration or null (default null: no limit): how late an
 *                   occurrence may be and still be caught up
 *   burst           1..10000 (default 100): most runs one catch-up queues per series
 *   overlap         "skip" (default) | "buffer_one" | "buffer_all" | "cancel_other" | "allow_all"
 *   jitter          duration, at most 1d (default 0)
 *   dst_gap         "shift" (default) | "skip"
 *   dst_repeat      "first" (default) | "last" | "both"
 * Normalized JSON out has the same keys, durations as catchup_window_ms/jitter_ms.
 *
 * Sleep windows: a JSON array of at most 16 {"from":"HH:MM","to":"HH:MM","tz":ZONE}
 * (tz defaults to the series' zone); to < from crosses midnight.  An occurrence due
 * at a wall time in [from, to) of the window's zone does not run, nor does a late one
 * while now is in a window (recorded skipped either way).
 *
 * Pure functions over caller-owned memory; thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"
#include "sched/tz.h"

enum { CATCHUP_NONE, CATCHUP_LATEST, CATCHUP_ALL };
enum { OVERLAP_SKIP, OVERLAP_BUFFER_ONE, OVERLAP_BUFFER_ALL, OVERLAP_CANCEL_OTHER, OVERLAP_ALLOW_ALL };

#define POLICY_BURST_MAX 10000
#define POLICY_JITTER_MAX_MS (86400LL * 1000)
#define SLEEP_WINDOWS_MAX 16

typedef struct policy {
        int catchup;               /* CATCHUP_* */
        int64_t catchup_window_ms; /* 0 = no limit */
        int burst;
        int overlap; /* OVERLAP_* */
        int64_t jitter_ms;
        int dst_gap, dst_repeat; /* TZ_GAP_*, TZ_REPEAT_* (0 = default) */
} policy;

/* The built-in defaults. */
void policy_default(policy *p);

/* Validates the overrides in `in` (NULL/null = none) and applies them to *p.
 * `field` prefixes messages ("policy.overlap: \"skipp\": expected one of skip,
 * buffer_one, ..."). -EINVAL on bad input; *p may then be partly changed. */
int policy_apply(policy *p, const json_t *in, const char *field, sked_err *err);

/* Validates overrides and returns their normalized JSON (only the keys given), or
 * NULL in *ret when there are none.  The caller owns *ret. */
int policy_normalize(const json_t *in, const char *field, json_t **ret, sked_err *err);

/* The whole policy as normalized JSON (new reference). */
json_t *policy_to_json(const policy *p);

const char *policy_catchup_name(int c);
const char *policy_overlap_name(int o);

typedef struct sleep_window {
        int32_t from_s, to_s; /* seconds after local midnight */
        const tz_zone *zone;
} sleep_window;

/* Validates a sleep-window array (NULL/null = none): *ret_norm gets the normalized
 * JSON array (NULL when empty), *ret and *ret_n the parsed windows (may be NULL when only
 * validating; caller frees *ret).  `default_tz` is the series' zone. */
int sleep_parse(const json_t *in, const char *default_tz, sleep_window **ret, size_t *ret_n, json_t **ret_norm,
                sked_err *err);

/* Whether instant t falls in one of the windows. */
bool sleep_contains(const sleep_window *w, size_t n, sked_time t);
