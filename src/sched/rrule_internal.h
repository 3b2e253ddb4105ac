/* Shared between rrule.c and its tests; not an interface for other modules. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sched/rrule.h"

/* Keep the rule on libical's expansion even when the fast path could take it. */
#define RRULE_LIBICAL 1u

/* rrule_parse with RRULE_* flags: the differential test parses each rule twice,
 * once with RRULE_LIBICAL, and compares the walls. */
int rrule_parse_flags(const char *text, int64_t dtstart, unsigned flags, rrule **ret, sked_err *err);

/* True when `r` expands on the fast path (no libical, no ICU). */
bool rrule_is_fast(const rrule *r);
