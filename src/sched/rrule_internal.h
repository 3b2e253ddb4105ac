/* Shared between rrule.c and its tests; not an interface for other modules. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sched/rrule.h"

/* True when `r` expands on the fast path (bit sets, no period walk). */
bool rrule_is_fast(const rrule *r);

/* The periods and days the iterator examined in all (the work bound's witness). */
int64_t rrule_iter_steps(const rrule_iter *it);

/* Sets the iterator's budget per search (RRULE_SEARCH_STEPS by default): tests show
 * the bound on small numbers. */
void rrule_iter_set_budget(rrule_iter *it, int64_t steps);
