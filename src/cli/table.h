/* table: column-aligned text tables for the CLI's human output.
 *
 *   ID  NAME     STATE
 *   1   backup   active
 *
 * Columns are left-aligned and separated by two spaces; the last column is not
 * padded.  Widths count UTF-8 code points (East Asian wide characters count as one,
 * so such cells misalign).  Cells over 60 code points are cut to 59 plus "…".
 * Control characters in cells (newline, tab, ESC, ...) print as spaces, so server
 * data cannot break the layout or drive the terminal.  With colour on, the header
 * is bold and a cell may have a style (a colour): the escape sequences are the
 * table's own, around the cell's text, outside the widths.  Not thread-safe; one
 * owner. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct table table;

#define TABLE_CELL_MAX 60
#define TABLE_FIT_DEFAULT ((size_t) -1) /* every column cut at TABLE_CELL_MAX */
#define TABLE_FIT_MIN 20                /* the last column keeps at least this much */

/* A cell's colour (table_add_styled), shown only with table_set_color. */
enum table_style {
        TABLE_PLAIN,
        TABLE_GOOD, /* green: succeeded */
        TABLE_BAD,  /* red: failed, lost, cancelled, error */
        TABLE_BUSY, /* yellow: queued, running, warning */
        TABLE_DIM,  /* faint: "-", skipped, paused */
};

/* Creates a table with ncols (>= 1) columns; headers (ncols strings, copied).
 * Returns NULL on out-of-memory or ncols == 0. */
table *table_new(size_t ncols, const char *const *headers);

/* Call before table_add.  width 0: the last column is never cut (output to a
 * pipe); width > 0: the last column is cut so that rows fit in width display
 * columns, but never below TABLE_FIT_MIN; TABLE_FIT_DEFAULT: cut at TABLE_CELL_MAX
 * like the others. */
void table_set_fit(table *t, size_t width);

/* Cuts no cell at all (--wide): neither at TABLE_CELL_MAX nor to a width.  Call
 * before table_add. */
void table_set_wide(table *t);

/* Colours the output (SGR escape sequences); off by default.  The caller decides
 * (a terminal, NO_COLOR, --color). */
void table_set_color(table *t, bool on);

/* Appends a row of ncols cells (copied; a NULL cell prints empty).
 * Returns 0 or -ENOMEM. */
int table_add(table *t, const char *const *cells);

/* table_add with a style per cell (ncols values of enum table_style; NULL: plain). */
int table_add_styled(table *t, const char *const *cells, const unsigned char *styles);

/* Writes the header row and all rows to f. */
void table_print(const table *t, FILE *f);

/* NULL is a no-op. */
void table_free(table *t);
