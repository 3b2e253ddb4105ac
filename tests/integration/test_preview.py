"""Black-box tests of `sked preview` ($SKED_BIN) against an independent oracle:
dateutil.rrule in floating time + zoneinfo (fold=0) for resolution, and a brute
force cron matcher (preview_oracle.py)."""
import os
import re
import subprocess
import unittest
from datetime import datetime, timedelta, timezone

import preview_oracle as oracle

SKED = os.environ.get("SKED_BIN", "sked")
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def run(*args):
    p = subprocess.run([SKED, "preview", *args], capture_output=True, text=True, timeout=10)
    return p.returncode, p.stdout, p.stderr


def instant(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


class Base(unittest.TestCase):
    def preview(self, *args):
        rc, out, err = run(*args)
        self.assertEqual(rc, 0, f"sked preview {args}: {err}")
        lines = out.splitlines()
        for line in lines:
            self.assertRegex(line, LINE)
        return lines

    def check_rrule(self, rule, tz, start, frm, count=12):
        got = self.preview("--tz", tz, "--start", start, "--from", frm, "--count", str(count), rule)
        want = oracle.rrule_lines(rule, tz, start, instant(frm), count)
        self.assertEqual(got, want, f"{rule} in {tz} from {start}")

    def check_cron(self, fields, tz, frm, count=12, step=60):
        got = self.preview("--tz", tz, "--from", frm, "--count", str(count), "cron:" + fields)
        want = oracle.cron_lines(fields, tz, instant(frm), count, step_seconds=step)
        self.assertEqual(got, want, f"cron {fields} in {tz}")


class ExactFormat(Base):
    def test_new_york_spring_forward(self):
        got = self.preview("--tz", "America/New_York", "--start", "2026-03-07T02:30:00",
                           "--from", "2026-03-07T00:00:00Z", "--count", "3", "RRULE:FREQ=DAILY")
        self.assertEqual(got, [
            "2026-03-07T07:30:00Z 2026-03-07T02:30:00-05:00",
            "2026-03-08T07:30:00Z 2026-03-08T03:30:00-04:00",
            "2026-03-09T06:30:00Z 2026-03-09T02:30:00-04:00",
        ])

    def test_new_york_fall_back_first(self):
        got = self.preview("--tz=America/New_York", "--start=2026-10-31T01:30:00",
                           "--from=2026-10-31T00:00:00Z", "--count=3", "RRULE:FREQ=DAILY")
        self.assertEqual(got, [
            "2026-10-31T05:30:00Z 2026-10-31T01:30:00-04:00",
            "2026-11-01T05:30:00Z 2026-11-01T01:30:00-04:00",
            "2026-11-02T06:30:00Z 2026-11-02T01:30:00-05:00",
        ])

    def test_utc_and_lord_howe_offsets(self):
        got = self.preview("--from", "2026-01-01T00:00:00Z", "--count", "1", "cron:0 0 * * *")
        self.assertEqual(got, ["2026-01-01T00:00:00Z 2026-01-01T00:00:00+00:00"])
        got = self.preview("--tz", "Australia/Lord_Howe", "--from", "2026-06-01T00:00:00Z",
                           "--count", "1", "cron:0 12 * * *")
        self.assertEqual(got, ["2026-06-01T01:30:00Z 2026-06-01T12:00:00+10:30"])

    def test_from_is_inclusive(self):
        got = self.preview("--from", "2026-05-05T10:00:00Z", "--count", "2", "every:1h")
        self.assertEqual(got, ["2026-05-05T10:00:00Z 2026-05-05T10:00:00+00:00",
                               "2026-05-05T11:00:00Z 2026-05-05T11:00:00+00:00"])

    def test_default_count_is_ten(self):
        self.assertEqual(len(self.preview("--from", "2026-05-05T10:00:00Z", "cron:* * * * *")), 10)

    def test_help(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("sked preview [--tz ZONE] [--start LOCAL] [--from INSTANT] [--count N] [--json] SPEC", out)


class RruleOracle(Base):
    def test_daily_through_dst_in_several_zones(self):
        cases = [
            ("America/New_York", "2026-03-05T02:30:00", "2026-03-05T00:00:00Z"),
            ("America/New_York", "2026-10-29T01:30:00", "2026-10-29T00:00:00Z"),
            ("Europe/Berlin", "2026-03-27T02:30:00", "2026-03-26T00:00:00Z"),
            ("Europe/Berlin", "2026-10-23T02:30:00", "2026-10-23T00:00:00Z"),
            ("Australia/Sydney", "2026-04-02T02:30:00", "2026-04-01T00:00:00Z"),
            ("Australia/Sydney", "2026-10-01T02:30:00", "2026-10-01T00:00:00Z"),
            ("America/Santiago", "2026-09-03T00:30:00", "2026-09-03T00:00:00Z"),
            ("America/Santiago", "2026-04-02T23:30:00", "2026-04-02T00:00:00Z"),
            ("Australia/Lord_Howe", "2026-10-01T02:15:00", "2026-09-30T00:00:00Z"),
            ("Australia/Lord_Howe", "2026-04-01T01:45:00", "2026-03-31T00:00:00Z"),
            ("America/Asuncion", "2024-09-28T00:30:00", "2024-09-28T00:00:00Z"),
            ("America/Asuncion", "2025-03-19T23:30:00", "2025-03-19T00:00:00Z"),
        ]
        for tz, start, frm in cases:
            with self.subTest(tz=tz, start=start):
                self.check_rrule("RRULE:FREQ=DAILY", tz, start, frm)

    def test_sub_daily_dedupe_across_gap_and_repeat(self):
        for rule in ("RRULE:FREQ=MINUTELY;INTERVAL=15", "RRULE:FREQ=HOURLY",
                     "RRULE:FREQ=HOURLY;BYMINUTE=0,30"):
            for tz, start, frm in (("America/New_York", "2026-03-08T00:00:00", "2026-03-08T05:00:00Z"),
                                   ("America/New_York", "2026-11-01T00:00:00", "2026-11-01T04:00:00Z"),
                                   ("Australia/Lord_Howe", "2026-10-04T01:00:00", "2026-10-03T14:00:00Z")):
                with self.subTest(rule=rule, tz=tz):
                    self.check_rrule(rule, tz, start, frm, count=16)

    def test_calendar_rules(self):
        rules = [
            ("RRULE:FREQ=YEARLY", "2024-02-29T09:00:00", "2024-01-01T00:00:00Z"),
            ("RRULE:FREQ=YEARLY", "2024-02-29T09:00:00", "2097-01-01T00:00:00Z"),
            ("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "2026-01-31T18:00:00", "2026-01-01T00:00:00Z"),
            ("RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "2026-01-30T17:00:00", "2026-01-01T00:00:00Z"),
            ("RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "2026-01-30T17:00:00", "2031-06-10T00:00:00Z"),
            ("RRULE:FREQ=MONTHLY;BYDAY=2SU", "2026-03-08T02:30:00", "2026-01-01T00:00:00Z"),
            ("RRULE:FREQ=MONTHLY;BYDAY=-1FR", "2026-01-30T09:00:00", "2027-01-01T00:00:00Z"),
            ("RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=2;BYMINUTE=30", "2026-03-02T02:30:00", "2026-03-01T00:00:00Z"),
            ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2026-01-06T08:00:00", "2029-03-01T00:00:00Z"),
            ("RRULE:FREQ=DAILY;INTERVAL=3", "2026-01-01T02:30:00", "2026-03-01T00:00:00Z"),
            ("RRULE:FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "2026-05-11T10:00:00", "2026-01-01T00:00:00Z"),
            ("RRULE:FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO", "2026-01-01T08:00:00", "2026-01-01T00:00:00Z"),
            ("RRULE:FREQ=YEARLY;BYYEARDAY=1,100,-1", "2026-01-01T10:00:00", "2027-01-01T00:00:00Z"),
            ("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYHOUR=2;BYMINUTE=30", "2026-03-01T02:30:00", "2026-01-01T00:00:00Z"),
            ("RRULE:FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=31", "2026-01-31T12:00:00", "2030-01-01T00:00:00Z"),
            ("RRULE:FREQ=DAILY;COUNT=5", "2026-03-06T02:30:00", "2026-03-01T00:00:00Z"),
            ("RRULE:FREQ=DAILY;UNTIL=20260310T023000", "2026-03-06T02:30:00", "2026-03-01T00:00:00Z"),
            ("RRULE:FREQ=DAILY;UNTIL=20260309T063000Z", "2026-03-06T02:30:00", "2026-03-01T00:00:00Z"),
        ]
        for rule, start, frm in rules:
            for tz in ("America/New_York", "Europe/Berlin"):
                with self.subTest(rule=rule, tz=tz, frm=frm):
                    self.check_rrule(rule, tz, start, frm)

    def test_default_dtstart_is_from(self):
        got = self.preview("--tz", "Europe/Berlin", "--from", "2026-07-01T06:00:00Z", "--count", "2",
                           "RRULE:FREQ=DAILY")
        self.assertEqual(got, ["2026-07-01T06:00:00Z 2026-07-01T08:00:00+02:00",
                               "2026-07-02T06:00:00Z 2026-07-02T08:00:00+02:00"])


class CronOracle(Base):
    def test_cron_in_dst_weeks(self):
        specs = ["30 2 * * *", "0,30 1,2,3 * * *", "*/30 * * * *", "15 * * * *", "0 0 29 2 *",
                 "0 12 L * *", "0 9 13 * 5", "0 9 * * 7", "0 0 1 JAN,jul *", "0 8-17/3 * * mon-fri",
                 "*/45 * * * *"]
        windows = [("America/New_York", "2026-03-07T12:00:00Z"), ("America/New_York", "2026-10-31T12:00:00Z"),
                   ("Australia/Lord_Howe", "2026-04-04T06:00:00Z"), ("Australia/Lord_Howe", "2026-10-03T06:00:00Z"),
                   ("America/Santiago", "2026-09-05T12:00:00Z"), ("Europe/Berlin", "2026-03-28T12:00:00Z")]
        for spec in specs:
            for tz, frm in windows:
                with self.subTest(spec=spec, tz=tz):
                    self.check_cron(spec, tz, frm, count=2 if "29 2" in spec else 8 if "1 JAN" in spec else 12)

    def test_seconds_field(self):
        self.check_cron("*/20 * * * * *", "America/New_York", "2026-03-08T06:59:00Z", count=9, step=1)
        self.check_cron("30 30 2 * * *", "America/New_York", "2026-03-06T00:00:00Z", count=4)


class Interval(Base):
    def test_elapsed_time_ignores_dst(self):
        got = self.preview("--tz", "America/New_York", "--start", "2026-03-07T22:00:00",
                           "--from", "2026-03-08T00:00:00Z", "--count", "4", "every:90m")
        want = []
        t = oracle.resolve(datetime(2026, 3, 7, 22), oracle.ZoneInfo("America/New_York"))
        while len(want) < 4:
            if t >= instant("2026-03-08T00:00:00Z"):
                want.append(oracle.fmt(t, oracle.ZoneInfo("America/New_York")))
            t += timedelta(minutes=90)
        self.assertEqual(got, want)
        got = self.preview("--tz", "America/New_York", "--start", "2026-03-07T12:00:00",
                           "--from", "2026-03-07T00:00:00Z", "--count", "2", "every:1d")
        self.assertEqual(got, ["2026-03-07T17:00:00Z 2026-03-07T12:00:00-05:00",
                               "2026-03-08T17:00:00Z 2026-03-08T13:00:00-04:00"])

    def test_anchored_at_from_without_start(self):
        got = self.preview("--from", "2026-01-01T00:00:07Z", "--count", "2", "every:1h30m")
        self.assertEqual([g.split()[0] for g in got], ["2026-01-01T00:00:07Z", "2026-01-01T01:30:07Z"])


class Errors(unittest.TestCase):
    def bad(self, *args, needle):
        rc, out, err = run(*args)
        self.assertEqual(rc, 2, f"{args}: {out}{err}")
        self.assertEqual(out, "")
        self.assertIn(needle, err)

    def test_bad_inputs(self):
        self.bad("--tz", "Foo/Bar", "cron:* * * * *",
                 needle='time zone "Foo/Bar": not found in the tz database')
        self.bad("--tz", "../etc/passwd", "cron:* * * * *", needle='time zone "../etc/passwd"')
        self.bad("cron:61 * * * *", needle='cron "61 * * * *": minute: 61 is out of range 0..59')
        self.bad("RRULE:FREQ=DAILY;BYHOUR=25", needle="BYHOUR must be 0..23")
        self.bad("RRULE:FREQ=DAILY;FOO=1", needle="unknown key FOO")
        self.bad("every:0m", needle='interval "0m"')
        self.bad("whenever", needle="expected RRULE:<rule>, cron:<fields> or every:<duration>")
        self.bad("--start", "2026-02-30T00:00:00", "RRULE:FREQ=DAILY", needle='--start "2026-02-30T00:00:00"')
        self.bad("--from", "2026-01-01T00:00:00", "cron:* * * * *", needle='--from "2026-01-01T00:00:00"')
        self.bad("--count", "0", "cron:* * * * *", needle="--count")
        self.bad("--bogus", "cron:* * * * *", needle="unknown option")
        self.bad(needle="usage")


if __name__ == "__main__":
    unittest.main()
