/* table: column-aligned text tables for the CLI's human output.
 *
 *   ID  NAME     STATE
 *   1   backup   active
 *
 * Columns are left-aligned and separated by two spaces; the last column is not
 * padded.  Widths count UTF-8 code points (East Asian wide characters count as one,
 * so such cells misalign).  Cells over 60 code points are cut to 59 plus "…".
 * Control characters in cells (newline, tab, ESC, ...) print as spaces, so server
 * data cannot break the layout or drive the terminal.  Not thread-safe; one owner. */
#pragma once

#include <stddef.h>
#include <stdio.h>

typedef struct table table;

#define TABLE_CELL_MAX 60
#define TABLE_FIT_DEFAULT ((size_t) -1) /* every column cut at TABLE_CELL_MAX */
#define TABLE_FIT_MIN 20                /* the last column keeps at least this much */

/* Creates a table with ncols (>= 1) columns; headers (ncols strings, copied).
 * Returns NULL on out-of-memory or ncols == 0. */
table *table_new(size_t ncols, const char *const *headers);

/* Call before table_add.  width 0: the last column is never cut (output to a
 * pipe); width > 0: the last column is cut so that rows fit in width display
 * columns, but never below TABLE_FIT_MIN; TABLE_FIT_DEFAULT: cut at TABLE_CELL_MAX
 * like the others. */
void table_set_fit(table *t, size_t width);

/* Appends a row of ncols cells (copied; a NULL cell prints empty).
 * Returns 0 or -ENOMEM. */
int table_add(table *t, const char *const *cells);

/* Writes the header row and all rows to f. */
void table_print(const table *t, FILE *f);

/* NULL is a no-op. */
void table_free(table *t);
