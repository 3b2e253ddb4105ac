/* ics: iCalendar feed writer.  See ics.h.
 *
 * The events are written first, into their own buffer: only then are the calendar's
 * header (X-SKED-TRUNCATED) and each zone's span (the VTIMEZONEs come before the
 * events) known. */
#include "sched/ics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sched/tz.h"

#define FOLD_AT 75 /* octets per line, CRLF not counted */
#define DAY_US (86400 * SKED_USEC)
#define LOOKBACK_US (400 * DAY_US)  /* a DST zone changes offset within any 400 days */
#define LOOKAHEAD_US (366 * DAY_US) /* VTIMEZONE reaches this far past `to` */
#define STAMP_LEN 17                /* "YYYYMMDDTHHMMSS" + 'Z' + NUL */

/* A zone the feed uses, and the instants it writes in it. */
typedef struct zref {
        const tz_zone *z;
        bool utc; /* "UTC": times as "...Z", no VTIMEZONE */
        bool used;
        sked_time lo, hi; /* earliest and latest instant written in this zone */
} zref;

typedef struct feed {
        strbuf ev;   /* the events */
        strbuf line; /* the content line being built */
        strbuf tmp;  /* scratch: text before escaping */
        strbuf text; /* scratch: a DESCRIPTION being composed */
        char stamp[STAMP_LEN];
        zref *zones;
        size_t nzones;
        sked_time from, to;
        bool truncated;
        sked_time *nominals; /* ICS_INSTANCES_MAX + 1 */
        size_t room;         /* nominal occurrences the expanded series may still use */
} feed;

/* One event of the expanded form. */
typedef struct occ {
        sked_time start, nominal;
        const ics_exception *e;
} occ;

static sked_time time_min(void) {
        return civil_days_from_date(1000, 1, 1) * DAY_US;
}

static sked_time time_max(void) {
        return civil_days_from_date(9000, 1, 1) * DAY_US;
}

static bool time_ok(sked_time t) {
        return t >= time_min() && t < time_max();
}

/* "YYYYMMDDTHHMMSS" of a wall time (local seconds); buf >= 16. */
static void fmt_wall(int64_t wall, char *buf, size_t len) {
        char tmp[24];
        size_t n = (size_t) (civil_put_wall(tmp, wall, true) - tmp);
        snprintf(buf, len, "%.*s", (int) n, tmp);
}

/* ---- content lines ---- */

/* Appends one content line, folded: at most FOLD_AT octets per physical line, the
 * continuation lines starting with a space that counts; a cut never falls inside a UTF-8
 * sequence (lines hold valid UTF-8, see escape_text). */
static void put_folded(strbuf *out, const char *s, size_t n) {
        size_t pos = 0, room = FOLD_AT;
        while (n - pos > room) {
                size_t cut = pos + room;
                while (cut > pos && ((unsigned char) s[cut] & 0xc0) == 0x80)
                        cut--;
                if (cut == pos) /* not UTF-8 after all: cut anywhere rather than loop */
                        cut = pos + room;
                strbuf_append(out, s + pos, cut - pos);
                strbuf_append(out, "\r\n ", 3);
                pos = cut;
                room = FOLD_AT - 1;
        }
        strbuf_append(out, s + pos, n - pos);
        strbuf_append(out, "\r\n", 2);
}

/* Ends the line in f->line: writes it to out and empties it. */
static void end_line(feed *f, strbuf *out) {
        put_folded(out, f->line.data ? f->line.data : "", f->line.len);
        strbuf_reset(&f->line);
}

/* A line whose value needs no escaping (names, numbers, times, checked ASCII). */
static void put_line(feed *f, strbuf *out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put_line(feed *f, strbuf *out, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        strbuf_vprintf(&f->line, fmt, ap);
        va_end(ap);
        end_line(f, out);
}

/* Appends s as an RFC 5545 TEXT value: valid UTF-8 (bad bytes -> U+FFFD), "\\", "\;",
 * "\,", line breaks (CRLF, LF, CR) as "\n", other control characters as spaces. */
static void escape_text(feed *f, strbuf *dst, const char *s) {
        if (!s) /* out of memory composing it; the caller sees the oom flag */
                return;
        strbuf_reset(&f->tmp);
        strbuf_append_utf8(&f->tmp, s, strlen(s));
        const char *p = strbuf_str(&f->tmp);
        if (!p)
                return;
        for (; *p; p++) {
                unsigned char c = (unsigned char) *p;
                if (c == '\\' || c == ';' || c == ',') {
                        strbuf_putc(dst, '\\');
                        strbuf_putc(dst, (char) c);
                } else if (c == '\r' || c == '\n') {
                        strbuf_append(dst, "\\n", 2);
                        if (c == '\r' && p[1] == '\n')
                                p++;
                } else if (c < 0x20 || c == 0x7f) {
                        strbuf_putc(dst, ' ');
                } else {
                        strbuf_putc(dst, (char) c);
                }
        }
}

/* True when s holds something to show once escape_text has turned its control
 * characters into spaces: a SUMMARY of blanks is no summary (libical drops it as
 * "No value", found by tests/fuzz), so the default is written instead. */
static bool has_text(const char *s) {
        for (; s && *s; s++)
                if ((unsigned char) *s > 0x20 && (unsigned char) *s != 0x7f)
                        return true;
        return false;
}

static void put_text(feed *f, strbuf *out, const char *name, const char *text) {
        strbuf_puts(&f->line, name);
        strbuf_putc(&f->line, ':');
        escape_text(f, &f->line, text);
        end_line(f, out);
}

/* ---- times ---- */

static void note_time(zref *z, sked_time t) {
        if (!z->used) {
                z->used = true;
                z->lo = z->hi = t;
                return;
        }
        if (t < z->lo)
                z->lo = t;
        if (t > z->hi)
                z->hi = t;
}

/* "NAME;TZID=zone:wall" or, in UTC, "NAME:wallZ"; `at` is the instant it stands for. */
static void put_wall(feed *f, strbuf *out, const char *name, zref *z, int64_t wall, sked_time at) {
        char w[24];
        fmt_wall(wall, w, sizeof w);
        if (z->utc)
                put_line(f, out, "%s:%sZ", name, w);
        else
                put_line(f, out, "%s;TZID=%s:%s", name, tz_name(z->z), w);
        note_time(z, at);
}

/* Instant t as a wall time in z; in UTC ("...Z") when that wall time is one the zone
 * repeats and t is its second instant: RFC 5545 reads a repeated wall time as the first
 * (cron with every hour fires in both copies of a repeated hour). */
static void put_time(feed *f, strbuf *out, const char *name, zref *z, sked_time t) {
        int64_t wall;
        tz_local(z->z, t, &wall, NULL);
        sked_time first[2];
        if (!z->utc && tz_resolve(z->z, wall, TZ_GAP_SHIFT, TZ_REPEAT_FIRST, first) == 1 &&
            time_seconds(first[0]) != time_seconds(t)) {
                char w[24];
                fmt_wall(time_seconds(t), w, sizeof w);
                put_line(f, out, "%s:%sZ", name, w);
                note_time(z, t);
                return;
        }
        put_wall(f, out, name, z, wall, t);
}

/* "PT1H30M" (hours, minutes, seconds: exact durations, unlike days). */
static void put_duration(feed *f, strbuf *out, int64_t secs) {
        strbuf_puts(&f->line, "DURATION:PT");
        if (secs >= 3600)
                strbuf_printf(&f->line, "%" PRId64 "H", secs / 3600);
        if (secs % 3600 >= 60)
                strbuf_printf(&f->line, "%" PRId64 "M", secs % 3600 / 60);
        if (secs % 60)
                strbuf_printf(&f->line, "%" PRId64 "S", secs % 60);
        end_line(f, out);
}

/* "2026-03-08 03:30:00 (-04:00, America/New_York)" into f->text. */
static void describe_time(feed *f, const zref *z, sked_time t) {
        int64_t wall;
        int32_t off;
        tz_local(z->z, t, &wall, &off);
        civil c;
        civil_from_seconds(wall, &c);
        char w[24], o[16];
        civil_format(&c, w, sizeof w);
        w[10] = ' ';
        if (z->utc) {
                strbuf_printf(&f->text, "%s UTC", w);
                return;
        }
        tz_format_offset(off, o, sizeof o);
        strbuf_printf(&f->text, "%s (%s, %s)", w, o, tz_name(z->z));
}

/* ---- events ---- */

enum { EV_MASTER, EV_OVERRIDE, EV_INSTANCE };

/* Writes BEGIN:VEVENT and the properties every event has; the caller adds the rest
 * (RRULE, EXDATE) and END:VEVENT.  For EV_OVERRIDE and EV_INSTANCE, `o` says which
 * occurrence and where it starts. */
static void event_begin(feed *f, const ics_series *s, zref *z, int kind, const occ *o, int64_t start_wall,
                        sked_time start_at) {
        strbuf *out = &f->ev;
        put_line(f, out, "BEGIN:VEVENT");
        if (kind == EV_INSTANCE) {
                char n[24];
                fmt_wall(time_seconds(o->nominal), n, sizeof n);
                put_line(f, out, "UID:series-%" PRId64 "-%sZ@sked", s->id, n);
        } else {
                put_line(f, out, "UID:series-%" PRId64 "@sked", s->id);
        }
        put_line(f, out, "DTSTAMP:%s", f->stamp);
        if (kind == EV_OVERRIDE)
                put_time(f, out, "RECURRENCE-ID", z, o->nominal);
        if (kind == EV_MASTER)
                put_wall(f, out, "DTSTART", z, start_wall, start_at);
        else
                put_time(f, out, "DTSTART", z, o->start);
        put_duration(f, out, s->duration_s);

        strbuf_reset(&f->text);
        if (has_text(s->title))
                strbuf_puts(&f->text, s->title);
        else if (has_text(s->type))
                strbuf_puts(&f->text, s->type);
        else
                strbuf_printf(&f->text, "series %" PRId64, s->id);
        if (s->paused)
                strbuf_puts(&f->text, " (paused)");
        put_text(f, out, "SUMMARY", strbuf_str(&f->text));

        strbuf_reset(&f->text);
        strbuf_printf(&f->text, "sked series %" PRId64, s->id);
        if (s->type && *s->type)
                strbuf_printf(&f->text, ", type %s", s->type);
        strbuf_putc(&f->text, '.');
        if (s->paused)
                strbuf_puts(&f->text, "\nPaused: does not run until resumed.");
        const ics_exception *e = o ? o->e : NULL;
        if (e && e->moved_to && e->moved_to != e->nominal) {
                strbuf_puts(&f->text, "\nMoved from ");
                describe_time(f, z, e->nominal);
                strbuf_putc(&f->text, '.');
        }
        if (e && e->params_changed)
                strbuf_puts(&f->text, "\nParameters overridden for this occurrence.");
        if (e && e->note && *e->note) {
                strbuf_puts(&f->text, "\nNote: ");
                strbuf_puts(&f->text, e->note);
        }
        put_text(f, out, "DESCRIPTION", strbuf_str(&f->text));
        if (s->type && *s->type)
                put_text(f, out, "CATEGORIES", s->type);
        put_line(f, out, "SEQUENCE:0");
        put_line(f, out, "TRANSP:TRANSPARENT");
}

static void event_end(feed *f) {
        put_line(f, &f->ev, "END:VEVENT");
}

/* Whether an exception changes anything an override event would show. */
static bool overrides(const ics_exception *e) {
        return !e->disabled &&
               ((e->moved_to && e->moved_to != e->nominal) || e->params_changed || (e->note && *e->note));
}

static void write_rrule_form(feed *f, const ics_series *s, zref *z, const char *rule, int64_t start_wall,
                             sked_time start_at) {
        event_begin(f, s, z, EV_MASTER, NULL, start_wall, start_at);
        put_line(f, &f->ev, "RRULE:%s", rule);
        for (size_t i = 0; i < s->nexc; i++)
                if (s->exc[i].disabled)
                        put_time(f, &f->ev, "EXDATE", z, s->exc[i].nominal);
        event_end(f);
        for (size_t i = 0; i < s->nexc; i++) {
                const ics_exception *e = &s->exc[i];
                if (!overrides(e))
                        continue;
                occ o = {e->moved_to ? e->moved_to : e->nominal, e->nominal, e};
                event_begin(f, s, z, EV_OVERRIDE, &o, 0, 0);
                event_end(f);
        }
}

static const ics_exception *find_exc(const ics_series *s, sked_time nominal) {
        size_t lo = 0, hi = s->nexc;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->exc[mid].nominal < nominal)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < s->nexc && s->exc[lo].nominal == nominal ? &s->exc[lo] : NULL;
}

static int occ_cmp(const void *a, const void *b) {
        const occ *x = a, *y = b;
        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        return x->nominal < y->nominal ? -1 : x->nominal > y->nominal;
}

static int write_expanded_form(feed *f, const ics_series *s, zref *z) {
        int max = f->room < ICS_INSTANCES_MAX ? (int) f->room : ICS_INSTANCES_MAX;
        int m = schedule_list(s->sc, f->from, f->to, f->nominals, (size_t) max + 1);
        sked_time cut = f->to; /* events start in [from, cut) */
        if (m > max) {
                m = max;
                cut = f->nominals[m];
                f->truncated = true;
        }
        f->room -= (size_t) m;
        /* nexc was checked against SIZE_MAX / sizeof(occ) - ICS_INSTANCES_MAX. */
        occ *v = malloc(((size_t) m + s->nexc) * sizeof *v + 1);
        if (!v)
                return -ENOMEM;
        size_t nv = 0;
        for (int i = 0; i < m; i++) {
                sked_time t = f->nominals[i];
                const ics_exception *e = find_exc(s, t);
                if (e && e->disabled)
                        continue;
                sked_time start = e && e->moved_to ? e->moved_to : t;
                if (start >= f->from && start < cut)
                        v[nv++] = (occ){start, t, e};
        }
        /* Occurrences moved in from outside the listed ones. */
        for (size_t i = 0; i < s->nexc; i++) {
                const ics_exception *e = &s->exc[i];
                if (e->disabled || !e->moved_to || e->moved_to < f->from || e->moved_to >= cut)
                        continue;
                if (e->nominal >= f->from && e->nominal < cut)
                        continue; /* listed above, or not an occurrence */
                sked_time t;
                if (schedule_next(s->sc, e->nominal - 1, &t) < 0 || t != e->nominal)
                        continue;
                v[nv++] = (occ){e->moved_to, e->nominal, e};
        }
        qsort(v, nv, sizeof *v, occ_cmp);
        for (size_t i = 0; i < nv; i++) {
                event_begin(f, s, z, EV_INSTANCE, &v[i], 0, 0);
                event_end(f);
        }
        free(v);
        return 0;
}

/* ---- VTIMEZONE ---- */

typedef struct change {
        sked_time at;
        int32_t from, to;
} change;

static void put_offset(feed *f, strbuf *out, const char *name, int32_t off) {
        char sign = off < 0 ? '-' : '+';
        int32_t a = off < 0 ? -off : off;
        if (a % 60)
                put_line(f, out, "%s:%c%02d%02d%02d", name, sign, a / 3600, a % 3600 / 60, a % 60);
        else
                put_line(f, out, "%s:%c%02d%02d", name, sign, a / 3600, a % 3600 / 60);
}

static void put_observance(feed *f, strbuf *out, bool daylight, int64_t onset_wall, int32_t from, int32_t to) {
        const char *kind = daylight ? "DAYLIGHT" : "STANDARD";
        char w[24];
        fmt_wall(onset_wall, w, sizeof w);
        put_line(f, out, "BEGIN:%s", kind);
        put_line(f, out, "DTSTART:%s", w);
        put_offset(f, out, "TZOFFSETFROM", from);
        put_offset(f, out, "TZOFFSETTO", to);
        put_line(f, out, "END:%s", kind);
}

static void write_vtimezone(feed *f, strbuf *out, const zref *z) {
        sked_time lo = z->lo < f->from ? z->lo : f->from;
        sked_time hi = f->to + LOOKAHEAD_US;
        if (z->hi > hi)
                hi = z->hi;
        /* The changes in (lo - LOOKBACK, hi], the latest CAP of them, oldest first. */
        enum { CAP = ICS_TZ_OBSERVANCES_MAX - 1 }; /* one left for the first observance */
        change ring[CAP];
        size_t total = 0;
        sked_time t = lo - LOOKBACK_US, nt;
        while (tz_next_transition(z->z, t, &nt) == 0 && nt <= hi) {
                ring[total % CAP] = (change){nt, tz_offset_at(z->z, nt - 1), tz_offset_at(z->z, nt)};
                total++;
                t = nt;
        }
        size_t len = total < CAP ? total : CAP;
        size_t first = total < CAP ? 0 : total % CAP; /* ring index of the oldest kept */
        /* Of the changes at or before lo, only the last matters. */
        size_t k = 0;
        while (k + 1 < len && ring[(first + k + 1) % CAP].at <= lo)
                k++;

        put_line(f, out, "BEGIN:VTIMEZONE");
        put_line(f, out, "TZID:%s", tz_name(z->z));
        if (total <= CAP && (len == 0 || ring[(first + k) % CAP].at > lo)) {
                /* No change within LOOKBACK before lo: state the offset in force. */
                int64_t wall;
                int32_t off;
                tz_local(z->z, lo, &wall, &off);
                wall -= ((wall % 86400) + 86400) % 86400; /* its local midnight */
                put_observance(f, out, false, wall, off, off);
        }
        for (size_t i = k; i < len; i++) {
                const change *c = &ring[(first + i) % CAP];
                put_observance(f, out, c->to > c->from, time_seconds(c->at) + c->from, c->from, c->to);
        }
        put_line(f, out, "END:VTIMEZONE");
}

/* ---- the feed ---- */

static int series_err(sked_err *err, int code, const ics_series *s, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int series_err(sked_err *err, int code, const ics_series *s, const char *field, const char *fmt, ...) {
        char name[128], msg[SKED_ERR_MSG_MAX];
        snprintf(name, sizeof name, "series[%" PRId64 "].%s", s->id, field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return err_field(err, code, name, "%s", msg);
}

/* The zone of series s, added to f->zones if new. */
static int zone_of(feed *f, const ics_series *s, zref **ret, sked_err *err) {
        const char *name = s->tz;
        if (!name && s->sc)
                name = tz_name(schedule_zone(s->sc));
        if (!name)
                return series_err(err, -EINVAL, s, "tz", "missing (and no schedule to take it from)");
        const tz_zone *z;
        int r = tz_load(name, &z, err);
        if (r < 0) {
                char field[64];
                snprintf(field, sizeof field, "series[%" PRId64 "].tz", s->id);
                err_prefix(err, field);
                return r;
        }
        for (size_t i = 0; i < f->nzones; i++)
                if (f->zones[i].z == z) {
                        *ret = &f->zones[i];
                        return 0;
                }
        zref *zr = &f->zones[f->nzones++]; /* room for one per series */
        *zr = (zref){.z = z, .utc = !strcmp(tz_name(z), "UTC")};
        *ret = zr;
        return 0;
}

static int check_series(const ics_series *s, sked_err *err) {
        if (s->duration_s < ICS_DURATION_MIN || s->duration_s > ICS_DURATION_MAX)
                return series_err(err, -EINVAL, s, "duration_s", "%" PRId64 ": must be %d..%lld", s->duration_s,
                                  ICS_DURATION_MIN, ICS_DURATION_MAX);
        if (s->nexc && !s->exc)
                return series_err(err, -EINVAL, s, "exc", "NULL with nexc %zu", s->nexc);
        if (s->nexc > (SIZE_MAX - 1) / sizeof(occ) - ICS_INSTANCES_MAX)
                return series_err(err, -EINVAL, s, "nexc", "%zu: too many", s->nexc);
        for (size_t i = 0; i < s->nexc; i++) {
                const ics_exception *e = &s->exc[i];
                if (!time_ok(e->nominal) || (e->moved_to && !time_ok(e->moved_to)))
                        return series_err(err, -EINVAL, s, "exc", "[%zu]: instant outside years 1000..8999", i);
                if (i > 0 && e->nominal <= s->exc[i - 1].nominal)
                        return series_err(err, -EINVAL, s, "exc", "[%zu]: not in ascending order of nominal", i);
        }
        if (!s->rrule && !s->sc)
                return series_err(err, -EINVAL, s, "sc", "missing: the expanded form needs the schedule");
        return 0;
}

/* The RRULE value of s (without "RRULE:"), checked: printable ASCII with a FREQ. */
static int check_rrule(const ics_series *s, const char **ret, sked_err *err) {
        const char *r = s->rrule;
        if (!strncasecmp(r, "RRULE:", 6))
                r += 6;
        size_t n = strlen(r);
        if (n == 0 || n > SCHEDULE_SPEC_MAX)
                return series_err(err, -EINVAL, s, "rrule", "must be 1..%d characters", SCHEDULE_SPEC_MAX);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) r[i] <= 0x20 || (unsigned char) r[i] >= 0x7f)
                        return series_err(err, -EINVAL, s, "rrule", "\"%s\": must be printable ASCII", r);
        if (!strcasestr(r, "FREQ="))
                return series_err(err, -EINVAL, s, "rrule", "\"%s\": has no FREQ", r);
        *ret = r;
        return 0;
}

static int write_series(feed *f, const ics_series *s, sked_err *err) {
        int r = check_series(s, err);
        if (r < 0)
                return r;
        zref *z = NULL;
        r = zone_of(f, s, &z, err);
        if (r < 0)
                return r;
        if (!s->rrule)
                return write_expanded_form(f, s, z);

        const char *rule = NULL;
        r = check_rrule(s, &rule, err);
        if (r < 0)
                return r;
        civil c;
        if (!s->dtstart_local || civil_parse(s->dtstart_local, false, false, &c) < 0)
                return series_err(err, -EINVAL, s, "dtstart_local", "\"%s\": expected YYYY-MM-DDTHH:MM:SS",
                                  s->dtstart_local ? s->dtstart_local : "(null)");
        int64_t wall = civil_to_seconds(&c);
        sked_time at[2];
        if (z->utc)
                at[0] = wall * SKED_USEC;
        else
                tz_resolve(z->z, wall, TZ_GAP_SHIFT, TZ_REPEAT_FIRST, at);
        if (!time_ok(at[0]))
                return series_err(err, -EINVAL, s, "dtstart_local", "\"%s\": outside years 1000..8999",
                                  s->dtstart_local);
        write_rrule_form(f, s, z, rule, wall, at[0]);
        return 0;
}

static void feed_free(feed *f) {
        strbuf_free(&f->ev);
        strbuf_free(&f->line);
        strbuf_free(&f->tmp);
        strbuf_free(&f->text);
        free(f->zones);
        free(f->nominals);
}

int ics_feed(strbuf *out, const char *calname, const ics_series *s, size_t n, sked_time from, sked_time to,
             sked_time now, sked_err *err) {
        if (n && !s)
                return err_set(err, -EINVAL, "ics: series: NULL with n %zu", n);
        if (!time_ok(from) || !time_ok(to) || !time_ok(now) || from >= to)
                return err_set(err, -EINVAL, "ics: window: from < to and now must lie in years 1000..8999");
        if (out->oom)
                return -ENOMEM;

        feed f = {.ev = STRBUF_INIT,
                  .line = STRBUF_INIT,
                  .tmp = STRBUF_INIT,
                  .text = STRBUF_INIT,
                  .from = from,
                  .to = to,
                  .room = ICS_FEED_INSTANCES_MAX};
        size_t saved = out->len;
        int r = -ENOMEM;
        f.zones = calloc(n ? n : 1, sizeof *f.zones);
        f.nominals = malloc((ICS_INSTANCES_MAX + 1) * sizeof *f.nominals);
        if (!f.zones || !f.nominals)
                goto fail;
        char w[24];
        fmt_wall(time_seconds(now), w, sizeof w);
        snprintf(f.stamp, sizeof f.stamp, "%sZ", w);

        for (size_t i = 0; i < n; i++) {
                r = write_series(&f, &s[i], err);
                if (r < 0)
                        goto fail;
        }

        r = -ENOMEM;
        if (f.ev.oom || f.line.oom || f.tmp.oom || f.text.oom)
                goto fail;

        put_line(&f, out, "BEGIN:VCALENDAR");
        put_line(&f, out, "VERSION:2.0");
        put_line(&f, out, "PRODID:-//sked//sked//EN");
        put_line(&f, out, "CALSCALE:GREGORIAN");
        put_line(&f, out, "METHOD:PUBLISH");
        put_text(&f, out, "X-WR-CALNAME", has_text(calname) ? calname : "sked");
        if (f.truncated)
                put_line(&f, out, "X-SKED-TRUNCATED:TRUE");
        for (size_t i = 0; i < f.nzones; i++)
                if (f.zones[i].used && !f.zones[i].utc)
                        write_vtimezone(&f, out, &f.zones[i]);
        strbuf_append(out, f.ev.data ? f.ev.data : "", f.ev.len);
        put_line(&f, out, "END:VCALENDAR");
        if (f.line.oom || out->oom)
                goto fail;
        feed_free(&f);
        return 0;

fail:
        if (r == -ENOMEM)
                err_set(err, -ENOMEM, "ics: out of memory");
        /* A failed append leaves the bytes before it alone: undo ours, oom flag included. */
        out->oom = false;
        if (out->data) {
                out->len = saved;
                out->data[saved] = '\0';
        }
        feed_free(&f);
        return r;
}
