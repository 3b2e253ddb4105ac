"""Black-box tests of rough edges a new user met on the server side: the reply of an
occurrence change (the listing's shape), a cut occurrence listing (truncated,
next_from), occurrences skipped while a series was paused, features no type
declares, listings filtered by a type or series that does not exist, next_due of a
disabled series, manifest errors naming the file, the idempotency key of retried
one-off runs, the calendar feed's DTSTART, `serve --listen BAD`, and the run log."""
import json
import os
import re
import subprocess
import time
from datetime import datetime, timedelta, timezone

import skedtest
from skedtest import US, now_us, parse_utc, utc_text, wait_for

UTC = timezone.utc


def zulu(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Base(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=2)
        self.srv.register_type(skedtest.command_type("bb.edge", ["/bin/true"]))


class OccurrenceReply(Base):
    def test_change_reply_is_one_element_of_the_listing(self):
        srv = self.srv
        s = srv.create_series(type="bb.edge", schedule="cron:0 * * * *", tz="Europe/Berlin", title="hourly")
        sid = s["id"]
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
        cases = [
            (base, {"start": zulu(base + timedelta(days=2, minutes=17)), "note": "later"}),
            (base + timedelta(hours=1), {"enabled": False, "note": "off"}),
            (base + timedelta(hours=2), {"params": {}, "note": "same params"}),
            (base + timedelta(hours=3), {"note": "just a note"}),
        ]
        for nominal, body in cases:
            with self.subTest(body=body):
                status, reply = srv.api("PATCH", f"/api/v1/series/{sid}/occurrences/{zulu(nominal)}", body)
                self.assertEqual(status, 200, reply)
                for key in ("local", "changes", "note", "trigger", "run_id", "skip_reason"):
                    self.assertIn(key, reply, reply)
                items = srv.occurrences(sid, zulu(base - timedelta(hours=1)), zulu(base + timedelta(days=3)))
                listed = [o for o in items if o["nominal"] == int(nominal.timestamp()) * US]
                self.assertEqual(listed, [reply])
        moved = srv.api("PATCH", f"/api/v1/series/{sid}/occurrences/{zulu(base)}", {"note": "later"})[1]
        self.assertEqual((moved["changes"], moved["start_at"]), (["moved"], zulu(base + timedelta(days=2, minutes=17))))
        self.assertIn("start_local", moved)


class OccurrencesTruncated(Base):
    def test_cut_listing_says_so_and_where_to_continue(self):
        srv = self.srv
        s = srv.create_series(type="bb.edge", schedule="every 1s", tz="UTC", title="secondly")
        frm = now_us() + 3600 * US
        to = frm + 600 * US
        path = f"/api/v1/series/{s['id']}/occurrences?from={utc_text(frm)}&to={utc_text(to)}"
        whole = srv.get(path + "&limit=1000")
        self.assertEqual((len(whole["items"]), whole["truncated"]), (600, False), len(whole["items"]))
        self.assertNotIn("next_from", whole)
        got, start, pages = [], utc_text(frm), 0
        while True:
            page = srv.get(f"/api/v1/series/{s['id']}/occurrences?from={start}&to={utc_text(to)}&limit=250")
            got += page["items"]
            pages += 1
            if not page["truncated"]:
                break
            self.assertEqual(len(page["items"]), 250)
            self.assertEqual(parse_utc(page["next_from"]), whole["items"][len(got)]["nominal"], page["next_from"])
            start = page["next_from"]
        self.assertEqual((pages, got), (3, whole["items"]))
        # the cap of 10,000 rows is reported the same way
        big = srv.get(f"/api/v1/series/{s['id']}/occurrences?from={utc_text(frm)}&to={utc_text(frm + 4 * 3600 * US)}"
                      "&limit=10000")
        self.assertEqual((len(big["items"]), big["truncated"]), (10000, True))
        self.assertEqual(parse_utc(big["next_from"]), big["items"][-1]["nominal"] + US)


class PausedOccurrences(Base):
    def test_occurrences_of_a_pause_are_skipped_paused_not_missed(self):
        srv = self.srv
        s = srv.create_series(type="bb.edge", schedule="every 1s", tz="UTC", title="secondly")
        sid = s["id"]
        wait_for(lambda: len(srv.runs(series=sid)) >= 2, 20, what="two runs")
        t_pause = now_us()
        srv.post(f"/api/v1/series/{sid}/pause", {"note": "maintenance"})
        time.sleep(4)
        t_resume = now_us()
        srv.post(f"/api/v1/series/{sid}/resume", {})
        wait_for(lambda: [r for r in srv.runs(series=sid, state="succeeded") if parse_utc(r["nominal"]) > t_resume],
                 20, what="a run after the resume")
        occ = srv.occurrences(sid, utc_text(parse_utc(s["created_at"])), utc_text(now_us() + US))
        during = [o for o in occ if t_pause + 1500 * 1000 < o["nominal"] < t_resume - 500 * 1000]
        self.assertGreaterEqual(len(during), 2, occ)
        self.assertEqual({(o["state"], o["skip_reason"]) for o in during}, {("skipped", "paused")}, during)
        self.assertEqual([o for o in occ if o["state"] == "missed"], [], occ)
        self.assertIn("succeeded", {o["state"] for o in occ if o["nominal"] > t_resume})
        # the calendar says the same
        cal = srv.get(f"/api/v1/calendar?series={sid}&from={utc_text(t_pause)}&to={utc_text(t_resume)}")
        reasons = {o["skip_reason"] for o in cal["occurrences"] if o["state"] == "skipped"}
        self.assertEqual(reasons, {"paused"}, cal["occurrences"])
        # a series created disabled and resumed later: the same
        d = srv.create_series(type="bb.edge", schedule="every 1s", tz="UTC", title="later", enabled=False)
        time.sleep(3)
        t_resume = now_us()
        srv.post(f"/api/v1/series/{d['id']}/resume", {})
        occ = srv.occurrences(d["id"], utc_text(parse_utc(d["created_at"])), utc_text(t_resume))
        self.assertGreaterEqual(len(occ), 2, occ)
        self.assertEqual({(o["state"], o["skip_reason"]) for o in occ}, {("skipped", "paused")}, occ)


class Problems(Base):
    def assertProblem(self, status, body, code, field, *words):
        self.assertEqual(status, code, body)
        self.assertEqual(body.get("field"), field, body)
        for w in words:
            self.assertIn(w, body.get("detail", "") + body.get("title", ""), body)

    def test_feature_no_type_declares_is_refused(self):
        srv = self.srv
        srv.register_type(skedtest.command_type("bb.feat", ["/bin/true"], feature="billing"))
        for verb in ("disable", "enable"):
            with self.subTest(verb=verb):
                status, body = srv.api("POST", f"/api/v1/features/biling/{verb}", {})
                self.assertProblem(status, body, 404, "feature", "biling", "no registered type declares")
                rc, out, err = srv.cli("features", verb, "biling")
                self.assertNotEqual(rc, 0)
                self.assertIn("no registered type declares", err)
        self.assertNotIn("biling", [f["name"] for f in srv.get("/api/v1/features")["items"]])
        # a declared one still switches both ways
        self.assertFalse(srv.post("/api/v1/features/billing/disable", {})["enabled"])
        self.assertTrue(srv.post("/api/v1/features/billing/enable", {})["enabled"])

    def test_filters_naming_nothing_are_404(self):
        srv = self.srv
        status, body = srv.api("GET", "/api/v1/series?type=NOPE")
        self.assertProblem(status, body, 404, "type", "no such type")
        status, body = srv.api("GET", "/api/v1/runs?series=999")
        self.assertProblem(status, body, 404, "series", "no such series")
        status, body = srv.api("GET", "/api/v1/runs?type=nope.nope")
        self.assertProblem(status, body, 404, "type", "no such type")
        rc, out, err = srv.cli("series", "list", "--type", "NOPE")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("no such type", err)
        rc, out, err = srv.cli("runs", "list", "--series", "999")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("no such series", err)
        # a real filter with nothing in it is still an empty list
        s = srv.create_series(type="bb.edge", schedule="cron:0 0 1 1 *", tz="UTC", title="yearly")
        self.assertEqual(srv.get(f"/api/v1/series?type=bb.edge")["items"][0]["id"], s["id"])
        self.assertEqual(srv.get(f"/api/v1/runs?series={s['id']}")["items"], [])
        # the runs of a deleted series are history: still listed
        run = srv.trigger(s["id"])
        srv.wait_run(run["id"])
        status, _ = srv.api("DELETE", f"/api/v1/series/{s['id']}")
        self.assertEqual(status, 204)
        self.assertEqual([r["id"] for r in srv.get(f"/api/v1/runs?series={s['id']}")["items"]], [run["id"]])

    def test_disabled_series_has_no_next_due(self):
        srv = self.srv
        rc, out, err = srv.cli("series", "create", "--type", "bb.edge", "--schedule", "cron:0 9 * * *", "--disabled",
                               "--json")
        self.assertEqual(rc, 0, err)
        s = json.loads(out)
        self.assertEqual((s["enabled"], s["next_due"]), (False, None), s)
        self.assertEqual(srv.get(f"/api/v1/series/{s['id']}")["next_due"], None)
        listed = [x for x in srv.get("/api/v1/series")["items"] if x["id"] == s["id"]]
        self.assertEqual(listed[0]["next_due"], None, listed)
        resumed = srv.post(f"/api/v1/series/{s['id']}/resume", {})
        self.assertIsNotNone(resumed["next_due"], resumed)
        paused = srv.post(f"/api/v1/series/{s['id']}/pause", {})
        self.assertIsNone(paused["next_due"], paused)


class RunLog(skedtest.ServerTest):
    TYPES = [
        skedtest.command_type("bb.ok", ["/bin/true"]),
        skedtest.command_type("bb.fail", ["/bin/sh", "-c", "exit 3"]),
        skedtest.command_type("bb.slow", ["/bin/sleep", "30"], defaults={"timeout": "1s"}),
        skedtest.command_type("bb.again", ["/bin/sh", "-c", "exit 75"],
                              defaults={"retry": {"max_attempts": 2, "initial_backoff": "0s"}}),
    ]

    def runs(self, srv):
        ids = {}
        for t in self.TYPES:
            srv.register_type(t)
        s = srv.create_series(type="bb.ok", schedule="cron:0 0 1 1 *", tz="UTC", title="manual")
        ids["ok"] = srv.trigger(s["id"])["id"]
        for name in ("bb.fail", "bb.slow", "bb.again"):
            ids[name] = srv.post("/api/v1/runs", {"type": name})["ids"][0]
        for i in ids.values():
            srv.wait_run(i)
        wait_for(lambda: len(srv.runs(type="bb.again")) == 2 and srv.runs(type="bb.again")[0]["state"] == "failed",
                 20, what="the retry")
        time.sleep(0.5)
        return s["id"], ids

    def test_text_lines_at_start_and_end(self):
        srv = self.start_server(workers=4)
        sid, ids = self.runs(srv)
        lines = srv.stderr().splitlines()
        started = [l for l in lines if " run started " in l]
        finished = [l for l in lines if " run finished " in l]
        self.assertEqual(len(started), 5, lines)
        self.assertEqual(len(finished), 5, lines)

        def fields(line):
            return dict(re.findall(r' (\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))

        def one(kind, run):
            got = [fields(l) for l in (started if kind == "start" else finished) if fields(l)["run"] == str(run)]
            self.assertEqual(len(got), 1, (kind, run, lines))
            return got[0]

        st = one("start", ids["ok"])
        self.assertEqual((st["type"], st["series"], st["attempt"], st["trigger"]), ("bb.ok", str(sid), "1", "manual"))
        end = one("end", ids["ok"])
        self.assertEqual((end["outcome"], end["exit"], end["error"], end["retry"]), ("succeeded", "0", "-", "no"))
        self.assertTrue(end["duration_ms"].isdigit())
        end = one("end", ids["bb.fail"])
        self.assertEqual((end["series"], end["outcome"], end["exit"]), ("-", "failed", "3"), end)
        self.assertIn("status 3", end["error"])
        end = one("end", ids["bb.slow"])
        self.assertEqual((end["outcome"], end["exit"]), ("failed", "-"), end)
        self.assertIn("timed out", end["error"])
        self.assertGreaterEqual(int(end["duration_ms"]), 900)
        end = one("end", ids["bb.again"])
        self.assertEqual((end["outcome"], end["exit"], end["retry"]), ("failed", "75", "yes"), end)
        again = [fields(l) for l in finished if fields(l)["type"] == "bb.again"]
        self.assertEqual([(f["attempt"], f["retry"]) for f in again], [("1", "yes"), ("2", "no")], again)
        for l in started + finished:
            self.assertIn(" sked[info] ", l)

    def test_json_format_and_level(self):
        srv = self.start_server(workers=4, extra=["--log-format", "json"])
        sid, ids = self.runs(srv)
        objs = [json.loads(l) for l in srv.stderr().splitlines()]  # every line parses
        for o in objs:
            self.assertTrue({"ts", "level", "msg"} <= set(o), o)
            self.assertRegex(o["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        ends = {o["run"]: o for o in objs if o["msg"] == "run finished"}
        self.assertEqual(len([o for o in objs if o["msg"] == "run started"]), 5)
        ok = ends[ids["ok"]]
        self.assertEqual((ok["level"], ok["type"], ok["series"], ok["attempt"], ok["outcome"], ok["exit"], ok["error"]),
                         ("info", "bb.ok", sid, 1, "succeeded", 0, None), ok)
        self.assertIsInstance(ok["duration_ms"], int)
        self.assertEqual((ends[ids["bb.fail"]]["series"], ends[ids["bb.fail"]]["outcome"]), (None, "failed"))
        self.assertIn("timed out", ends[ids["bb.slow"]]["error"])
        # warning and above: no run lines, nor the info lines of the start
        quiet = self.start_server("quiet", workers=2, extra=["--log-level", "warning"])
        quiet.register_type(self.TYPES[0])
        quiet.wait_run(quiet.post("/api/v1/runs", {"type": "bb.ok"})["ids"][0])
        time.sleep(0.3)
        self.assertNotIn("sked[info]", quiet.stderr())

    def test_bad_options_are_usage_errors(self):
        for args, words in ((["--listen", "BAD"], ["--listen", "HOST:PORT"]),
                            (["--listen", "127.0.0.1:99999"], ["--listen", "HOST:PORT"]),
                            (["--listen", "localhost:8080"], ["--listen", "HOST:PORT"]),
                            (["--log-level", "loud"], ["--log-level", "debug, info, warning or error"]),
                            (["--log-format", "xml"], ["--log-format", "text or json"])):
            with self.subTest(args=args):
                p = subprocess.run([skedtest.SKED, "serve", "--data-dir", self.path("d"), *args],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                for w in words:
                    self.assertIn(w, p.stderr)
                self.assertFalse(os.path.exists(self.path("d")), "nothing is created for a usage error")


class RetryKeys(Base):
    def test_retries_of_one_off_and_manual_runs_keep_the_first_key(self):
        srv = self.srv
        srv.register_type(skedtest.command_type(
            "bb.retry", ["/bin/sh", "-c", 'echo "::info::key=$SKED_IDEMPOTENCY_KEY"; exit 75'],
            defaults={"retry": {"max_attempts": 3, "initial_backoff": "0s"}}))
        s = srv.create_series(type="bb.retry", schedule="cron:0 0 1 1 *", tz="UTC", title="manual")
        first = {"enqueue": srv.post("/api/v1/runs", {"type": "bb.retry"})["ids"][0],
                 "trigger": srv.trigger(s["id"])["id"]}
        for how, run_id in first.items():
            with self.subTest(how=how):
                attempts = wait_for(lambda: (lambda rs: rs if len(rs) == 3 and all(
                    r["state"] in skedtest.TERMINAL for r in rs) else None)(self.chain(run_id)), 30,
                                    what="three attempts")
                keys = [r["idempotency_key"] for r in attempts]
                base = keys[0].rsplit(":", 1)[0]
                self.assertEqual(keys, [f"{base}:1", f"{base}:2", f"{base}:3"], keys)
                seen = [m["text"] for r in attempts for m in srv.messages(r["id"]) if m["text"].startswith("key=")]
                self.assertEqual(seen, [f"key={k}" for k in keys])

    def chain(self, run_id):
        out = []
        while run_id:
            r = srv_run = self.srv.run(run_id)
            out.append(srv_run)
            run_id = r.get("next_attempt")
        return out


class FeedDtstart(Base):
    RULES = [
        ("RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0", "Europe/Berlin", None),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=2;BYMINUTE=30", "America/New_York", None),
        ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;BYHOUR=7;BYMINUTE=15", "UTC", None),
        ("RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=12;BYMINUTE=0", "Asia/Tokyo", None),
        ("RRULE:FREQ=DAILY;BYHOUR=6;BYMINUTE=0", "Europe/Paris", "2027-01-01T13:45:00"),
    ]

    def test_dtstart_is_the_first_instance_of_the_rule(self):
        try:
            import icalendar
            from dateutil import rrule as du_rrule
        except ImportError:
            self.skipTest("python3-icalendar and python3-dateutil are needed")
        from zoneinfo import ZoneInfo
        srv = self.srv
        made = {}
        for rule, tz, start in self.RULES:
            fields = dict(type="bb.edge", schedule=rule, tz=tz, title=rule)
            if start:
                fields["start"] = start
            made[srv.create_series(**fields)["id"]] = (rule, tz)
        frm = datetime.now(UTC) - timedelta(days=1)
        to = frm + timedelta(days=399)
        status, _, data = srv.request("GET", f"/api/v1/calendar.ics?from={zulu(frm)}&to={zulu(to)}")
        self.assertEqual(status, 200)
        cal = icalendar.Calendar.from_ical(data)
        masters = [ev for ev in cal.walk("VEVENT") if "RRULE" in ev]
        self.assertEqual(len(masters), len(made), data.decode())
        for ev in masters:
            sid = int(re.fullmatch(r"series-(\d+)@sked", str(ev["UID"])).group(1))
            rule, tz = made[sid]
            with self.subTest(rule=rule):
                dt = ev["DTSTART"].dt.replace(tzinfo=None)
                walls = du_rrule.rrulestr(ev["RRULE"].to_ical().decode(), dtstart=dt)
                first = walls[0]
                self.assertEqual(first, dt, f"DTSTART {dt} is not an instance of {rule}")
                # and the feed's first instance is the series' first occurrence
                occ = srv.occurrences(sid, zulu(frm), zulu(to))
                if occ:
                    want = first.replace(tzinfo=ZoneInfo(tz), fold=0).astimezone(UTC)
                    if want >= frm:
                        self.assertEqual(zulu(want), occ[0]["at"], occ[:2])
