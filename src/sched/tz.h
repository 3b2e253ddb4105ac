/* tz: time zones read from the operating system's tz database (/usr/share/zoneinfo).
 *
 * A zone is parsed once from its TZif file (v2+ 64-bit data, with the POSIX TZ
 * footer rule for instants after the last listed transition) and cached for the
 * life of the process.  Zones are immutable after loading, so every function
 * taking a `const tz_zone *` is thread-safe.  libc's localtime/TZ is not used: it
 * is process-global and cannot hold several zones at once.
 *
 * Instants are `sked_time` (µs since the epoch, UTC).  Wall times are "local
 * seconds" (see base/civil.h).  Offsets are seconds east of UTC. */
#pragma once

#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct tz_zone tz_zone;

/* What to do with a wall time that a zone skips (spring forward). */
enum {
        TZ_GAP_DEFAULT = 0,
        TZ_GAP_SHIFT = 1, /* use the offset in force before the gap: 02:30 NY -> 03:30 EDT */
        TZ_GAP_SKIP = 2,  /* no instant */
};

/* What to do with a wall time that a zone repeats (fall back). */
enum {
        TZ_REPEAT_DEFAULT = 0,
        TZ_REPEAT_FIRST = 1, /* the earlier instant (RFC 5545, zoneinfo fold=0) */
        TZ_REPEAT_LAST = 2,  /* the later instant */
        TZ_REPEAT_BOTH = 3,  /* both instants */
};

#define TZ_NAME_MAX 255

/* Loads the zone `name` ("America/New_York", "UTC"), or returns the cached copy.
 * The zone is shared and stays valid until tz_cache_free().  "UTC" always works,
 * even without a tz database.  Names with "..", a leading '/', or characters
 * outside [A-Za-z0-9/_+-.] are refused.
 * Errors: -EINVAL bad name, -ENOENT not found (message
 * `time zone "Foo/Bar": not found in the tz database`), -EBADMSG corrupt file,
 * -ENOMEM.  Thread-safe. */
int tz_load(const char *name, const tz_zone **ret, sked_err *err);

/* The TZif reader of tz_load on an image in memory, for the fuzz target
 * (tests/fuzz/fuzz_tzif.c): a zone of its own, not cached, freed with tz_zone_free.
 * Returns 0, -EBADMSG (corrupt or unsupported) or -ENOMEM. */
int tz_parse_tzif(const char *name, const void *buf, size_t len, tz_zone **ret);
void tz_zone_free(tz_zone *z);

/* The zone's name as given to tz_load. */
const char *tz_name(const tz_zone *z);

/* Frees every cached zone.  Only for tests and exit paths: no zone pointer may be
 * in use, and no other thread may be calling tz_load. */
void tz_cache_free(void);

/* The UTC offset (seconds east) in force at instant t. */
int32_t tz_offset_at(const tz_zone *z, sked_time t);

/* The wall time (local seconds) of instant t, truncated to whole seconds, with the
 * offset in force; either ret pointer may be NULL. */
void tz_local(const tz_zone *z, sked_time t, int64_t *ret_local, int32_t *ret_offset);

/* The first instant strictly after t at which the zone's offset changes (transitions
 * that keep the offset, such as abbreviation-only changes, are skipped).
 * Returns 0, or -ENOENT when the offset never changes again. */
int tz_next_transition(const tz_zone *z, sked_time t, sked_time *ret);

/* Resolves wall time `local` (local seconds) to instants with the given policies
 * (0 = defaults: shift, first).  Writes up to 2 instants, ascending, to ret[] and
 * returns how many (0 when a gap is skipped, 2 only with TZ_REPEAT_BOTH). */
int tz_resolve(const tz_zone *z, int64_t local, int gap_policy, int repeat_policy, sked_time ret[2]);

/* Same, also reporting whether the wall time fell in a gap (1) or was repeated (2)
 * or was ordinary (0).  ret_kind may be NULL. */
int tz_resolve_ex(const tz_zone *z, int64_t local, int gap_policy, int repeat_policy, sked_time ret[2], int *ret_kind);

/* Formats an offset as "+HH:MM" (or "+HH:MM:SS" when it has seconds). buf >= 10. */
void tz_format_offset(int32_t offset, char *buf, size_t len);
