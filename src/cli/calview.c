#include "cli/calview.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/civil.h"

#define NDAYS 7
#define SEP " | "
#define SEP_LEN 3
#define ELLIPSIS "\xe2\x80\xa6" /* … */
#define BUSY_MARK '#'           /* a busy series' day, told below the days */

/* What a mark tells: several states share one. */
enum { K_PLANNED, K_CHANGED, K_DISABLED, K_RUNNING, K_SUCCEEDED, K_FAILED, K_SKIPPED, K_OTHER, NKINDS };

static const struct {
        char mark;
        const char *label;
        const char *sgr; /* its colour (calview_opts.color), "" for none */
} kinds[NKINDS] = {
        [K_PLANNED] = {'.', "planned", ""},
        [K_CHANGED] = {'~', "changed", "\033[36m"},
        [K_DISABLED] = {'x', "disabled", "\033[2m"},
        [K_RUNNING] = {'>', "due/queued/running", "\033[33m"},
        [K_SUCCEEDED] = {'+', "succeeded", "\033[32m"},
        [K_FAILED] = {'!', "failed/lost/cancelled", "\033[31m"},
        [K_SKIPPED] = {'-', "skipped/missed/paused", "\033[2m"},
        [K_OTHER] = {'?', "other state", ""},
};
#define SGR_BOLD "\033[1m"
#define SGR_RESET "\033[0m"

/* The states of the API, in the order the summary counts them. */
static const struct {
        const char *name;
        int kind;
} states[] = {
        {"planned", K_PLANNED},     {"due", K_RUNNING},     {"queued", K_RUNNING},    {"running", K_RUNNING},
        {"succeeded", K_SUCCEEDED}, {"failed", K_FAILED},   {"lost", K_FAILED},       {"cancelled", K_FAILED},
        {"missed", K_SKIPPED},      {"skipped", K_SKIPPED}, {"disabled", K_DISABLED}, {"paused", K_SKIPPED},
};
#define NSTATES (sizeof states / sizeof states[0])

typedef struct occ {
        json_int_t series_id;
        const char *title; /* NULL: look it up in "series" */
        const char *time;  /* "HH:MM" */
        const char *local; /* may be NULL */
        size_t state;      /* index into states, NSTATES when unknown */
        int kind;
        int col; /* index into days, -1 when the day is not one of them */
        bool changed;
        bool twin;     /* its series has this day and time with another UTC offset too */
        bool busy;     /* its series has more than CALVIEW_BUSY occurrences this day */
        bool head;     /* the first of a busy series' day: stands for all of them */
        char off[8];   /* "+01", "+05:30" from local, "" when unknown */
        int64_t start; /* microseconds, or INT64_MIN when the reply has none */
        size_t index;  /* position in the reply */
} occ;

/* A busy series' day, told on one line: what its head stands for. */
typedef struct busy {
        size_t head; /* index into occ */
        size_t n, kinds[NKINDS];
        const char *last; /* "HH:MM" of the last one */
        int64_t every;    /* the interval in microseconds when they are evenly spaced, else 0 */
} busy;

typedef struct view {
        const char *tz;
        const char *days[NDAYS];
        int64_t daynum[NDAYS];
        int today; /* column, or -1 */
        const json_t *series;
        occ *occ;
        size_t nocc;
        size_t *bycol; /* indexes into occ, grouped by column, reply order kept */
        size_t colstart[NDAYS + 1];
        size_t outside; /* occurrences whose day is not in days */
        bool truncated;
        busy *busy; /* by column, then series */
        size_t nbusy;
        bool color; /* calview_opts.color */
} view;

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* ---- text ---- */

/* Length of the UTF-8 sequence at s, or 0 when s does not start a valid one.  Reads
 * no further than a NUL. */
static size_t seq_len(const unsigned char *s) {
        unsigned char c = s[0];
        size_t n = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return n;
}

/* Display width of s: code points, an invalid byte counting as one. */
static size_t text_width(const char *s) {
        size_t w = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p; w++) {
                size_t n = seq_len(p);
                p += n ? n : 1;
        }
        return w;
}

/* Appends s cut to at most cols (>= 1) code points, the last one "…" when cut.
 * Control characters (C0, DEL, C1) become spaces, invalid bytes '?'.  Returns the
 * width appended. */
static size_t put_text(strbuf *b, const char *s, size_t cols) {
        size_t total = text_width(s), keep, w = 0;
        if (cols == 0)
                return 0;
        keep = total <= cols ? total : cols - 1;
        for (const unsigned char *p = (const unsigned char *) s; *p && w < keep; w++) {
                size_t n = seq_len(p);
                if (n == 0) {
                        strbuf_putc(b, '?');
                        n = 1;
                } else if (n == 1) {
                        strbuf_putc(b, *p < 0x20 || *p == 0x7f ? ' ' : (char) *p);
                } else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
                        strbuf_putc(b, ' ');
                } else {
                        strbuf_append(b, (const char *) p, n);
                }
                p += n;
        }
        if (keep < total) {
                strbuf_puts(b, ELLIPSIS);
                w++;
        }
        return w;
}

static void pad(strbuf *b, size_t n) {
        while (n-- > 0)
                strbuf_putc(b, ' ');
}

/* Ends the line that began at offset start: drops its trailing spaces, adds '\n'. */
static void end_line(strbuf *b, size_t start) {
        while (b->len > start && b->data[b->len - 1] == ' ')
                b->len--;
        if (b->data)
                b->data[b->len] = '\0';
        strbuf_putc(b, '\n');
}

/* One line of s cut to width. */
static void put_line(strbuf *b, const char *s, size_t width) {
        size_t start = b->len;
        put_text(b, s, width);
        end_line(b, start);
}

/* Lines of "prefix item sep item sep ...", wrapped before an item that would pass
 * width; continuation lines are indented by the prefix's width.  Items are short
 * ASCII. */
static void put_wrapped(strbuf *b, const char *prefix, const char *const *items, size_t n, const char *sep,
                        size_t width) {
        size_t indent = strlen(prefix), start = b->len, col = indent;
        strbuf_puts(b, prefix);
        for (size_t i = 0; i < n; i++) {
                size_t w = strlen(items[i]);
                if (i > 0 && col + strlen(sep) + w > width) {
                        end_line(b, start);
                        start = b->len;
                        pad(b, indent);
                        col = indent;
                } else if (i > 0) {
                        strbuf_puts(b, sep);
                        col += strlen(sep);
                }
                col += put_text(b, items[i], width > col ? width - col : 1);
        }
        end_line(b, start);
}

/* ---- the reply ---- */

static int bad(sked_err *err, const char *field, const char *expected) {
        return err_field(err, -EBADMSG, field, "expected %s", expected);
}

static bool digits(const char *s, size_t n, int *ret) {
        int v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return true;
}

/* "YYYY-MM-DD", a real date; *ret its day number. */
static bool parse_date(const char *s, int64_t *ret) {
        civil c = {0};
        if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &c.year) ||
            !digits(s + 5, 2, &c.month) || !digits(s + 8, 2, &c.day) || !civil_valid(&c))
                return false;
        *ret = civil_days_from_date(c.year, c.month, c.day);
        return true;
}

static bool valid_time(const char *s) {
        int h, m;
        return s && strlen(s) == 5 && s[2] == ':' && digits(s, 2, &h) && digits(s + 3, 2, &m) && h < 24 && m < 60;
}

/* "+01" or "+05:30" from the offset at the end of an ISO local time, "" if none. */
static void offset_of(const char *local, char *buf, size_t len) {
        buf[0] = '\0';
        if (!local || strlen(local) < 20)
                return;
        const char *p = local + 19;
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++)
                        ;
        if (!strcmp(p, "Z"))
                snprintf(buf, len, "+00");
        else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':')
                snprintf(buf, len, "%.*s", !strcmp(p + 4, "00") ? 3 : 6, p);
}

static int parse_occ(view *v, const json_t *it, size_t i, occ *ret, sked_err *err) {
        char f[64];
        occ o = {.col = -1};
        const json_t *x;
        int64_t day;

        if (!json_is_object(it)) {
                snprintf(f, sizeof f, "occurrences[%zu]", i);
                return bad(err, f, "an object");
        }
        x = json_object_get(it, "series_id");
        if (!json_is_integer(x)) {
                snprintf(f, sizeof f, "occurrences[%zu].series_id", i);
                return bad(err, f, "an integer");
        }
        o.series_id = json_integer_value(x);
        x = json_object_get(it, "day");
        if (!json_is_string(x) || !parse_date(json_string_value(x), &day)) {
                snprintf(f, sizeof f, "occurrences[%zu].day", i);
                return bad(err, f, "a date \"YYYY-MM-DD\"");
        }
        x = json_object_get(it, "time");
        o.time = json_string_value(x);
        if (!valid_time(o.time)) {
                snprintf(f, sizeof f, "occurrences[%zu].time", i);
                return bad(err, f, "a wall time \"HH:MM\"");
        }
        x = json_object_get(it, "state");
        if (!json_is_string(x)) {
                snprintf(f, sizeof f, "occurrences[%zu].state", i);
                return bad(err, f, "a string");
        }
        for (o.state = 0; o.state < NSTATES; o.state++)
                if (!strcmp(states[o.state].name, json_string_value(x)))
                        break;
        x = json_object_get(it, "change");
        if (x && !json_is_null(x) && !json_is_string(x)) {
                snprintf(f, sizeof f, "occurrences[%zu].change", i);
                return bad(err, f, "null or a string");
        }
        o.changed = json_is_string(x);
        o.kind = o.state < NSTATES ? states[o.state].kind : K_OTHER;
        if (o.kind == K_PLANNED && o.changed)
                o.kind = strcmp(json_string_value(x), "disabled") ? K_CHANGED : K_DISABLED;
        /* Optional: a missing title falls back to the series', a missing local
         * only loses the offset of a repeated wall time. */
        o.title = json_string_value(json_object_get(it, "title"));
        o.local = json_string_value(json_object_get(it, "local"));
        offset_of(o.local, o.off, sizeof o.off);
        x = json_object_get(it, "start");
        o.start = json_is_integer(x) ? json_integer_value(x) : INT64_MIN;
        o.index = i;
        for (int c = 0; c < NDAYS; c++)
                if (v->daynum[c] == day)
                        o.col = c;
        *ret = o;
        return 0;
}

/* Orders by day, series, wall time, offset, then reply order. */
static int cmp_occ(const void *a, const void *b) {
        const occ *x = *(const occ *const *) a, *y = *(const occ *const *) b;
        int r;
        if (x->col != y->col)
                return x->col < y->col ? -1 : 1;
        if (x->series_id != y->series_id)
                return x->series_id < y->series_id ? -1 : 1;
        if ((r = strcmp(x->time, y->time)) != 0 || (r = strcmp(x->off, y->off)) != 0)
                return r;
        return x->index < y->index ? -1 : x->index > y->index;
}

static bool same_minute(const occ *x, const occ *y) {
        return x->col == y->col && x->series_id == y->series_id && !strcmp(x->time, y->time);
}

static bool same_day(const occ *x, const occ *y) {
        return x->col == y->col && x->series_id == y->series_id;
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* The interval of n occurrences when they are evenly spaced, else 0 (also when
 * the reply has no "start" or memory is short: the line then just says how many). */
static int64_t every_of(occ *const *p, size_t n) {
        int64_t *t = malloc(n * sizeof *t), every = 0;
        if (!t)
                return 0;
        for (size_t k = 0; k < n; k++) {
                if (p[k]->start == INT64_MIN)
                        goto done;
                t[k] = p[k]->start;
        }
        qsort(t, n, sizeof *t, cmp_i64);
        every = t[1] - t[0];
        for (size_t k = 2; k < n && every; k++)
                if (t[k] - t[k - 1] != every)
                        every = 0;
done:
        free(t);
        return every > 0 ? every : 0;
}

/* Marks (1) the twins: occurrences of a series whose day has their wall time with two
 * UTC offsets (a repeated hour on a fall-back night; an every-20-seconds series has
 * three in one minute, with one offset, and is no twin); (2) the busy series' days,
 * told on one line each.  Sorts pointers, so O(n log n) where comparing all pairs
 * would be O(n^2) on a busy day. */
static int mark_groups(view *v) {
        occ **p = malloc((v->nocc ? v->nocc : 1) * sizeof *p);
        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < v->nocc; i++)
                p[i] = &v->occ[i];
        qsort(p, v->nocc, sizeof *p, cmp_occ);
        for (size_t i = 0, j; i < v->nocc; i = j) {
                for (j = i + 1; j < v->nocc && same_minute(p[i], p[j]); j++)
                        ;
                /* sorted by offset inside the minute: first and last differ if any do */
                if (p[i]->col >= 0 && strcmp(p[i]->off, p[j - 1]->off) != 0)
                        for (size_t k = i; k < j; k++)
                                p[k]->twin = true;
        }
        size_t groups = 0;
        for (size_t i = 0, j; i < v->nocc; i = j) {
                for (j = i + 1; j < v->nocc && same_day(p[i], p[j]); j++)
                        ;
                groups += p[i]->col >= 0 && j - i > CALVIEW_BUSY;
        }
        v->busy = calloc(groups ? groups : 1, sizeof *v->busy);
        if (!v->busy) {
                free(p);
                return -ENOMEM;
        }
        for (size_t i = 0, j; i < v->nocc; i = j) {
                for (j = i + 1; j < v->nocc && same_day(p[i], p[j]); j++)
                        ;
                if (p[i]->col < 0 || j - i <= CALVIEW_BUSY)
                        continue;
                busy *g = &v->busy[v->nbusy++];
                occ *first = p[i], *last = p[i];
                for (size_t k = i; k < j; k++) {
                        p[k]->busy = true;
                        p[k]->twin = false;
                        g->kinds[p[k]->kind]++;
                        if (p[k]->index < first->index)
                                first = p[k];
                        if (p[k]->index > last->index)
                                last = p[k];
                }
                first->head = true;
                g->head = (size_t) (first - v->occ);
                g->n = j - i;
                g->last = last->time;
                g->every = every_of(p + i, j - i);
        }
        free(p);
        return 0;
}

static int parse(view *v, const json_t *cal, const char *today, sked_err *err) {
        const json_t *x, *it;
        size_t i;

        if (!json_is_object(cal))
                return err_set(err, -EBADMSG, "expected a JSON object");
        x = json_object_get(cal, "tz");
        if (!json_is_string(x))
                return bad(err, "tz", "a string");
        v->tz = json_string_value(x);
        x = json_object_get(cal, "days");
        if (!json_is_array(x) || json_array_size(x) != NDAYS)
                return bad(err, "days", "an array of 7 dates");
        v->today = -1;
        json_array_foreach(x, i, it) {
                char f[32];
                v->days[i] = json_string_value(it);
                if (!parse_date(v->days[i], &v->daynum[i])) {
                        snprintf(f, sizeof f, "days[%zu]", i);
                        return bad(err, f, "a date \"YYYY-MM-DD\"");
                }
                if (today && !strcmp(today, v->days[i]))
                        v->today = (int) i;
        }
        v->series = json_object_get(cal, "series");
        if (v->series && !json_is_array(v->series))
                return bad(err, "series", "an array");
        json_array_foreach(v->series, i, it) {
                char f[32];
                snprintf(f, sizeof f, "series[%zu]", i);
                if (!json_is_object(it))
                        return bad(err, f, "an object");
        }
        x = json_object_get(cal, "truncated");
        v->truncated = json_is_true(x);
        x = json_object_get(cal, "occurrences");
        if (!json_is_array(x))
                return bad(err, "occurrences", "an array");
        v->nocc = json_array_size(x);
        if (v->nocc > SIZE_MAX / sizeof(occ))
                return err_set(err, -ENOMEM, "out of memory");
        v->occ = calloc(v->nocc ? v->nocc : 1, sizeof(occ));
        v->bycol = calloc(v->nocc ? v->nocc : 1, sizeof(size_t));
        if (!v->occ || !v->bycol)
                return err_set(err, -ENOMEM, "out of memory");
        json_array_foreach(x, i, it) {
                int r = parse_occ(v, it, i, &v->occ[i], err);
                if (r < 0)
                        return r;
        }
        if (mark_groups(v) < 0)
                return err_set(err, -ENOMEM, "out of memory");
        /* Counting sort by column keeps the reply's order (by start) inside a day; a
         * busy series' day is only its head. */
        size_t count[NDAYS] = {0};
        for (i = 0; i < v->nocc; i++) {
                if (v->occ[i].col < 0)
                        v->outside++;
                else if (!v->occ[i].busy || v->occ[i].head)
                        count[v->occ[i].col]++;
        }
        for (int c = 0; c < NDAYS; c++)
                v->colstart[c + 1] = v->colstart[c] + count[c];
        size_t fill[NDAYS];
        memcpy(fill, v->colstart, sizeof fill);
        for (i = 0; i < v->nocc; i++)
                if (v->occ[i].col >= 0 && (!v->occ[i].busy || v->occ[i].head))
                        v->bycol[fill[v->occ[i].col]++] = i;
        return 0;
}

/* ---- rendering ---- */

/* O(series) per call, but only for occurrences the server sent without a title. */
static const char *series_title(const view *v, json_int_t id) {
        size_t i;
        const json_t *it;
        json_array_foreach(v->series, i, it) {
                const json_t *sid = json_object_get(it, "id");
                if (json_is_integer(sid) && json_integer_value(sid) == id)
                        return json_string_value(json_object_get(it, "title"));
        }
        return NULL;
}

/* "HH:MM <mark> <title>" (the time with its offset when the series repeats it). */
static void cell_text(const view *v, const occ *o, strbuf *cell) {
        char off[8] = "", idbuf[40];
        const char *title = o->title ? o->title : series_title(v, o->series_id);
        if (!title) {
                snprintf(idbuf, sizeof idbuf, "series %lld", (long long) o->series_id);
                title = idbuf;
        }
        if (o->twin)
                snprintf(off, sizeof off, "%s", o->off);
        strbuf_reset(cell);
        strbuf_printf(cell, "%s%s %c %s", o->time, off, o->busy ? BUSY_MARK : kinds[o->kind].mark, title);
}

/* put_text of an occurrence's cell, in its state's colour when the view has colour;
 * the escape sequences take no columns. */
static size_t put_cell(strbuf *b, const view *v, const occ *o, const char *text, size_t cols) {
        const char *on = v->color && !o->busy ? kinds[o->kind].sgr : "";
        strbuf_puts(b, on);
        size_t w = put_text(b, text, cols);
        if (*on)
                strbuf_puts(b, SGR_RESET);
        return w;
}

/* put_text of a day's label, bold for today when the view has colour. */
static size_t put_label(strbuf *b, const view *v, int c, const char *label, size_t cols) {
        bool bold = v->color && c == v->today;
        if (bold)
                strbuf_puts(b, SGR_BOLD);
        size_t w = put_text(b, label, cols);
        if (bold)
                strbuf_puts(b, SGR_RESET);
        return w;
}

static void day_label(const view *v, int c, bool long_form, char *buf, size_t len) {
        const char *wd = wdays[civil_weekday(v->daynum[c])];
        if (long_form)
                snprintf(buf, len, "%s %s%s", wd, v->days[c], c == v->today ? " (today)" : "");
        else
                snprintf(buf, len, "%s %s%s", wd, v->days[c] + 8, c == v->today ? " *" : "");
}

static void render_columns(strbuf *b, const view *v, size_t cw, strbuf *cell) {
        char label[32];
        size_t start = b->len, rows = 0;

        for (int c = 0; c < NDAYS; c++) {
                if (c > 0)
                        strbuf_puts(b, SEP);
                day_label(v, c, false, label, sizeof label);
                size_t w = put_label(b, v, c, label, cw);
                if (c + 1 < NDAYS)
                        pad(b, cw - w);
                if (v->colstart[c + 1] - v->colstart[c] > rows)
                        rows = v->colstart[c + 1] - v->colstart[c];
        }
        end_line(b, start);
        /* The rule under the headers: '=' under today, '+' where the separators are. */
        start = b->len;
        for (int c = 0; c < NDAYS; c++) {
                size_t w = cw + (c > 0) + (c + 1 < NDAYS);
                if (c > 0)
                        strbuf_putc(b, '+');
                while (w-- > 0)
                        strbuf_putc(b, c == v->today ? '=' : '-');
        }
        end_line(b, start);
        for (size_t r = 0; r < rows; r++) {
                start = b->len;
                for (int c = 0; c < NDAYS; c++) {
                        size_t w = 0;
                        if (c > 0)
                                strbuf_puts(b, SEP);
                        if (v->colstart[c] + r < v->colstart[c + 1]) {
                                const occ *o = &v->occ[v->bycol[v->colstart[c] + r]];
                                cell_text(v, o, cell);
                                w = put_cell(b, v, o, strbuf_str(cell), cw);
                        }
                        if (c + 1 < NDAYS)
                                pad(b, cw - w);
                }
                end_line(b, start);
        }
}

static void render_list(strbuf *b, const view *v, size_t width, strbuf *cell) {
        char label[40];
        for (int c = 0; c < NDAYS; c++) {
                day_label(v, c, true, label, sizeof label);
                size_t start = b->len;
                put_label(b, v, c, label, width);
                end_line(b, start);
                if (v->colstart[c] == v->colstart[c + 1])
                        put_line(b, "  (nothing)", width);
                for (size_t k = v->colstart[c]; k < v->colstart[c + 1]; k++) {
                        const occ *o = &v->occ[v->bycol[k]];
                        start = b->len;
                        cell_text(v, o, cell);
                        strbuf_puts(b, "  ");
                        put_cell(b, v, o, strbuf_str(cell), width - 2);
                        end_line(b, start);
                }
        }
}

/* "4,320" into buf (at least 28 bytes). */
static const char *grouped(size_t n, char *buf, size_t len) {
        char digits[24];
        int nd = snprintf(digits, sizeof digits, "%zu", n);
        size_t o = 0;
        for (int i = 0; i < nd && o + 2 < len; i++) {
                if (i > 0 && (nd - i) % 3 == 0)
                        buf[o++] = ',';
                buf[o++] = digits[i];
        }
        buf[o] = '\0';
        return buf;
}

static void put_count(strbuf *b, size_t n) {
        char buf[32];
        strbuf_puts(b, grouped(n, buf, sizeof buf));
}

/* "every 20 s", "every 15 min", "every 2 h", "every 90 s" */
static void put_every(strbuf *b, int64_t usec) {
        int64_t s = usec / SKED_USEC;
        if (usec % SKED_USEC)
                strbuf_printf(b, "every %lld ms", (long long) (usec / 1000));
        else if (s % 3600 == 0)
                strbuf_printf(b, "every %lld h", (long long) (s / 3600));
        else if (s % 60 == 0)
                strbuf_printf(b, "every %lld min", (long long) (s / 60));
        else
                strbuf_printf(b, "every %lld s", (long long) s);
}

/* One line per busy series' day, below the days, with its whole title:
 * "Wed 02  07:02-23:59 # Hello every 20 seconds  every 20 s, 2,538 times: 12 succeeded, 2,526 planned" */
static void render_busy(strbuf *b, const view *v, size_t width, strbuf *cell) {
        char label[64];
        if (!v->nbusy)
                return;
        snprintf(label, sizeof label, "%c more than %d a day, one line each:", BUSY_MARK, CALVIEW_BUSY);
        put_line(b, label, width);
        for (int c = 0; c < NDAYS; c++) {
                for (size_t i = 0; i < v->nbusy; i++) {
                        const busy *g = &v->busy[i];
                        const occ *o = &v->occ[g->head];
                        if (o->col != c)
                                continue;
                        const char *title = o->title ? o->title : series_title(v, o->series_id);
                        strbuf_reset(cell);
                        strbuf_printf(cell, "  %s %s  %s-%s  ", wdays[civil_weekday(v->daynum[c])], v->days[c] + 8,
                                      o->time, g->last);
                        if (title)
                                strbuf_puts(cell, title);
                        else
                                strbuf_printf(cell, "series %lld", (long long) o->series_id);
                        strbuf_puts(cell, "  ");
                        if (g->every) {
                                put_every(cell, g->every);
                                strbuf_puts(cell, ", ");
                        }
                        put_count(cell, g->n);
                        strbuf_puts(cell, " times:");
                        bool first = true;
                        for (int k = 0; k < NKINDS; k++) {
                                if (!g->kinds[k])
                                        continue;
                                strbuf_puts(cell, first ? " " : ", ");
                                put_count(cell, g->kinds[k]);
                                strbuf_printf(cell, " %s", kinds[k].label);
                                first = false;
                        }
                        put_line(b, strbuf_str(cell), width);
                }
        }
        strbuf_putc(b, '\n');
}

/* "series 3 "Weekday count" is paused: holiday" for each disabled series. */
static void render_paused(strbuf *b, const view *v, size_t width, strbuf *cell) {
        size_t i;
        const json_t *it;
        json_array_foreach(v->series, i, it) {
                if (!json_is_false(json_object_get(it, "enabled")))
                        continue;
                const json_t *id = json_object_get(it, "id");
                const char *title = json_string_value(json_object_get(it, "title"));
                const char *note = json_string_value(json_object_get(it, "pause_note"));
                strbuf_reset(cell);
                strbuf_printf(cell, "series %lld", (long long) json_integer_value(id));
                if (title)
                        strbuf_printf(cell, " \"%s\"", title);
                strbuf_puts(cell, " is paused");
                if (note && *note)
                        strbuf_printf(cell, ": %s", note);
                put_line(b, strbuf_str(cell), width);
        }
}

static void render_summary(strbuf *b, const view *v, size_t width) {
        size_t count[NSTATES + 1] = {0}, changed = 0, n = 0;
        char items[NSTATES + 2][48], head[48];
        const char *ptrs[NSTATES + 2];

        for (size_t i = 0; i < v->nocc; i++) {
                count[v->occ[i].state]++;
                changed += v->occ[i].changed;
        }
        char num[32];
        for (size_t s = 0; s <= NSTATES; s++)
                if (count[s])
                        snprintf(items[n++], sizeof items[0], "%s %s", grouped(count[s], num, sizeof num),
                                 s < NSTATES ? states[s].name : "other");
        if (changed)
                snprintf(items[n++], sizeof items[0], "(%s changed one-off)", grouped(changed, num, sizeof num));
        /* commas between the state counts, none before the parenthesis */
        for (size_t k = 0; k + 1 < n; k++)
                if (items[k + 1][0] != '(')
                        strcat(items[k], ",");
        for (size_t k = 0; k < n; k++)
                ptrs[k] = items[k];
        snprintf(head, sizeof head, "%s occurrence%s: ", grouped(v->nocc, num, sizeof num), v->nocc == 1 ? "" : "s");
        put_wrapped(b, head, ptrs, n, " ", width);
}

static void render_legend(strbuf *b, const view *v, size_t width) {
        char items[NKINDS + 2][40];
        const char *ptrs[NKINDS + 2];
        size_t n = 0;
        bool other = false;

        for (size_t i = 0; i < v->nocc; i++)
                other |= v->occ[i].kind == K_OTHER;
        for (int k = 0; k < NKINDS; k++)
                if (k != K_OTHER || other)
                        snprintf(items[n++], sizeof items[0], "%c %s", kinds[k].mark, kinds[k].label);
        if (v->nbusy)
                snprintf(items[n++], sizeof items[0], "%c more than %d a day", BUSY_MARK, CALVIEW_BUSY);
        if (v->today >= 0)
                snprintf(items[n++], sizeof items[0], "* today");
        for (size_t k = 0; k < n; k++)
                ptrs[k] = items[k];
        put_wrapped(b, "legend: ", ptrs, n, "  ", width);
}

static void view_done(view *v) {
        free(v->busy);
        free(v->occ);
        free(v->bycol);
}

int calview_render(strbuf *out, const json_t *cal, const calview_opts *o, sked_err *err) {
        view v = {0};
        strbuf b = STRBUF_INIT, cell = STRBUF_INIT;
        size_t width = o && o->width ? o->width : CALVIEW_WIDTH_DEFAULT;
        char line[128];
        int r;

        if (width < CALVIEW_WIDTH_MIN)
                width = CALVIEW_WIDTH_MIN;
        if (width > CALVIEW_WIDTH_MAX)
                width = CALVIEW_WIDTH_MAX;
        r = parse(&v, cal, o ? o->today : NULL, err);
        if (r < 0)
                goto done;
        v.color = o && o->color;

        strbuf_printf(&cell, "Week of %s (%s)", v.days[0], v.tz);
        put_line(&b, strbuf_str(&cell), width);
        if (v.nocc == 0) {
                put_line(&b, "nothing planned", width);
                render_paused(&b, &v, width, &cell);
        } else {
                size_t cw = (width - (NDAYS - 1) * SEP_LEN) / NDAYS;
                if (cw >= CALVIEW_COLUMN_MIN)
                        render_columns(&b, &v, cw, &cell);
                else
                        render_list(&b, &v, width, &cell);
                strbuf_putc(&b, '\n');
                if (v.outside) {
                        snprintf(line, sizeof line, "(%zu occurrence%s on days outside the week not shown)", v.outside,
                                 v.outside == 1 ? "" : "s");
                        put_line(&b, line, width);
                }
                render_busy(&b, &v, width, &cell);
                if (v.truncated) {
                        snprintf(line, sizeof line, "truncated: the server sent only the first %zu occurrences",
                                 v.nocc);
                        put_line(&b, line, width);
                }
                render_paused(&b, &v, width, &cell);
                render_summary(&b, &v, width);
                render_legend(&b, &v, width);
        }
        if (b.oom || cell.oom) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto done;
        }
        if (strbuf_append(out, strbuf_str(&b), b.len) < 0) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto done;
        }
        r = 0;
done:
        strbuf_free(&b);
        strbuf_free(&cell);
        view_done(&v);
        return r;
}
