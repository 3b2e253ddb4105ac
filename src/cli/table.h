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

/* Creates a table with ncols (>= 1) columns; headers (ncols strings, copied).
 * Returns NULL on out-of-memory or ncols == 0. */
table *table_new(size_t ncols, const char *const *headers);

/* Appends a row of ncols cells (copied; a NULL cell prints empty).
 * Returns 0 or -ENOMEM. */
int table_add(table *t, const char *const *cells);

/* Writes the header row and all rows to f. */
void table_print(const table *t, FILE *f);

/* NULL is a no-op. */
void table_free(table *t);
