"""Black-box tests of the calendar: GET /api/v1/calendar across DST weeks (against a
zoneinfo oracle), one-off changes of single occurrences, sleep windows, concurrent
edits, the iCalendar feed read by an independent parser (python3-icalendar +
dateutil + zoneinfo), feature switches and the catch-up after re-enabling, rule
edits and the exceptions they drop, `sked calendar`, and manual triggers with
parameter overrides.

The DST weeks are the next transitions after today (found with zoneinfo), so the
weeks are always in the future and every occurrence in them is planned."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import quote
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import skedtest
from skedtest import US, now_us, parse_utc, utc_text, wait_for

UTC = timezone.utc
MANUAL = "cron:0 0 1 1 *"
SYSTEM_PYTHON = "/usr/bin/python3"


# ---- oracle helpers ----

def zulu(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve(zone, wall):
    """A wall time in `zone` -> aware UTC instant, RFC 5545's reading: fold=0 (the
    first of a repeated time; a skipped time with the offset before the gap, i.e.
    shifted forward by the gap)."""
    return wall.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)


def transitions(zone, start, days=420):
    """[(date, 'forward'|'back')] of the DST changes of `zone` in the `days` days
    after `start` (a date), by comparing the offsets at local noon."""
    z = ZoneInfo(zone)
    out = []
    prev = datetime.combine(start, datetime.min.time()).replace(hour=12, tzinfo=z).utcoffset()
    for i in range(1, days):
        d = start + timedelta(days=i)
        off = datetime.combine(d, datetime.min.time()).replace(hour=12, tzinfo=z).utcoffset()
        if off != prev:
            out.append((d, "forward" if off > prev else "back"))
        prev = off
    return out


def monday_of(d):
    return d - timedelta(days=d.weekday())


def week_range(viewer, week_day):
    """[from, to) of the Monday-to-Monday week containing week_day in the viewer's zone."""
    mon = monday_of(week_day)
    frm = resolve(viewer, datetime.combine(mon, datetime.min.time()))
    to = resolve(viewer, datetime.combine(mon + timedelta(days=7), datetime.min.time()))
    return mon, frm, to


def daily_oracle(zone, hh, mm, frm, to):
    """UTC instants of a daily hh:mm series in `zone` that fall in [frm, to)."""
    out = []
    d = frm.astimezone(ZoneInfo(zone)).date() - timedelta(days=2)
    end = to.astimezone(ZoneInfo(zone)).date() + timedelta(days=2)
    while d <= end:
        t = resolve(zone, datetime(d.year, d.month, d.day, hh, mm))
        if frm <= t < to and t not in out:
            out.append(t)
        d += timedelta(days=1)
    return sorted(out)


def local_iso(t, viewer):
    return t.astimezone(ZoneInfo(viewer)).isoformat()


def today_utc():
    return datetime.now(UTC).date()


# ---- the independent iCalendar reader ----

def ics_starts(data, frm, to):
    """Reads a feed with python3-icalendar: RRULE masters expanded with dateutil in
    wall time, each wall time resolved with zoneinfo (fold=0), EXDATEs removed,
    RECURRENCE-ID overrides applied; single events taken as they are.  Returns
    {"starts": {series id: sorted UTC texts in [frm, to)}, "problems": [...]}."""
    import icalendar
    from dateutil import rrule as du_rrule

    problems = []

    def utc(prop):
        dt, tzid = prop.dt, prop.params.get("TZID")
        if tzid:
            return resolve(str(tzid), dt.replace(tzinfo=None))
        if getattr(dt, "tzinfo", None) is None or dt.utcoffset() != timedelta(0):
            problems.append(f"a time neither UTC nor with TZID: {dt!r}")
            return dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)

    def series_of(uid):
        m = re.fullmatch(r"series-(\d+)(-\d{8}T\d{6}Z)?@sked", uid)
        if not m:
            problems.append(f"bad UID {uid}")
            return None
        return int(m.group(1))

    cal = icalendar.Calendar.from_ical(data)
    masters, overrides, got = {}, {}, {}
    for ev in cal.walk("VEVENT"):
        uid = str(ev["UID"])
        sid = series_of(uid)
        start = utc(ev["DTSTART"])
        if "RRULE" in ev:
            masters[uid] = (sid, ev)
        elif "RECURRENCE-ID" in ev:
            overrides.setdefault(uid, {})[utc(ev["RECURRENCE-ID"])] = start
        else:
            got.setdefault(sid, set()).add(start)
    for uid, (sid, ev) in masters.items():
        prop = ev["DTSTART"]
        tzid = prop.params.get("TZID")
        zone = str(tzid) if tzid else "UTC"
        wall0 = prop.dt.replace(tzinfo=None) if tzid else prop.dt.astimezone(UTC).replace(tzinfo=None)
        exdates = []
        v = ev.get("EXDATE")
        for one in (v if isinstance(v, list) else [v] if v is not None else []):
            for d in one.dts:
                d.params = one.params
                exdates.append(utc(d))
        rids = list(overrides.get(uid, {}))
        horizon = max([to] + exdates + rids) + timedelta(days=2)
        nominal = set()
        for w in du_rrule.rrulestr(ev["RRULE"].to_ical().decode(), dtstart=wall0):
            t = resolve(zone, w)
            if t > horizon:
                break
            nominal.add(t)
        for x in exdates:
            if x not in nominal:
                problems.append(f"{uid}: EXDATE {zulu(x)} is no occurrence")
            nominal.discard(x)
        starts = set(nominal)
        for rid, start in overrides.pop(uid, {}).items():
            if rid not in nominal:
                problems.append(f"{uid}: RECURRENCE-ID {zulu(rid)} is no occurrence")
            starts.discard(rid)
            starts.add(start)
        got.setdefault(sid, set()).update(starts)
    for uid in overrides:
        problems.append(f"overrides of {uid} without a master")
    return {"starts": {str(sid): sorted(zulu(t) for t in ts if frm <= t < to) for sid, ts in got.items()},
            "problems": problems}


def read_feed(testcase, data, frm, to):
    """ics_starts in this interpreter, or in Debian's python3 (which has
    python3-icalendar) when this one lacks icalendar."""
    try:
        import icalendar  # noqa: F401
        import dateutil  # noqa: F401
    except ImportError:
        if not os.path.exists(SYSTEM_PYTHON):
            testcase.skipTest("python3-icalendar is not installed")
        p = subprocess.run([SYSTEM_PYTHON, os.path.abspath(__file__), "--ics-starts", zulu(frm), zulu(to)],
                           input=data, capture_output=True, timeout=60)
        if p.returncode == 77:
            testcase.skipTest(p.stderr.decode())
        testcase.assertEqual(p.returncode, 0, p.stderr.decode())
        return json.loads(p.stdout)
    return ics_starts(data, frm, to)


# ---- tests ----

class Base(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=2, plugins=[skedtest.PLUGIN])
        self.srv.register_type(skedtest.command_type("bb.cal", ["/bin/true"]))

    def calendar(self, **query):
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return self.srv.get(f"/api/v1/calendar?{qs}")

    def change(self, sid, nominal, body, expect=200):
        status, reply = self.srv.api("PATCH", f"/api/v1/series/{sid}/occurrences/{nominal}", body)
        self.assertEqual(status, expect, f"PATCH occurrence {nominal} {body}: {reply}")
        return reply


class DstWeeks(Base):
    def check_week(self, viewer, week_day, series):
        """series: [(id, zone, hh, mm)]; compares the calendar of the week with the
        zoneinfo oracle, occurrence by occurrence."""
        ids = ",".join(str(s[0]) for s in series)
        cal = self.calendar(week=week_day.isoformat(), tz=viewer, series=ids)
        mon, frm, to = week_range(viewer, week_day)
        where = f"week of {week_day} in {viewer}"
        self.assertEqual(cal["tz"], viewer, where)
        self.assertEqual(cal["from"], local_iso(frm, viewer), where)
        self.assertEqual(cal["to"], local_iso(to, viewer), where)
        self.assertEqual(cal["days"], [(mon + timedelta(days=i)).isoformat() for i in range(7)], where)
        self.assertFalse(cal["truncated"])
        starts = [o["start"] for o in cal["occurrences"]]
        self.assertEqual(starts, sorted(starts), f"{where}: not sorted by start")
        for sid, zone, hh, mm in series:
            want = daily_oracle(zone, hh, mm, frm, to)
            got = [o for o in cal["occurrences"] if o["series_id"] == sid]
            self.assertEqual([o["at"] for o in got], [zulu(t) for t in want],
                             f"{where}: series {sid} ({hh:02d}:{mm:02d} {zone})")
            for o, t in zip(got, want):
                lt = t.astimezone(ZoneInfo(viewer))
                self.assertEqual((o["day"], o["time"], o["local"]),
                                 (lt.date().isoformat(), lt.strftime("%H:%M"), lt.isoformat()), f"{where}: {o}")
                self.assertEqual(o["start"], int(t.timestamp()) * US, o)
                self.assertEqual((o["nominal"], o["state"], o["change"], o["changes"], o["trigger"]),
                                 (o["start"], "planned", None, [], "schedule"), o)
        return cal

    def test_dst_weeks_match_zoneinfo(self):
        srv = self.srv
        tomorrow = today_utc() + timedelta(days=1)
        first = today_utc() + timedelta(days=9)   # weeks entirely in the future

        def daily(zone, hh, mm, title):
            s = srv.create_series(type="bb.cal", schedule="RRULE:FREQ=DAILY", tz=zone, title=title,
                                  start=f"{tomorrow.isoformat()}T{hh:02d}:{mm:02d}:00")
            return (s["id"], zone, hh, mm)

        ny230 = daily("America/New_York", 2, 30, "ny 02:30")
        ny130 = daily("America/New_York", 1, 30, "ny 01:30")
        syd230 = daily("Australia/Sydney", 2, 30, "syd 02:30")

        ny = dict((k, d) for d, k in reversed(transitions("America/New_York", first)))
        syd = dict((k, d) for d, k in reversed(transitions("Australia/Sydney", first)))
        self.assertEqual(set(ny), {"forward", "back"})
        self.assertEqual(set(syd), {"forward", "back"})

        # New York, spring forward: 02:30 does not exist that day -> 03:30 EDT
        cal = self.check_week("America/New_York", ny["forward"], [ny230, ny130])
        gap_day = [o for o in cal["occurrences"] if o["series_id"] == ny230[0] and o["day"] == ny["forward"].isoformat()]
        self.assertEqual([(o["time"], o["local"][-6:]) for o in gap_day], [("03:30", "-04:00")], gap_day)
        # New York, fall back: 01:30 happens twice that day -> once, the first (EDT)
        cal = self.check_week("America/New_York", ny["back"], [ny230, ny130])
        rep_day = [o for o in cal["occurrences"] if o["series_id"] == ny130[0] and o["day"] == ny["back"].isoformat()]
        self.assertEqual([(o["time"], o["local"][-6:]) for o in rep_day], [("01:30", "-04:00")], rep_day)
        # Sydney, both directions, seen from Sydney and from Berlin
        for kind in ("back", "forward"):
            for viewer in ("Australia/Sydney", "Europe/Berlin"):
                with self.subTest(sydney=kind, viewer=viewer):
                    self.check_week(viewer, syd[kind], [syd230, ny230])
        cal = self.calendar(week=syd["forward"].isoformat(), tz="Australia/Sydney", series=syd230[0])
        gap_day = [o for o in cal["occurrences"] if o["day"] == syd["forward"].isoformat()]
        self.assertEqual([(o["time"], o["local"][-6:]) for o in gap_day], [("03:30", "+11:00")], gap_day)
        cal = self.calendar(week=syd["back"].isoformat(), tz="Australia/Sydney", series=syd230[0])
        rep_day = [o for o in cal["occurrences"] if o["day"] == syd["back"].isoformat()]
        self.assertEqual([(o["time"], o["local"][-6:]) for o in rep_day], [("02:30", "+11:00")], rep_day)


class OneOffChanges(Base):
    def test_week_with_move_disable_and_sleep_window(self):
        srv = self.srv
        mon = monday_of(today_utc() + timedelta(days=14))
        s = srv.create_series(type="bb.cal", schedule="cron:0 * * * *", tz="UTC", title="hourly",
                              sleep=[{"from": "22:00", "to": "06:00"}])
        # a window without its own zone follows the series' zone (also after a tz edit)
        self.assertEqual(s["sleep"], [{"from": "22:00", "to": "06:00"}])
        sid = s["id"]

        def at(day, hh, mm=0):
            return datetime(mon.year, mon.month, mon.day, hh, mm, tzinfo=UTC) + timedelta(days=day)

        wed10, fri09, thu12 = at(2, 10), at(4, 9), at(3, 12)
        # moved by a wall time in the series' zone, by a UTC instant, and one disabled
        r = self.change(sid, zulu(wed10), {"start": f"{at(2, 10, 30).strftime('%Y-%m-%dT%H:%M:%S')}", "note": "later"})
        self.assertEqual((r["change"], r.get("start_at")), ("moved", zulu(at(2, 10, 30))), r)
        r = self.change(sid, int(fri09.timestamp()) * US, {"start": zulu(at(5, 14, 45))})
        self.assertEqual(r["change"], "moved", r)
        r = self.change(sid, zulu(thu12), {"enabled": False, "note": "holiday"})
        self.assertEqual((r["state"], r["change"]), ("disabled", "disabled"), r)
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["exceptions"], 3)
        # not an occurrence of the rule: 404; unknown field: 400
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}/occurrences/{zulu(at(2, 10, 17))}",
                                {"enabled": False})
        self.assertProblem(status, reply, 404)
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}/occurrences/{zulu(at(2, 11))}", {"bogus": 1})
        self.assertProblem(status, reply, 400, "bogus")

        cal = self.calendar(week=mon.isoformat(), tz="UTC", series=sid)
        occ = cal["occurrences"]
        self.assertEqual(len(occ), 7 * 24, "each nominal once")
        self.assertEqual(len({o["nominal"] for o in occ}), 7 * 24)
        starts = [o["start"] for o in occ]
        self.assertEqual(starts, sorted(starts))
        by_nominal = {o["nominal_at"]: o for o in occ}
        moved = by_nominal[zulu(wed10)]
        self.assertEqual((moved["at"], moved["day"], moved["time"], moved["state"], moved["change"],
                          moved["changes"], moved.get("note")),
                         (zulu(at(2, 10, 30)), at(2, 0).date().isoformat(), "10:30", "planned", "moved", ["moved"],
                          "later"), moved)
        moved2 = by_nominal[zulu(fri09)]
        self.assertEqual((moved2["at"], moved2["day"], moved2["time"], moved2["change"]),
                         (zulu(at(5, 14, 45)), at(5, 0).date().isoformat(), "14:45", "moved"), moved2)
        off = by_nominal[zulu(thu12)]
        self.assertEqual((off["at"], off["state"], off["change"], off.get("note")),
                         (zulu(thu12), "disabled", "disabled", "holiday"), off)
        untouched = [o for o in occ if o["nominal_at"] not in (zulu(wed10), zulu(fri09), zulu(thu12))]
        self.assertTrue(all(o["change"] is None and o["start"] == o["nominal"] for o in untouched))
        # the moved one is not also listed at its old time
        self.assertEqual([o for o in occ if o["at"] in (zulu(wed10), zulu(fri09))], [])
        # the series' own listing shows the change too
        items = srv.occurrences(sid, zulu(at(0, 0)), zulu(at(7, 0)))
        m = [o for o in items if o["at"] == zulu(wed10)]
        self.assertEqual(len(m), 1, items)
        self.assertEqual((m[0]["change"], m[0]["start_at"], m[0]["start_local"]),
                         ("moved", zulu(at(2, 10, 30)), at(2, 10, 30).isoformat()), m[0])
        # a change moved back (reset) is listed at its rule time again
        status, _ = srv.api("DELETE", f"/api/v1/series/{sid}/occurrences/{zulu(fri09)}")
        self.assertEqual(status, 204)
        status, reply = srv.api("DELETE", f"/api/v1/series/{sid}/occurrences/{zulu(fri09)}")
        self.assertProblem(status, reply, 404)
        cal = self.calendar(week=mon.isoformat(), tz="UTC", series=sid)
        back = [o for o in cal["occurrences"] if o["nominal_at"] == zulu(fri09)]
        self.assertEqual([(o["at"], o["change"]) for o in back], [(zulu(fri09), None)])
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["exceptions"], 2)


    def test_move_to_a_wall_time_in_a_dst_gap_or_repeat(self):
        # a new start given as a wall time in the series' zone resolves like the rule:
        # a skipped time shifts forward by the gap, a repeated one is the first
        srv = self.srv
        zone = "America/New_York"
        first = today_utc() + timedelta(days=9)
        tr = dict((k, d) for d, k in reversed(transitions(zone, first)))
        s = srv.create_series(type="bb.cal", schedule="RRULE:FREQ=DAILY", tz=zone, title="ny 09:00",
                              start=f"{(today_utc() + timedelta(days=1)).isoformat()}T09:00:00")
        for kind, wall in (("forward", "02:45"), ("forward", "02:00"), ("back", "01:15"), ("back", "01:59")):
            with self.subTest(kind=kind, wall=wall):
                day = tr[kind]
                nominal = resolve(zone, datetime.combine(day - timedelta(days=1), datetime.min.time()).replace(hour=9))
                hh, mm = map(int, wall.split(":"))
                want = resolve(zone, datetime.combine(day, datetime.min.time()).replace(hour=hh, minute=mm))
                r = self.change(s["id"], zulu(nominal), {"start": f"{day.isoformat()}T{wall}:00"})
                self.assertEqual(r.get("start_at"), zulu(want), r)
                occ = srv.occurrences(s["id"], zulu(nominal), zulu(nominal + timedelta(days=2)))
                m = [o for o in occ if o["nominal"] == int(nominal.timestamp()) * US]
                self.assertEqual([(o["start_at"], o["start_local"]) for o in m],
                                 [(zulu(want), want.astimezone(ZoneInfo(zone)).isoformat())], occ)

    def test_note_alone_is_kept(self):
        # BUG: PATCH /api/v1/series/{id}/occurrences/{nominal} with only {"note": ...}
        # answers 200 but keeps nothing: engine_occurrence_change() deletes the
        # exception as "empty" (not disabled, not moved, no params), so the note is
        # in neither the reply, the calendar nor the feed (whose writer does emit
        # note-only overrides, sched/ics.c overrides()).  Expected: the note is kept
        # and shown (or, if a note alone is not a change, a 400 rather than a silent drop).
        srv = self.srv
        mon = monday_of(today_utc() + timedelta(days=14))
        s = srv.create_series(type="bb.cal", schedule="cron:0 9 * * *", tz="UTC", title="daily")
        nominal = zulu(datetime.combine(mon, datetime.min.time(), tzinfo=UTC).replace(hour=9))
        status, reply = srv.api("PATCH", f"/api/v1/series/{s['id']}/occurrences/{nominal}",
                                {"note": "check the ledger first"})
        self.assertIn(status, (200, 400), reply)
        if status == 200:
            self.assertEqual(reply.get("note"), "check the ledger first", reply)
            cal = srv.get(f"/api/v1/calendar?week={mon.isoformat()}&tz=UTC&series={s['id']}")
            o = [o for o in cal["occurrences"] if o["nominal_at"] == nominal]
            self.assertEqual([x.get("note") for x in o], ["check the ledger first"], o)


class ConcurrentEdits(Base):
    def test_same_if_match_one_wins(self):
        srv = self.srv
        s = srv.create_series(type="bb.cal", schedule=MANUAL, title="t0", owner="o0")
        sid = s["id"]
        for rnd in range(12):
            status, hdrs, before = srv.api_full("GET", f"/api/v1/series/{sid}")
            etag = hdrs["ETag"]
            patches = {"a": {"title": f"title-{rnd}"}, "b": {"owner": f"owner-{rnd}", "schedule": "cron:0 0 2 1 *"
                                                              if rnd % 2 else MANUAL}}
            barrier = threading.Barrier(2)
            results = {}

            def send(name):
                barrier.wait()
                results[name] = srv.api("PATCH", f"/api/v1/series/{sid}", patches[name], headers={"If-Match": etag})

            threads = [threading.Thread(target=send, args=(n,)) for n in patches]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            statuses = sorted(results[n][0] for n in patches)
            self.assertEqual(statuses, [200, 412], f"round {rnd}: {results}")
            winner = [n for n in patches if results[n][0] == 200][0]
            loser = "b" if winner == "a" else "a"
            self.assertProblem(*results[loser], 412)
            after = srv.get(f"/api/v1/series/{sid}")
            self.assertEqual(after["version"], before["version"] + 1, f"round {rnd}")
            want = dict(before, **patches[winner])
            for k in ("title", "owner", "schedule", "params"):
                self.assertEqual(after[k], want[k], f"round {rnd}: {k}: winner {winner} {patches[winner]}")
            self.assertEqual(results[winner][1]["version"], after["version"])


class Feed(Base):
    def test_ics_feed_agrees_with_calendar(self):
        srv = self.srv
        first = today_utc() + timedelta(days=20)
        spring = [d for d, k in transitions("America/New_York", first) if k == "forward"][0]
        frm = datetime.combine(spring - timedelta(days=13), datetime.min.time(), tzinfo=UTC)
        to = frm + timedelta(days=28)
        start = f"{(frm - timedelta(days=14)).date().isoformat()}T02:30:00"
        ny = ZoneInfo("America/New_York")
        rr = srv.create_series(type="bb.cal", schedule="RRULE:FREQ=WEEKLY;BYDAY=SU,WE", tz="America/New_York",
                               start=start, title="weekly ny")
        cr = srv.create_series(type="bb.cal", schedule="cron:30 2 * * 0,3", tz="America/New_York", title="cron ny")

        def nominals(sid, a, b):
            return [o["at"] for o in srv.occurrences(sid, zulu(a), zulu(b))]

        moved_out = {}
        for s in (rr, cr):
            sid = s["id"]
            inside = nominals(sid, frm, to)
            self.assertGreaterEqual(len(inside), 7, inside)
            before = nominals(sid, frm - timedelta(days=6), frm)
            after = nominals(sid, to, to + timedelta(days=6))
            # moved within the range (a wall time in New York), disabled, moved in from
            # before the range, moved out of it, a note only
            self.change(sid, inside[1], {"start": (parse_dt(inside[1]).astimezone(ny) + timedelta(days=1, hours=2))
                                         .strftime("%Y-%m-%dT%H:%M:%S")})
            self.change(sid, inside[4], {"enabled": False})
            self.change(sid, before[-1], {"start": zulu(frm + timedelta(days=1, hours=17))})
            self.change(sid, inside[-1], {"start": zulu(to + timedelta(days=3))})
            moved_out[sid] = inside[-1]
            self.change(sid, inside[2], {"params": {}, "note": "just a note"})
            self.assertTrue(after)

        cal = self.srv.get(f"/api/v1/calendar?from={zulu(frm)}&to={zulu(to)}&tz=America/New_York")
        status, hdrs, data = srv.request("GET", f"/api/v1/calendar.ics?from={zulu(frm)}&to={zulu(to)}")
        self.assertEqual(status, 200, data)
        self.assertTrue(hdrs["Content-Type"].startswith("text/calendar"), hdrs["Content-Type"])
        text = data.decode()
        self.assertIn("RRULE:FREQ=WEEKLY;BYDAY=SU,WE", text)  # the RRULE series as a master
        self.assertNotIn("RRULE:", text.replace("RRULE:FREQ=WEEKLY;BYDAY=SU,WE", ""))  # the cron one expanded
        feed = read_feed(self, data, frm, to)
        self.assertEqual(feed["problems"], [])
        for s in (rr, cr):
            with self.subTest(series=s["schedule"]):
                want = sorted(o["at"] for o in cal["occurrences"]
                              if o["series_id"] == s["id"] and o["state"] != "disabled")
                self.assertEqual(feed["starts"].get(str(s["id"]), []), want)
                # the gap Sunday: 02:30 does not exist -> 03:30 EDT in both
                gap = resolve("America/New_York", datetime.combine(spring, datetime.min.time()).replace(hour=2, minute=30))
                self.assertIn(zulu(gap), want)
                mine = [o for o in cal["occurrences"] if o["series_id"] == s["id"]]
                self.assertEqual(len([o for o in mine if o["change"] == "moved"]), 2)
                self.assertIn(zulu(frm + timedelta(days=1, hours=17)), want)   # moved in from before
                self.assertNotIn(moved_out[s["id"]], [o["nominal_at"] for o in mine])  # moved out

        # authentication: none -> 401; the feed token as ?token= -> 200; a wrong one -> 401
        q = f"/api/v1/calendar.ics?series={rr['id']}&from={zulu(frm)}&to={zulu(to)}"
        status, hdrs, body = srv.request("GET", q, token=None)
        self.assertEqual(status, 401, body)
        status, _, body = srv.request("GET", q + "&token=" + "0" * 64, token=None)
        self.assertEqual(status, 401, body)
        status, _, body = srv.request("GET", q + f"&token={srv.token}x", token=None)
        self.assertEqual(status, 401, body)
        with open(os.path.join(srv.data_dir, "feed.token")) as f:
            feed_token = f.read().strip()
        status, _, body = srv.request("GET", q + f"&token={feed_token}", token=None)
        self.assertEqual(status, 200, body)
        one = read_feed(self, body, frm, to)
        self.assertEqual(one["problems"], [])
        self.assertEqual(set(one["starts"]), {str(rr["id"])})
        self.assertEqual(one["starts"][str(rr["id"])], feed["starts"][str(rr["id"])])
        # the feed token is read-only: it opens nothing else
        status, _, _ = srv.request("GET", "/api/v1/series", token=feed_token)
        self.assertEqual(status, 401)


def parse_dt(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class RuleEdits(Base):
    def with_three_changes(self):
        """A daily 09:00 UTC series with three one-off changes in a future week:
        Monday disabled, Tuesday moved, Wednesday with other parameters."""
        srv = self.srv
        self.mon = monday_of(today_utc() + timedelta(days=14))
        s = srv.create_series(type="example.count", schedule="RRULE:FREQ=DAILY", tz="UTC", params={"n": 1},
                              start=f"{today_utc().isoformat()}T09:00:00", title="daily")
        self.d = [datetime.combine(self.mon + timedelta(days=i), datetime.min.time(), tzinfo=UTC).replace(hour=9)
                  for i in range(7)]
        self.change(s["id"], zulu(self.d[0]), {"enabled": False, "note": "monday off"})
        self.change(s["id"], zulu(self.d[1]), {"start": zulu(self.d[1] + timedelta(hours=3)), "note": "tuesday later"})
        self.change(s["id"], zulu(self.d[2]), {"params": {"n": 4}})
        self.assertEqual(srv.get(f"/api/v1/series/{s['id']}")["exceptions"], 3)
        return s["id"]

    def test_rule_edit_keeps_matching_exceptions_and_reports_dropped(self):
        srv = self.srv
        sid = self.with_three_changes()
        d, mon = self.d, self.mon
        # an edit that is not a rule edit drops nothing
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "renamed"})
        self.assertEqual(status, 200, reply)
        self.assertNotIn("dropped_exceptions", reply)
        self.assertEqual(reply["exceptions"], 3)
        # Mondays and Wednesdays only: Tuesday's move is dropped and reported
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}", {"schedule": "RRULE:FREQ=WEEKLY;BYDAY=MO,WE"})
        self.assertEqual(status, 200, reply)
        self.assertEqual(reply.get("dropped_exceptions"),
                         [{"nominal": int(d[1].timestamp()) * US, "at": zulu(d[1]), "disabled": False,
                           "moved_to": zulu(d[1] + timedelta(hours=3)), "note": "tuesday later"}], reply)
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["exceptions"], 2)
        cal = self.srv.get(f"/api/v1/calendar?week={mon.isoformat()}&tz=UTC&series={sid}")
        got = [(o["at"], o["state"], o["change"], o.get("params"), o.get("note")) for o in cal["occurrences"]]
        self.assertEqual(got, [(zulu(d[0]), "disabled", "disabled", None, "monday off"),
                               (zulu(d[2]), "planned", "params", {"n": 4}, None)])
        # a rule edit that keeps every instant drops nothing
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}", {"schedule": "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE"})
        self.assertEqual(status, 200, reply)
        self.assertEqual(reply.get("dropped_exceptions", []), [], reply)
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["exceptions"], 2)
        # another hour: nothing matches any more, both are dropped
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}", {"schedule": "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=10"})
        self.assertEqual(status, 200, reply)
        self.assertEqual(sorted((x["at"], x["disabled"]) for x in reply.get("dropped_exceptions", [])),
                         [(zulu(d[0]), True), (zulu(d[2]), False)], reply)
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["exceptions"], 0)
        cal = self.srv.get(f"/api/v1/calendar?week={mon.isoformat()}&tz=UTC&series={sid}")
        self.assertEqual([(o["at"], o["change"]) for o in cal["occurrences"]],
                         [(zulu(d[0] + timedelta(hours=1)), None), (zulu(d[2] + timedelta(hours=1)), None)])

    def test_rule_edit_reply_counts_exceptions_after_the_drop(self):
        # BUG: PATCH /api/v1/series/{id} with a rule edit that drops one-off changes
        # answers with the series as it was before the drop: "exceptions": 3 next to
        # "dropped_exceptions": [one], while GET right after says 2.  Expected: the
        # reply shows the stored series (2).
        srv = self.srv
        sid = self.with_three_changes()
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}", {"schedule": "RRULE:FREQ=WEEKLY;BYDAY=MO,WE"})
        self.assertEqual(status, 200, reply)
        self.assertEqual(len(reply.get("dropped_exceptions", [])), 1, reply)
        stored = srv.get(f"/api/v1/series/{sid}")
        self.assertEqual(stored["exceptions"], 2)
        self.assertEqual(reply["exceptions"], stored["exceptions"], "PATCH reply vs GET")


class Bounds(Base):
    """What one calendar request may cost is bounded by its documented limits, not by
    the client's numbers or the store's history (h9)."""

    def test_limit_has_a_maximum(self):
        for limit in ("100001", "1000000"):
            status, body = self.srv.api("GET", f"/api/v1/calendar?limit={limit}")
            self.assertProblem(status, body, 400, "limit")
            self.assertIn("1 to 100000", body["detail"])
        self.assertFalse(self.calendar(limit=100000)["truncated"])

    def test_cut_reply_says_where_to_continue(self):
        # 3,000 recorded occurrences (skip rows) of a dense series, and another series
        # asked for with it: the records read are capped, the reply covers a beginning
        # of the range completely and names the instant to continue from
        now = skedtest.now_us() // skedtest.US * skedtest.US
        t0 = now - 2 * 3600 * skedtest.US
        a = self.srv.create_series(type="bb.cal", schedule="every 1s", start=skedtest.local_text(t0), enabled=False)
        b = self.srv.create_series(type="bb.cal", schedule="every 1h", enabled=False)
        sql = ("INSERT INTO occurrences(series_id, nominal, fired_at, skipped) SELECT {a}, {t0} + i * 1000000, {t0}, "
               "'overlap' FROM {src}")
        self.srv.exec_sql(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2999) "
            + sql.format(a=a["id"], t0=t0, src="n") + ";",
            sql.format(a=a["id"], t0=t0, src="generate_series(CAST(0 AS BIGINT), 2999) AS g(i)") + ";")
        frm, to = skedtest.utc_text(t0), skedtest.utc_text(t0 + 3600 * skedtest.US)
        whole = self.calendar(series=f"{a['id']},{b['id']}", **{"from": frm, "to": to, "limit": 5000})
        self.assertFalse(whole["truncated"])
        self.assertNotIn("next_from", whole)
        self.assertEqual(len(whole["occurrences"]), 3000)
        pages, at = [], frm
        for _ in range(3):
            page = self.calendar(series=f"{a['id']},{b['id']}", **{"from": at, "to": to, "limit": 100})
            self.assertTrue(page["truncated"])
            self.assertEqual(len(page["occurrences"]), 100)
            self.assertEqual({o["state"] for o in page["occurrences"]}, {"skipped"})
            at = page["next_from"]
            self.assertGreater(skedtest.parse_utc(at), skedtest.parse_utc(page["occurrences"][-1]["at"]))
            pages += page["occurrences"]
        self.assertEqual([o["at"] for o in pages], [o["at"] for o in whole["occurrences"][:300]])

    def test_days_of_a_range_before_1970(self):
        # a plain division named the day after for negative times: one day too many
        got = self.calendar(**{"from": "1969-12-01T00:00:00Z", "to": "1969-12-08T00:00:00Z"})
        self.assertEqual(got["days"], [f"1969-12-0{d}" for d in range(1, 8)])
        got = self.calendar(week="1969-12-03", tz="America/New_York")
        self.assertEqual(got["days"], [f"1969-12-0{d}" for d in range(1, 8)])
        got = self.calendar(**{"from": "1969-12-31T12:00:00Z", "to": "1970-01-01T12:00:00Z"})
        self.assertEqual(got["days"], ["1969-12-31", "1970-01-01"])


class CalendarCli(Base):
    def test_sked_calendar_week(self):
        srv = self.srv
        mon = monday_of(today_utc() + timedelta(days=14))
        viewer = "Europe/Berlin"
        a = srv.create_series(type="bb.cal", schedule="RRULE:FREQ=DAILY", tz="UTC", title="nightly",
                              start=f"{today_utc().isoformat()}T09:00:00")
        b = srv.create_series(type="bb.cal", schedule="cron:0 13 * * 1", tz="UTC", title="weekly")
        srv.create_series(type="bb.cal", schedule="cron:0 12 * * *", tz="UTC", title="other")
        d = [datetime.combine(mon + timedelta(days=i), datetime.min.time(), tzinfo=UTC).replace(hour=9)
             for i in range(7)]
        self.change(a["id"], zulu(d[2]), {"start": zulu(d[2] + timedelta(hours=2, minutes=15))})
        self.change(a["id"], zulu(d[4]), {"enabled": False})

        def hm(t):
            return t.astimezone(ZoneInfo(viewer)).strftime("%H:%M")

        args = ("calendar", "--week", (mon + timedelta(days=3)).isoformat(), "--tz", viewer,
                "--series", str(a["id"]), "--series", str(b["id"]), "--width", "160")
        rc, out, err = srv.cli(*args)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"Week of {mon.isoformat()} ({viewer})", out)
        for i in range(7):
            day = mon + timedelta(days=i)
            self.assertRegex(out, rf"{day.strftime('%a')} {day.day:02d}\b")
        self.assertRegex(out, rf"{hm(d[2] + timedelta(hours=2, minutes=15))} ~ nightly")
        self.assertRegex(out, rf"{hm(d[4])} x nightly")
        self.assertRegex(out, rf"{hm(d[0])} \. nightly")
        self.assertRegex(out, rf"{hm(d[0] + timedelta(hours=4))} \. weekly")
        self.assertNotIn("other", out)
        self.assertRegex(out, r"8 occurrences: 7 planned, 1 disabled \(2 changed one-off\)")
        # Wednesday's column: the moved one at its new time only
        wed = [line.split(" | ")[2].strip() for line in out.splitlines() if line.count(" | ") == 6][1:]
        self.assertEqual([c for c in wed if c], [f"{hm(d[2] + timedelta(hours=2, minutes=15))} ~ nightly"], out)
        # --json prints the server's reply
        got = srv.cli_json(*args)
        want = srv.get(f"/api/v1/calendar?week={mon.isoformat()}&tz={viewer}&series={a['id']},{b['id']}")
        self.assertEqual(got, want)


class ManualTrigger(Base):
    def test_trigger_with_params_override_and_purge(self):
        srv = self.srv
        s = srv.create_series(type="example.count", schedule=MANUAL, params={"n": 2}, title="manual")
        status, reply = srv.api("POST", f"/api/v1/series/{s['id']}/trigger", {"params": {"n": 5}})
        self.assertEqual(status, 202, reply)
        self.assertEqual(reply["params"]["n"], 5, reply)
        run = srv.wait_run(reply["id"])
        self.assertEqual((run["state"], run["trigger"], run["params"]["n"]), ("succeeded", "manual", 5), run)
        self.assertEqual(srv.get(f"/api/v1/series/{s['id']}")["params"]["n"], 2)
        plain = srv.wait_run(srv.trigger(s["id"])["id"])
        self.assertEqual(plain["params"]["n"], 2, plain)
        # a bad override is refused and queues nothing
        n_runs = len(srv.runs())
        for body, field in (({"params": {"n": 100000}}, "params.n"), ({"params": {"nope": 1}}, "params.nope"),
                            ({"params": [1]}, "params")):
            status, reply = srv.api("POST", f"/api/v1/series/{s['id']}/trigger", body)
            self.assertProblem(status, reply, 400, field)
        self.assertEqual(len(srv.runs()), n_runs)
        # delete keeps the finished history; ?purge=true deletes it too
        keep = srv.create_series(type="bb.cal", schedule=MANUAL, title="keep")
        kept = srv.wait_run(srv.trigger(keep["id"])["id"])
        self.assertEqual(srv.api("DELETE", f"/api/v1/series/{keep['id']}")[0], 204)
        self.assertEqual(srv.api("GET", f"/api/v1/runs/{kept['id']}")[0], 200)
        self.assertEqual(srv.api("DELETE", f"/api/v1/series/{s['id']}?purge=true")[0], 204)
        self.assertEqual(srv.api("GET", f"/api/v1/series/{s['id']}")[0], 404)
        for r in (run, plain):
            self.assertEqual(srv.api("GET", f"/api/v1/runs/{r['id']}")[0], 404, r)


class Live(unittest.TestCase):
    """Scenarios that need the real clock, on one server started once: both wait at
    the same time (a sleep window ending at the next minute; a feature disabled for
    more than the engine's 60 s on-time tolerance)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sked-cal-")
        os.makedirs(os.path.join(cls.tmp, "logs"))
        cls.db = skedtest.pg_create_db() if skedtest.PG else None
        srv = cls.srv = skedtest.Server(os.path.join(cls.tmp, "data"), os.path.join(cls.tmp, "logs"), workers=2,
                                        db=cls.db)
        try:
            srv.start()
            srv.register_type(skedtest.command_type("bb.cal", ["/bin/true"]))
            srv.register_type(skedtest.command_type("bb.feat", ["/bin/true"], feature="bbfeat"))
            cls.setup_sleep()
            cls.setup_feature()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.srv.alive():
            cls.srv.proc.kill()
            cls.srv.proc.wait(10)
        if cls.db:
            skedtest.pg_drop_db(cls.db)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def setup_sleep(cls):
        """A window across midnight that holds now and ends at the next minute: in
        the zone where it is 00:MM now, 23:59 to 00:MM+1."""
        if 60 - time.time() % 60 < 10:
            time.sleep(60 - time.time() % 60 + 0.3)
        now = datetime.now(UTC)
        h = now.hour
        zone = "UTC" if h == 0 else f"Etc/GMT+{h}" if h <= 12 else f"Etc/GMT-{24 - h}"
        local = now.astimezone(ZoneInfo(zone))
        assert local.hour == 0, (zone, local)
        end_local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        cls.sleep_end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        cls.sleep_zone = zone
        window = {"from": "23:59", "to": end_local.strftime("%H:%M"), "tz": zone}
        cls.sleeper = cls.srv.create_series(type="bb.cal", schedule="every 2s", tz="UTC", title="sleeper",
                                            sleep=[window])

    @classmethod
    def setup_feature(cls):
        srv = cls.srv
        cls.fast = srv.create_series(type="bb.feat", schedule="every 1s", title="fast")
        wait_for(lambda: srv.runs(series=cls.fast["id"], state="succeeded"), 10, what="a first run of the fast series")
        # three occurrences a few seconds from now, nothing else: after > 60 s they are late
        t = (now_us() // US + 4) * US
        cls.burst_nominals = [t, t + US, t + 2 * US]
        cls.burst = srv.create_series(type="bb.feat", schedule="RRULE:FREQ=SECONDLY;COUNT=3", tz="UTC",
                                      start=skedtest.local_text(t), title="burst")
        cls.off_reply = srv.post("/api/v1/features/bbfeat/disable", {"note": "freeze"})
        cls.t_off = now_us()
        assert cls.t_off < t - US, "disabled too late"

    def runs_of(self, series):
        return self.srv.runs(series=series["id"])

    def test_feature_disable_hides_holds_and_catches_up(self):
        srv = self.srv
        fast, burst = self.fast, self.burst
        self.assertEqual(self.off_reply["enabled"], False, self.off_reply)
        feats = {f["name"]: f for f in srv.get("/api/v1/features")["items"]}
        self.assertEqual((feats["bbfeat"]["enabled"], feats["bbfeat"]["note"]), (False, "freeze"), feats)
        # hidden from listings, shown with ?all=true
        self.assertEqual([t["name"] for t in srv.get("/api/v1/types")["items"]], ["bb.cal"])
        self.assertEqual(sorted(t["name"] for t in srv.get("/api/v1/types?all=true")["items"]), ["bb.cal", "bb.feat"])
        listed = {x["id"] for x in srv.get("/api/v1/series")["items"]}
        self.assertFalse(listed & {fast["id"], burst["id"]}, listed)
        everything = {x["id"]: x for x in srv.get("/api/v1/series?all=true")["items"]}
        self.assertEqual((everything[fast["id"]]["feature_on"], everything[burst["id"]]["feature_on"]),
                         (False, False))
        self.assertTrue(srv.get(f"/api/v1/series/{self.sleeper['id']}")["feature_on"])

        # nothing of theirs runs while disabled (the burst's occurrences come and go)
        sleep_target = self.burst_nominals[-1] + 62 * US
        time.sleep(3)
        n_fast = len(self.runs_of(fast))
        skedtest.sleep_until(sleep_target)
        late = [r for r in self.runs_of(fast)
                if parse_utc(r["queued_at"]) > self.t_off + US
                or (r["started_at"] and parse_utc(r["started_at"]) > self.t_off + US)]
        self.assertEqual(late, [], "the fast series ran while its feature was disabled")
        self.assertEqual(len(self.runs_of(fast)), n_fast)
        self.assertEqual(self.runs_of(burst), [], "the burst series ran while its feature was disabled")

        # re-enabled: catch-up "latest" (the default): the newest missed one, once, at once
        t_on = now_us()
        on = srv.post("/api/v1/features/bbfeat/enable", {})
        self.assertTrue(on["enabled"], on)
        ran = wait_for(lambda: self.runs_of(burst), 10, what="the catch-up run")
        time.sleep(2)
        ran = self.runs_of(burst)
        self.assertEqual([(r["nominal"], r["trigger"]) for r in ran], [(utc_text(self.burst_nominals[-1]), "schedule")],
                         ran)
        self.assertLessEqual(parse_utc(ran[0]["queued_at"]), t_on + 5 * US, ran[0])
        self.assertEqual(srv.wait_run(ran[0]["id"])["state"], "succeeded")
        shown = srv.get(f"/api/v1/series/{burst['id']}")
        self.assertEqual((shown["missed"], shown["feature_on"]), (2, True), shown)
        occ = srv.occurrences(burst["id"], utc_text(self.burst_nominals[0]), utc_text(self.burst_nominals[-1] + US))
        self.assertEqual([o["state"] for o in occ], ["missed", "missed", "succeeded"], occ)
        # an occurrence that ran cannot be changed any more
        status, reply = srv.api("PATCH", f"/api/v1/series/{burst['id']}/occurrences/{utc_text(self.burst_nominals[-1])}",
                                {"enabled": False})
        self.assertEqual(status, 409, reply)
        # the fast one runs again; both are listed again
        wait_for(lambda: [r for r in self.runs_of(fast) if parse_utc(r["queued_at"]) >= t_on - US], 10,
                 what="the fast series to run again")
        self.assertEqual(sorted(t["name"] for t in srv.get("/api/v1/types")["items"]), ["bb.cal", "bb.feat"])
        listed = {x["id"] for x in srv.get("/api/v1/series")["items"]}
        self.assertTrue({fast["id"], burst["id"]} <= listed, listed)

    def test_sleep_window_across_midnight(self):
        srv = self.srv
        sid = self.sleeper["id"]
        end = int(self.sleep_end.timestamp()) * US
        skedtest.sleep_until(end + 3 * US)

        def first_after_done():
            occ = srv.occurrences(sid, self.sleeper["created_at"], utc_text(now_us() + US))
            after = [o for o in occ if o["nominal"] >= end]
            return occ if after and after[0]["state"] in skedtest.TERMINAL else None

        occ = wait_for(first_after_done, 20, 0.3, "the first occurrence after the window to finish")
        asleep = [o for o in occ if o["nominal"] < end]
        awake = [o for o in occ if o["nominal"] >= end]
        self.assertGreaterEqual(len(asleep), 3, occ)
        self.assertEqual({(o["state"], o["skip_reason"]) for o in asleep}, {("skipped", "sleep")}, asleep)
        self.assertEqual((awake[0]["state"], awake[0]["skip_reason"]), ("succeeded", None), awake[0])
        self.assertIsNotNone(awake[0]["run_id"])
        runs = srv.runs(series=sid)
        self.assertEqual([r for r in runs if parse_utc(r["nominal"]) < end], [], "ran inside the sleep window")
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["skipped"]["sleep"], len(asleep))
        # the calendar shows the same
        frm = utc_text(asleep[0]["nominal"])
        cal = srv.get(f"/api/v1/calendar?from={frm}&to={utc_text(end)}&tz={quote(self.sleep_zone)}&series={sid}")
        self.assertEqual([(o["nominal"], o["state"], o["skip_reason"]) for o in cal["occurrences"]],
                         [(o["nominal"], "skipped", "sleep") for o in asleep])
        # a skipped occurrence is history: it cannot be changed
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}/occurrences/{asleep[-1]['nominal']}",
                                {"start": utc_text(now_us() + 3600 * US)})
        self.assertEqual(status, 409, reply)


def _main():
    if len(sys.argv) == 4 and sys.argv[1] == "--ics-starts":
        try:
            import icalendar  # noqa: F401
            import dateutil  # noqa: F401
        except ImportError as e:
            sys.stderr.write(f"python3-icalendar / python3-dateutil missing: {e}\n")
            sys.exit(77)
        frm, to = parse_dt(sys.argv[2]), parse_dt(sys.argv[3])
        json.dump(ics_starts(sys.stdin.buffer.read(), frm, to), sys.stdout)
        return
    unittest.main()


if __name__ == "__main__":
    _main()


class Blocks(Base):
    """group=hour: a series that fires more often than every 5 minutes comes as one block
    per hour of the viewer's zone with its count (docs/calendar.md), the others one by
    one; without group the reply is as before."""

    def series(self, schedule, tz="UTC", start=None):
        body = {"type": "bb.cal", "schedule": schedule, "tz": tz}
        if start:
            body["start"] = start
        return self.srv.post("/api/v1/series", body)["id"]

    def test_dense_series_come_as_hourly_blocks(self):
        # a week in the future (nothing ran), across the change of 30 March 2036 in Berlin
        dense = self.series("every 1m", start="2026-03-23T00:00:00")
        every5 = self.series("every 5m", start="2026-03-23T00:00:00")
        daily = self.series("RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=30;BYSECOND=0", tz="Europe/Berlin",
                            start="2026-03-23T09:30:00")
        ids = f"{dense},{every5},{daily}"
        q = dict(week="2036-03-24", tz="Europe/Berlin", series=ids)
        plain = self.calendar(**q)
        self.assertNotIn("blocks", plain)
        grouped = self.calendar(group="hour", **q)
        per = lambda cal, sid: [o for o in cal["occurrences"] if o["series_id"] == sid]
        # the daily and the every-5-minutes series (not closer than 5 minutes) one by one, as before
        self.assertEqual(per(grouped, daily), per(plain, daily))
        self.assertEqual(per(grouped, every5), per(plain, every5))
        self.assertEqual(per(grouped, dense), [])
        blocks = grouped["blocks"]
        self.assertEqual({b["series_id"] for b in blocks}, {dense})
        # one block per hour of Berlin: the week of the change has 167 hours
        self.assertEqual(len(blocks), 167)
        self.assertEqual(sum(b["count"] for b in blocks), len(per(plain, dense)))
        self.assertTrue(all(b["count"] == 60 and b["states"] == {"planned": 60} for b in blocks), blocks[:3])
        froms = [b["from"] for b in blocks]
        self.assertEqual(froms, sorted(froms))
        for b in blocks:
            self.assertEqual(b["time"][3:], "00", b)
            self.assertEqual(b["local"][11:16], b["time"], b)
        # each block holds exactly the occurrences of its hour
        first = blocks[0]
        inside = [o for o in per(plain, dense) if first["from"] <= o["at"] < first["to"]]
        self.assertEqual(len(inside), first["count"])
        # the hour after the gap: 01:00, then 03:00 local on Sunday 30 March
        days = [b for b in blocks if b["day"] == "2036-03-30"]
        self.assertEqual([b["time"] for b in days[:3]], ["00:00", "01:00", "03:00"])

    def test_group_other_than_hour_is_refused(self):
        status, body = self.srv.api("GET", "/api/v1/calendar?group=day")
        self.assertEqual((status, body["field"]), (400, "group"))
        self.assertIn('expected "hour"', body["detail"])
