/* Unit tests of src/cli/calview.c: whole renderings of fixture replies of
 * GET /api/v1/calendar (fixtures/, made with Python's zoneinfo for Europe/Berlin),
 * and the errors of malformed replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/calview.h"

static json_t *load(const char *name) {
        char path[512];
        json_error_t je;
        snprintf(path, sizeof path, "%s/fixtures/%s", FIXTURE_DIR, name);
        json_t *j = json_load_file(path, 0, &je);
        if (!j)
                fail_msg("%s: %s", path, je.text);
        return j;
}

/* The rendering of cal at width for today (may be NULL); the caller frees it. */
static char *render(const json_t *cal, unsigned width, const char *today) {
        strbuf out = STRBUF_INIT;
        sked_err err = {0};
        calview_opts o = {.width = width, .today = today};
        int r = calview_render(&out, cal, &o, &err);
        if (r < 0)
                fail_msg("calview_render: %d %s", r, err.msg);
        return strbuf_steal(&out);
}

static char *render_file(const char *name, unsigned width, const char *today) {
        json_t *cal = load(name);
        char *s = render(cal, width, today);
        json_decref(cal);
        return s;
}

/* The n-th line (0-based) of s, without its newline, in a static buffer. */
static const char *line_of(const char *s, int n) {
        static char buf[4096];
        for (; n > 0 && s; n--) {
                s = strchr(s, '\n');
                if (s)
                        s++;
        }
        assert_non_null(s);
        size_t len = strcspn(s, "\n");
        assert_true(len < sizeof buf);
        memcpy(buf, s, len);
        buf[len] = '\0';
        return buf;
}

/* Every byte sequence is whole UTF-8 and no control character but '\n' is left. */
static void assert_clean_utf8(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        while (*p) {
                size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
                if (n == 1)
                        assert_true(*p == '\n' || (*p >= 0x20 && *p != 0x7f));
                else
                        assert_true(*p >= 0xc2 && *p <= 0xf4);
                for (size_t i = 1; i < n; i++)
                        assert_int_equal(p[i] & 0xc0, 0x80);
                if (n == 2 && p[0] == 0xc2)
                        assert_true(p[1] >= 0xa0); /* no C1 control */
                p += n;
        }
}

/* A week in UTC with the given occurrences (a JSON array text). */
static json_t *week_with(const char *occurrences) {
        char text[8192];
        json_error_t je;
        snprintf(text, sizeof text,
                 "{\"tz\":\"UTC\",\"days\":[\"2026-11-23\",\"2026-11-24\",\"2026-11-25\",\"2026-11-"
                 "26\","
                 "\"2026-11-27\",\"2026-11-28\",\"2026-11-29\"],"
                 "\"series\":[{\"id\":7,\"title\":\"From the series "
                 "list\",\"enabled\":true,\"pause_note\":null}],"
                 "\"occurrences\":%s,\"truncated\":false}",
                 occurrences);
        json_t *j = json_loads(text, 0, &je);
        if (!j)
                fail_msg("fixture: %s", je.text);
        return j;
}

static void test_normal_week(void **state) {
        (void) state;
        char *s = render_file("week-normal.json", 120, "2026-11-25");
        assert_string_equal(s, "Week of 2026-11-23 (Europe/Berlin)\n"
                               "Mon 23         | Tue 24         | Wed 25 *       | Thu 26         | Fri 27     "
                               "    | Sat 28"
                               "         | Sun 29\n"
                               "---------------+----------------+================+----------------+------------"
                               "----+------"
                               "----------+---------------\n"
                               "08:00 + Night\xe2\x80\xa6 | 08:00 + Night\xe2\x80\xa6 | 08:00 > "
                               "Night\xe2\x80\xa6 | 08:00 . "
                               "Night\xe2\x80\xa6 | 08:00 . Night\xe2\x80\xa6 | 08:00 . Night\xe2\x80\xa6 | "
                               "08:00 . "
                               "Night\xe2\x80\xa6\n"
                               "09:00 + Weekd\xe2\x80\xa6 | 09:00 ! Weekd\xe2\x80\xa6 | 09:00 > "
                               "Weekd\xe2\x80\xa6 | 09:00 . "
                               "Weekd\xe2\x80\xa6 | 09:00 . Weekd\xe2\x80\xa6 |                |\n"
                               "\n"
                               "12 occurrences: 6 planned, 1 queued, 1 running, 3 succeeded, 1 failed\n"
                               "legend: . planned  ~ changed  x disabled  > due/queued/running  + succeeded  ! "
                               "failed/lost/cancelled\n"
                               "        - skipped/missed/paused  * today\n");
        free(s);

        /* Wide enough for whole titles; a today outside the week marks nothing. */
        s = render_file("week-normal.json", 200, "2026-12-01");
        assert_string_equal(line_of(s, 1),
                            "Mon 23                     | Tue 24                     | Wed 25                "
                            "     | Thu 26                     | Fri 27                     | Sat 28         "
                            "            | Sun 29");
        assert_null(strchr(line_of(s, 2), '='));
        assert_string_equal(line_of(s, 3),
                            "08:00 + Nightly export     | 08:00 + Nightly export     | 08:00 > Nightly export"
                            "     | 08:00 . Nightly export     | 08:00 . Nightly export     | 08:00 . Nightly"
                            " export     | 08:00 . Nightly export");
        assert_null(strstr(s, "* today"));
        free(s);
}

static void test_changed_disabled_skipped(void **state) {
        (void) state;
        char *s = render_file("week-changes.json", 160, NULL);
        assert_string_equal(s, "Week of 2026-11-23 (Europe/Berlin)\n"
                               "Mon 23               | Tue 24               | Wed 25               | Thu 26       "
                               "        | Fri 27               | Sat 28               | Sun 29\n"
                               "---------------------+----------------------+----------------------+--------------"
                               "--------+----------------------+----------------------+---------------------\n"
                               "08:00 + Nightly exp\xe2\x80\xa6 | 08:00 - Nightly exp\xe2\x80\xa6 | 10:00 ~ "
                               "Nightly exp\xe2\x80\xa6 | 08:00 x Nightly exp\xe2\x80\xa6 | 08:00 ~ Nightly "
                               "exp\xe2\x80\xa6 | 08:00 x Nightly exp\xe2\x80\xa6 | 08:00 . Nightly "
                               "exp\xe2\x80\xa6\n"
                               "09:00 - Weekday cou\xe2\x80\xa6 |                      |                      |   "
                               "                   |                      |                      |\n"
                               "09:30 ! Weekday cou\xe2\x80\xa6 |                      |                      |   "
                               "                   |                      |                      |\n"
                               "12:00 - Monthly rep\xe2\x80\xa6 |                      |                      |   "
                               "                   |                      |                      |\n"
                               "\n"
                               "series 3 \"Monthly report\" is paused: holiday freeze\n"
                               "10 occurrences: 4 planned, 1 succeeded, 1 lost, 1 missed, 1 skipped, 1 disabled, "
                               "1 paused (4 changed one-off)\n"
                               "legend: . planned  ~ changed  x disabled  > due/queued/running  + succeeded  ! "
                               "failed/lost/cancelled  - skipped/missed/paused\n");
        free(s);
}

static void test_dst_fall_back_twice(void **state) {
        (void) state;
        /* Europe/Berlin, Sunday 2026-10-25: 02:00-03:00 runs twice (+02:00, then +01:00).
         * "Hourly sync" has 02:30 twice and shows the offsets; "Cleanup" has it once. */
        char *s = render_file("week-dst.json", 120, NULL);
        const char *pre = "               |                |                |                |     "
                          "           | ";
        char want[7][200];
        snprintf(want[0], sizeof want[0], "%s02:30 + Hourl\xe2\x80\xa6 | 00:30 . Hourl\xe2\x80\xa6", pre);
        snprintf(want[1], sizeof want[1], "%s               | 01:30 . Hourl\xe2\x80\xa6", pre);
        snprintf(want[2], sizeof want[2], "%s               | 02:30+02 . Ho\xe2\x80\xa6", pre);
        snprintf(want[3], sizeof want[3], "%s               | 02:30+01 . Ho\xe2\x80\xa6", pre);
        snprintf(want[4], sizeof want[4], "%s               | 02:30 . Clean\xe2\x80\xa6", pre);
        snprintf(want[5], sizeof want[5], "%s               | 03:30 . Hourl\xe2\x80\xa6", pre);
        snprintf(want[6], sizeof want[6], "%s               | 04:30 . Hourl\xe2\x80\xa6", pre);
        assert_string_equal(line_of(s, 0), "Week of 2026-10-19 (Europe/Berlin)");
        for (int i = 0; i < 7; i++)
                assert_string_equal(line_of(s, 3 + i), want[i]);
        assert_string_equal(line_of(s, 10), "");
        assert_string_equal(line_of(s, 11), "8 occurrences: 7 planned, 1 succeeded");
        free(s);

        /* A fraction in local and a half-hour zone: "+05:30" stays whole. */
        json_t *cal = week_with("[{\"series_id\":1,\"title\":\"T\",\"day\":\"2026-11-23\",\"time\":\"01:30\","
                                "\"local\":\"2026-11-23T01:30:00.5+05:30\",\"state\":\"planned\"},"
                                "{\"series_id\":1,\"title\":\"T\",\"day\":\"2026-11-23\",\"time\":\"01:30\","
                                "\"local\":\"2026-11-23T01:30:00Z\",\"state\":\"planned\"},"
                                "{\"series_id\":1,\"title\":\"T\",\"day\":\"2026-11-24\",\"time\":\"01:30\","
                                "\"state\":\"planned\"}]");
        s = render(cal, 40, NULL);
        assert_string_equal(line_of(s, 2), "  01:30+05:30 . T");
        assert_string_equal(line_of(s, 3), "  01:30+00 . T");
        assert_string_equal(line_of(s, 5), "  01:30 . T"); /* same time, other day */
        free(s);
        json_decref(cal);
}

static void test_narrow_width_lists_days(void **state) {
        (void) state;
        char *s = render_file("week-dst.json", 60, "2026-10-24");
        assert_string_equal(s, "Week of 2026-10-19 (Europe/Berlin)\n"
                               "Mon 2026-10-19\n"
                               "  (nothing)\n"
                               "Tue 2026-10-20\n"
                               "  (nothing)\n"
                               "Wed 2026-10-21\n"
                               "  (nothing)\n"
                               "Thu 2026-10-22\n"
                               "  (nothing)\n"
                               "Fri 2026-10-23\n"
                               "  (nothing)\n"
                               "Sat 2026-10-24 (today)\n"
                               "  02:30 + Hourly sync\n"
                               "Sun 2026-10-25\n"
                               "  00:30 . Hourly sync\n"
                               "  01:30 . Hourly sync\n"
                               "  02:30+02 . Hourly sync\n"
                               "  02:30+01 . Hourly sync\n"
                               "  02:30 . Cleanup\n"
                               "  03:30 . Hourly sync\n"
                               "  04:30 . Hourly sync\n"
                               "\n"
                               "8 occurrences: 7 planned, 1 succeeded\n"
                               "legend: . planned  ~ changed  x disabled\n"
                               "        > due/queued/running  + succeeded\n"
                               "        ! failed/lost/cancelled  - skipped/missed/paused\n"
                               "        * today\n");
        free(s);

        /* 88 columns is the least for seven columns of 10; 87 lists. */
        s = render_file("week-dst.json", 88, NULL);
        assert_string_equal(line_of(s, 1), "Mon 19     | Tue 20     | Wed 21     | Thu 22     | Fri 23     | Sat 24"
                                           "     | Sun 25");
        assert_string_equal(line_of(s, 5), "           |            |            |            |            |      "
                                           "      | 02:30+02 \xe2\x80\xa6");
        free(s);
        s = render_file("week-dst.json", 87, NULL);
        assert_string_equal(line_of(s, 1), "Mon 2026-10-19");
        free(s);

        /* Widths under the minimum are taken as CALVIEW_WIDTH_MIN; 0 is the default. */
        s = render_file("week-dst.json", 5, NULL);
        assert_string_equal(line_of(s, 0), "Week of 2026-10-19 \xe2\x80\xa6");
        assert_string_equal(line_of(s, 12), "  02:30 + Hourly sy\xe2\x80\xa6");
        assert_string_equal(line_of(s, 16), "  02:30+02 . Hourly\xe2\x80\xa6");
        free(s);
        char *a = render_file("week-dst.json", 0, NULL), *b = render_file("week-dst.json", 120, NULL);
        assert_string_equal(a, b);
        free(a);
        free(b);
}

static void test_utf8_titles_cut_whole(void **state) {
        (void) state;
        json_t *cal = week_with("[{\"series_id\":1,\"title\":\"\xc3\x9c"
                                "berweisungen f\xc3\xbcr M\xc3\xa4rz abgleichen\","
                                "\"day\":\"2026-11-23\",\"time\":\"08:00\",\"state\":\"planned\"},"
                                "{\"series_id\":2,\"title\":"
                                "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\xac\xe3\x83"
                                "\x9d\xe3\x83\xbc\xe3\x83\x88\xe3\x82\x92\xe4\xbd\x9c\xe3\x82\x8b\xe6\xaf"
                                "\x8e\xe6\x97\xa5\xe6\x9b"
                                "\xb4\xe6\x96\xb0\",\"day\":\"2026-11-23\",\"time\":\"09:00\",\"state\":"
                                "\"planned\"},"
                                "{\"series_id\":3,\"title\":"
                                "\"\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6"
                                "\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f"
                                "\x93\xa6\xf0\x9f\x93\xa6"
                                "\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f"
                                "\x93\xa6\",\"day\":\"2026-"
                                "11-23\",\"time\":\"10:00\",\"state\":\"planned\"},"
                                "{\"series_id\":4,\"title\":\"evil\\u001b[2Jred\\u0007\\u0085x\\u007f\","
                                "\"day\":\"2026-11-23\","
                                "\"time\":\"11:00\",\"state\":\"planned\"},"
                                "{\"series_id\":5,\"title\":\"just fits in 22 "
                                "cols\",\"day\":\"2026-11-23\",\"time\":\"12:00\","
                                "\"state\":\"planned\"}]");
        /* List mode at 30 columns: "  " + 28 code points, the 28th "…" when cut. */
        char *s = render(cal, 30, NULL);
        assert_string_equal(line_of(s, 2), "  08:00 . \xc3\x9c"
                                           "berweisungen f\xc3\xbcr M\xe2\x80\xa6");
        assert_string_equal(line_of(s, 3), "  09:00 . \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\xac"
                                           "\xe3\x83\x9d\xe3\x83\xbc\xe3\x83\x88\xe3\x82\x92\xe4\xbd\x9c\xe3\x82\x8b"
                                           "\xe6\xaf\x8e\xe6\x97\xa5\xe6\x9b\xb4\xe6\x96\xb0");
        assert_string_equal(line_of(s, 4), "  10:00 . \xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93"
                                           "\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0"
                                           "\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93"
                                           "\xa6\xf0\x9f\x93\xa6\xf0\x9f\x93\xa6");
        /* Terminal controls (ESC, BEL, C1 NEL, DEL) print as spaces. */
        assert_string_equal(line_of(s, 5), "  11:00 . evil [2Jred  x");
        assert_string_equal(line_of(s, 6), "  12:00 . just fits in 22 cols");
        assert_clean_utf8(s);
        free(s);

        /* Columns of 10: a title of one multi-byte code point and the cut. */
        s = render(cal, 88, NULL);
        assert_string_equal(line_of(s, 3), "08:00 . \xc3\x9c\xe2\x80\xa6 |            |            |            |  "
                                           "          |            |");
        assert_string_equal(line_of(s, 4), "09:00 . \xe6\x97\xa5\xe2\x80\xa6 |            |            |            "
                                           "|            |            |");
        assert_string_equal(line_of(s, 5), "10:00 . \xf0\x9f\x93\xa6\xe2\x80\xa6 |            |            |         "
                                           "   |            |            |");
        assert_clean_utf8(s);
        free(s);
        json_decref(cal);
}

static void test_empty_truncated_unknown(void **state) {
        (void) state;
        json_t *cal = week_with("[]");
        json_array_append_new(
                json_object_get(cal, "series"),
                json_pack("{s:i, s:s, s:b, s:s}", "id", 9, "title", "Backup", "enabled", 0, "pause_note", "disk swap"));
        char *s = render(cal, 120, "2026-11-23");
        assert_string_equal(s, "Week of 2026-11-23 (UTC)\n"
                               "nothing planned\n"
                               "series 9 \"Backup\" is paused: disk swap\n");
        free(s);
        json_decref(cal);

        /* A missing title comes from "series", else "series ID"; an unknown state gets
         * '?'; a day outside the week is counted, not placed. */
        cal = week_with("[{\"series_id\":7,\"day\":\"2026-11-24\",\"time\":\"12:00\",\"state\":"
                        "\"exploded\"},"
                        "{\"series_id\":42,\"title\":null,\"day\":\"2026-11-24\",\"time\":\"13:"
                        "00\",\"state\":\"due\"},"
                        "{\"series_id\":8,\"title\":\"X\",\"day\":\"2026-12-01\",\"time\":\"13:"
                        "00\",\"state\":\"planned\","
                        "\"change\":\"moved\"}]");
        json_object_set_new(cal, "truncated", json_true());
        s = render(cal, 60, NULL);
        assert_string_equal(s, "Week of 2026-11-23 (UTC)\n"
                               "Mon 2026-11-23\n"
                               "  (nothing)\n"
                               "Tue 2026-11-24\n"
                               "  12:00 ? From the series list\n"
                               "  13:00 > series 42\n"
                               "Wed 2026-11-25\n"
                               "  (nothing)\n"
                               "Thu 2026-11-26\n"
                               "  (nothing)\n"
                               "Fri 2026-11-27\n"
                               "  (nothing)\n"
                               "Sat 2026-11-28\n"
                               "  (nothing)\n"
                               "Sun 2026-11-29\n"
                               "  (nothing)\n"
                               "\n"
                               "(1 occurrence on days outside the week not shown)\n"
                               "truncated: the server sent only the first 3 occurrences\n"
                               "3 occurrences: 1 planned, 1 due, 1 other (1 changed one-off)\n"
                               "legend: . planned  ~ changed  x disabled\n"
                               "        > due/queued/running  + succeeded\n"
                               "        ! failed/lost/cancelled  - skipped/missed/paused\n"
                               "        ? other state\n");
        free(s);
        json_decref(cal);
}

static void test_malformed(void **state) {
        (void) state;
        static const struct {
                const char *json, *msg;
        } cases[] = {
                {"[]", "expected a JSON object"},
                {"{}", "tz: expected a string"},
                {"{\"tz\":\"UTC\"}", "days: expected an array of 7 dates"},
                {"{\"tz\":\"UTC\",\"days\":[\"2026-11-23\"]}", "days: expected an array of 7 dates"},
                {"{\"tz\":\"UTC\",\"days\":[\"2026-11-23\",\"2026-11-24\",\"2026-11-31\",\"x\","
                 "\"x\",\"x\",\"x\"]}",
                 "days[2]: expected a date \"YYYY-MM-DD\""},
                {"{\"tz\":\"UTC\",\"days\":[\"2026-11-23\",\"2026-11-24\",\"2026-11-25\",\"2026-11-"
                 "26\",\"2026-11-27\","
                 "\"2026-11-28\",null]}",
                 "days[6]: expected a date \"YYYY-MM-DD\""},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                json_t *cal = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
                assert_non_null(cal);
                strbuf out = STRBUF_INIT;
                sked_err err = {0};
                strbuf_puts(&out, "kept");
                assert_int_equal(calview_render(&out, cal, NULL, &err), -EBADMSG);
                assert_string_equal(err.msg, cases[i].msg);
                assert_string_equal(strbuf_str(&out), "kept");
                strbuf_free(&out);
                json_decref(cal);
        }

        static const struct {
                const char *occurrences, *msg;
        } occ[] = {
                {"null", "occurrences: expected an array"},
                {"[1]", "occurrences[0]: expected an object"},
                {"[{\"series_id\":1,\"day\":\"2026-11-23\",\"time\":\"08:00\",\"state\":"
                 "\"planned\"},{}]",
                 "occurrences[1].series_id: expected an integer"},
                {"[{\"series_id\":\"1\"}]", "occurrences[0].series_id: expected an integer"},
                {"[{\"series_id\":1,\"time\":\"08:00\",\"state\":\"planned\"}]",
                 "occurrences[0].day: expected a date \"YYYY-MM-DD\""},
                {"[{\"series_id\":1,\"day\":\"2026-11-23T08:00\",\"time\":\"08:00\",\"state\":"
                 "\"planned\"}]",
                 "occurrences[0].day: expected a date \"YYYY-MM-DD\""},
                {"[{\"series_id\":1,\"day\":\"2026-11-23\",\"time\":\"8:00\",\"state\":\"planned\"}"
                 "]",
                 "occurrences[0].time: expected a wall time \"HH:MM\""},
                {"[{\"series_id\":1,\"day\":\"2026-11-23\",\"time\":\"24:00\",\"state\":"
                 "\"planned\"}]",
                 "occurrences[0].time: expected a wall time \"HH:MM\""},
                {"[{\"series_id\":1,\"day\":\"2026-11-23\",\"time\":\"08:00\"}]",
                 "occurrences[0].state: expected a string"},
                {"[{\"series_id\":1,\"day\":\"2026-11-23\",\"time\":\"08:00\",\"state\":"
                 "\"planned\",\"change\":1}]",
                 "occurrences[0].change: expected null or a string"},
        };
        for (size_t i = 0; i < sizeof occ / sizeof occ[0]; i++) {
                json_t *cal = week_with(occ[i].occurrences);
                strbuf out = STRBUF_INIT;
                sked_err err = {0};
                assert_int_equal(calview_render(&out, cal, NULL, &err), -EBADMSG);
                assert_string_equal(err.msg, occ[i].msg);
                assert_int_equal(out.len, 0);
                json_decref(cal);
        }

        json_t *cal = week_with("[]");
        json_object_set_new(cal, "series", json_string("all"));
        sked_err err = {0};
        strbuf out = STRBUF_INIT;
        assert_int_equal(calview_render(&out, cal, NULL, &err), -EBADMSG);
        assert_string_equal(err.msg, "series: expected an array");
        json_object_set_new(cal, "series", json_pack("[i]", 1));
        assert_int_equal(calview_render(&out, cal, NULL, &err), -EBADMSG);
        assert_string_equal(err.msg, "series[0]: expected an object");
        assert_int_equal(calview_render(&out, NULL, NULL, NULL), -EBADMSG);
        json_decref(cal);
}

/* n occurrences of series id from 2026-11-23T07:00:00Z, step seconds apart (all on
 * Monday), as a JSON array text in buf. */
static void every_seconds(char *buf, size_t len, int id, const char *title, int n, int step) {
        size_t off = 0;
        off += (size_t) snprintf(buf + off, len - off, "[");
        for (int i = 0; i < n; i++) {
                int s = 7 * 3600 + i * step;
                off += (size_t) snprintf(buf + off, len - off,
                                         "%s{\"series_id\":%d,\"title\":\"%s\",\"day\":\"2026-11-23\","
                                         "\"time\":\"%02d:%02d\",\"start\":%lld,"
                                         "\"local\":\"2026-11-23T%02d:%02d:%02d+00:00\",\"state\":\"%s\"}",
                                         i ? "," : "", id, title, s / 3600, s / 60 % 60,
                                         (1795388400LL + i * step) * 1000000LL, s / 3600, s / 60 % 60, s % 60,
                                         i < 3 ? "succeeded" : "planned");
                assert_true(off < len);
        }
        snprintf(buf + off, len - off, "]");
}

static json_t *week_of(const char *occurrences) {
        json_t *cal = week_with("[]");
        json_error_t je;
        json_t *occ = json_loads(occurrences, 0, &je);
        if (!occ)
                fail_msg("fixture: %s", je.text);
        json_object_set_new(cal, "occurrences", occ);
        return cal;
}

/* Three occurrences of an every-20-seconds series share the minute 07:00 with one
 * offset: no offsets (they are for a repeated hour only). */
static void test_same_minute_no_offset(void **state) {
        (void) state;
        char buf[8192];
        every_seconds(buf, sizeof buf, 1, "Hello", 4, 20);
        json_t *cal = week_of(buf);
        char *s = render(cal, 40, NULL);
        assert_string_equal(line_of(s, 1), "Mon 2026-11-23");
        assert_string_equal(line_of(s, 2), "  07:00 + Hello");
        assert_string_equal(line_of(s, 3), "  07:00 + Hello");
        assert_string_equal(line_of(s, 4), "  07:00 + Hello");
        assert_string_equal(line_of(s, 5), "  07:01 . Hello");
        assert_null(strstr(s, "+00"));
        free(s);
        json_decref(cal);
}

/* More than CALVIEW_BUSY occurrences of a series on a day: one cell, and one line
 * below with the whole title, the interval and the counts. */
static void test_busy_series_one_line_per_day(void **state) {
        (void) state;
        static char buf[1 << 20];
        every_seconds(buf, sizeof buf, 1, "Hello every 20 seconds", 4320 / 4, 20);
        /* and an ordinary series beside it stays as it was */
        size_t len = strlen(buf);
        snprintf(buf + len - 1, sizeof buf - len + 1,
                 ",{\"series_id\":2,\"title\":\"Nightly export\",\"day\":\"2026-11-24\",\"time\":\"08:00\","
                 "\"state\":\"planned\"}]");
        json_t *cal = week_of(buf);
        char *s = render(cal, 120, NULL);
        const char *grid = line_of(s, 3);
        assert_non_null(strstr(grid, "07:00 # Hello"));
        assert_non_null(strstr(grid, "08:00 . Night"));
        assert_string_equal(line_of(s, 4), "");
        assert_string_equal(line_of(s, 5), "# more than 24 a day, one line each:");
        assert_string_equal(line_of(s, 6),
                            "  Mon 23  07:00-12:59  Hello every 20 seconds  every 20 s, 1,080 times: 1,077 planned, "
                            "3 succeeded");
        assert_string_equal(line_of(s, 8), "1,081 occurrences: 1,078 planned, 3 succeeded");
        assert_non_null(strstr(s, "# more than 24 a day"));
        free(s);
        /* under 88 columns: the list has one line for the day too */
        s = render(cal, 60, NULL);
        assert_string_equal(line_of(s, 2), "  07:00 # Hello every 20 seconds");
        assert_string_equal(line_of(s, 3), "Tue 2026-11-24");
        free(s);
        json_decref(cal);

        /* exactly CALVIEW_BUSY is still one line each; uneven spacing gives no interval */
        every_seconds(buf, sizeof buf, 1, "T", CALVIEW_BUSY, 60);
        cal = week_of(buf);
        s = render(cal, 40, NULL);
        assert_string_equal(line_of(s, 2 + CALVIEW_BUSY - 1), "  07:23 . T");
        free(s);
        json_decref(cal);
        every_seconds(buf, sizeof buf, 1, "T", CALVIEW_BUSY + 1, 60);
        cal = week_of(buf);
        json_object_set_new(json_array_get(json_object_get(cal, "occurrences"), 5), "start", json_integer(1));
        s = render(cal, 100, NULL);
        assert_non_null(strstr(s, "  Mon 23  07:00-07:24  T  25 times: 22 planned, 3 succeeded\n"));
        free(s);
        json_decref(cal);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_normal_week),
                cmocka_unit_test(test_changed_disabled_skipped),
                cmocka_unit_test(test_dst_fall_back_twice),
                cmocka_unit_test(test_narrow_width_lists_days),
                cmocka_unit_test(test_utf8_titles_cut_whole),
                cmocka_unit_test(test_empty_truncated_unknown),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_same_minute_no_offset),
                cmocka_unit_test(test_busy_series_one_line_per_day),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
