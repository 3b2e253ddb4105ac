#include "cli/table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct table {
        size_t ncols;
        size_t nrows; /* including the header row */
        size_t cap;
        char **cells;          /* nrows * ncols, each already sanitized and cut */
        unsigned char *styles; /* nrows * ncols, enum table_style */
        size_t *widths;        /* display width per column */
        size_t fit;            /* TABLE_FIT_DEFAULT, 0 (never cut the last column) or a width */
        bool wide;             /* cut nothing */
        bool color;
};

/* SGR sequences by enum table_style; the header is bold */
static const char *const sgr[] = {"", "\033[32m", "\033[31m", "\033[33m", "\033[2m"};
#define SGR_BOLD "\033[1m"
#define SGR_RESET "\033[0m"

static bool is_cont(unsigned char c) {
        return (c & 0xC0) == 0x80;
}

/* Copies s replacing control characters by spaces and cutting it to max code
 * points (0: never); *ret_width gets the display width. */
static char *cell_copy(const char *s, size_t max, size_t *ret_width) {
        static const char ellipsis[] = "\xe2\x80\xa6"; /* … */
        size_t len, points = 0, cut = 0, width;
        char *out;

        if (!s)
                s = "";
        len = strlen(s);
        for (size_t i = 0; i < len; i++) {
                if (is_cont((unsigned char) s[i]))
                        continue;
                if (max && points == max - 1)
                        cut = i;
                points++;
        }
        if (max && points > max) {
                len = cut;
                width = max;
        } else {
                cut = 0;
                width = points;
        }
        out = malloc(len + sizeof ellipsis);
        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
        }
        if (cut)
                memcpy(out + len, ellipsis, sizeof ellipsis);
        else
                out[len] = '\0';
        *ret_width = width;
        return out;
}

static int add_row(table *t, const char *const *cells, const unsigned char *styles) {
        if (t->nrows == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 16;
                if (cap > SIZE_MAX / sizeof(char *) / t->ncols)
                        return -ENOMEM;
                char **n = realloc(t->cells, cap * t->ncols * sizeof *n);
                if (!n)
                        return -ENOMEM;
                t->cells = n;
                unsigned char *st = realloc(t->styles, cap * t->ncols);
                if (!st)
                        return -ENOMEM;
                t->styles = st;
                t->cap = cap;
        }
        char **row = t->cells + t->nrows * t->ncols;
        size_t widths[t->ncols];
        for (size_t i = 0; i < t->ncols; i++) {
                bool last = i + 1 == t->ncols && t->fit != TABLE_FIT_DEFAULT;
                row[i] = cell_copy(cells[i], last || t->wide ? 0 : TABLE_CELL_MAX, &widths[i]);
                if (!row[i]) {
                        while (i-- > 0)
                                free(row[i]);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < t->ncols; i++) {
                if (widths[i] > t->widths[i])
                        t->widths[i] = widths[i];
                unsigned char s = styles ? styles[i] : TABLE_PLAIN;
                t->styles[t->nrows * t->ncols + i] = s < sizeof sgr / sizeof sgr[0] ? s : TABLE_PLAIN;
        }
        t->nrows++;
        return 0;
}

table *table_new(size_t ncols, const char *const *headers) {
        table *t;
        if (ncols == 0 || ncols > 1024)
                return NULL;
        t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        t->ncols = ncols;
        t->fit = TABLE_FIT_DEFAULT;
        t->widths = calloc(ncols, sizeof *t->widths);
        if (!t->widths || add_row(t, headers, NULL) < 0) {
                table_free(t);
                return NULL;
        }
        return t;
}

void table_set_fit(table *t, size_t width) {
        t->fit = width;
}

void table_set_wide(table *t) {
        t->wide = true;
        t->fit = 0;
}

void table_set_color(table *t, bool on) {
        t->color = on;
}

int table_add(table *t, const char *const *cells) {
        return add_row(t, cells, NULL);
}

int table_add_styled(table *t, const char *const *cells, const unsigned char *styles) {
        return add_row(t, cells, styles);
}

static size_t width_of(const char *s) {
        size_t w = 0;
        for (; *s; s++)
                if (!is_cont((unsigned char) *s))
                        w++;
        return w;
}

/* Writes s cut to max code points (the last one "…"). */
static void put_cut(const char *s, size_t max, FILE *f) {
        size_t points = 0, i;
        if (width_of(s) <= max) {
                fputs(s, f);
                return;
        }
        for (i = 0; s[i]; i++) {
                if (!is_cont((unsigned char) s[i]) && ++points == max)
                        break;
        }
        fwrite(s, 1, i, f);
        fputs("\xe2\x80\xa6", f);
}

void table_print(const table *t, FILE *f) {
        size_t last = SIZE_MAX;
        if (t->fit != TABLE_FIT_DEFAULT && t->fit > 0) {
                size_t used = 0;
                for (size_t i = 0; i + 1 < t->ncols; i++)
                        used += t->widths[i] + 2;
                last = t->fit > used + TABLE_FIT_MIN ? t->fit - used : TABLE_FIT_MIN;
        }
        for (size_t r = 0; r < t->nrows; r++) {
                char **row = t->cells + r * t->ncols;
                for (size_t i = 0; i < t->ncols; i++) {
                        const char *on = !t->color ? "" : r == 0 ? SGR_BOLD : sgr[t->styles[r * t->ncols + i]];
                        fputs(on, f);
                        if (i + 1 == t->ncols) {
                                put_cut(row[i], last, f);
                                if (*on)
                                        fputs(SGR_RESET, f);
                                break;
                        }
                        fputs(row[i], f);
                        if (*on)
                                fputs(SGR_RESET, f);
                        for (size_t pad = t->widths[i] - width_of(row[i]) + 2; pad > 0; pad--)
                                fputc(' ', f);
                }
                fputc('\n', f);
        }
}

void table_free(table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->styles);
        free(t->widths);
        free(t);
}
