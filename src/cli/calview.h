/* calview: renders a reply of GET /api/v1/calendar as a terminal week view.
 *
 *   Week of 2026-11-23 (Europe/Berlin)
 *   Mon 23         | Tue 24 *       | Wed 25         | ...
 *   ---------------+================+----------------+ ...
 *   08:00 + Night… | 08:00 - Night… | 10:00 ~ Night… | ...
 *
 *   3 occurrences: 1 planned, 1 succeeded, 1 skipped (1 changed one-off)
 *   legend: . planned  ~ changed  x disabled  > due/queued/running  ...
 *
 * Seven columns, one per day, separated by " | ", each a list of "HH:MM <mark>
 * <title>" lines in the order of the reply (by start); today's column has "*" after
 * its date and "=" under it.  When a column would be narrower than
 * CALVIEW_COLUMN_MIN, the days are listed one under the other instead.
 * Two occurrences of one series at the same wall time with different UTC offsets (a
 * fall-back night) show their offset: "02:30+02" and "02:30+01"; several in one
 * minute with one offset (every 20 s) do not.  A series with more than CALVIEW_BUSY
 * occurrences on a day shows one cell there, "07:02 # Hello", and one line below the
 * days with its whole title: "Wed 02  07:02-23:59  Hello  every 20 s, 2,538 times:
 * 12 succeeded, 2,526 planned".
 *
 * Widths count UTF-8 code points (East Asian wide characters count as one, so such
 * titles misalign); text is cut at a code point boundary with "…".  Control
 * characters in server text print as spaces, so the reply cannot drive the terminal;
 * with `color`, the only escape sequences are the view's own, outside the widths.
 * Pure: no I/O, no clock, no time zone database.  Thread-safe. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "base/strbuf.h"

#define CALVIEW_WIDTH_DEFAULT 120
#define CALVIEW_WIDTH_MIN 20
#define CALVIEW_WIDTH_MAX 1000
#define CALVIEW_BUSY 24       /* a series with more occurrences on a day gets one line for it */
#define CALVIEW_COLUMN_MIN 10 /* so columns need 7 * 10 + 6 * 3 = 88 display columns */

typedef struct calview_opts {
        unsigned width;    /* display columns; 0 = CALVIEW_WIDTH_DEFAULT, else clamped to MIN..MAX */
        const char *today; /* "YYYY-MM-DD" in the calendar's zone (marks that day), or NULL */
        bool color;        /* SGR colours: cells by their mark's state, today's label bold */
} calview_opts;

/* Appends the week view of cal (a GET /api/v1/calendar reply, borrowed) to out.
 * o may be NULL (defaults).  Nothing is appended on failure.
 * Errors: -EBADMSG when cal does not have the documented shape; the message names
 * the field at fault, e.g. `occurrences[3].day: expected a date "YYYY-MM-DD"`;
 * -ENOMEM. */
int calview_render(strbuf *out, const json_t *cal, const calview_opts *o, sked_err *err);
