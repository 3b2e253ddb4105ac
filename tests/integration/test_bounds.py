"""Black-box tests of issue 16's hardening (h9): every piece of work one request can
cause is bounded, a refused request changes nothing, and a bad stored definition
never blocks the poller for the others.  Against a real `sked serve` (SQLite, or
PostgreSQL with SKED_TEST_PG)."""
import json
import threading
import time
import unittest

import skedtest
from skedtest import wait_for

# Rules whose parts never coincide: searched without a bound before, one request
# spun an HTTP thread and never answered.
NEVER = [
    "RRULE:FREQ=SECONDLY;BYMONTH=1;BYYEARDAY=100",
    "RRULE:FREQ=MINUTELY;BYMONTH=1;BYYEARDAY=200",
    "RRULE:FREQ=HOURLY;BYMONTH=2;BYYEARDAY=-1",
    "RRULE:FREQ=SECONDLY;INTERVAL=2;BYSECOND=1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,"
    "47,49,51,53,55,57,59",
    "RRULE:FREQ=DAILY;BYHOUR=9;BYSETPOS=2",
]
# A schedule that never fires during a test: runs come from `trigger` only.
MANUAL = "cron:0 0 1 1 *"


def bg_type(name, schedule, **extra):
    d = {"name": name, "kind": "background", "title": name, "handler": {"command": ["/bin/true"]},
         "series": {"schedule": schedule}}
    d.update(extra)
    return d


class BoundedSearches(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=1)
        self.srv.register_type(skedtest.command_type("bb.t", ["/bin/true"]))

    def test_rule_that_never_fires_is_refused_naming_schedule(self):
        for spec in NEVER:
            with self.subTest(spec=spec):
                status, body = self.srv.api("POST", "/api/v1/series", {"type": "bb.t", "schedule": spec})
                self.assertProblem(status, body, 400, "schedule")
                self.assertIn("the rule produces no occurrence", body["detail"])
        self.assertEqual(self.srv.get("/api/v1/series")["items"], [])

    def test_many_such_requests_at_once_leave_the_api_answering(self):
        # 40 at once: with 4 HTTP threads, a handful of unbounded searches stopped the API
        replies = []
        lock = threading.Lock()

        def one(i):
            spec = NEVER[i % len(NEVER)]
            status, body = self.srv.api("POST", "/api/v1/series", {"type": "bb.t", "schedule": spec})
            with lock:
                replies.append((status, body.get("field") if body else None))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120 * skedtest.SLOW)
        self.assertEqual(sorted(replies), [(400, "schedule")] * 40)
        status, _, _ = self.srv.request("GET", "/healthz", token=None)
        self.assertEqual(status, 200)

    def test_edit_to_such_a_rule_is_refused_and_changes_nothing(self):
        s = self.srv.create_series(type="bb.t", schedule=MANUAL)
        for spec in NEVER[:3]:
            status, body = self.srv.api("PATCH", f"/api/v1/series/{s['id']}", {"schedule": spec})
            self.assertProblem(status, body, 400, "schedule")
        now = self.srv.get(f"/api/v1/series/{s['id']}")
        self.assertEqual((now["schedule"], now["version"]), (MANUAL, s["version"]))

    def test_utc_until_before_the_start_is_refused_like_the_others(self):
        status, body = self.srv.api("POST", "/api/v1/series", {
            "type": "bb.t", "schedule": "RRULE:FREQ=DAILY;UNTIL=20200101T000000Z", "start": "2026-01-01T09:00:00"})
        self.assertProblem(status, body, 400, "schedule")
        self.assertIn("UNTIL is before the start", body["detail"])
        status, body = self.srv.api("POST", "/api/v1/series", {
            "type": "bb.t", "schedule": "every 1h", "start": "2026-01-01T09:00:00", "end": "2026-01-01T08:00:00Z"})
        self.assertProblem(status, body, 400, "end")
        self.assertEqual(self.srv.get("/api/v1/series")["items"], [])

    def test_count_has_the_schedulers_maximum(self):
        # the scheduler walks the first `count` occurrences once; it refuses more than
        # 100,000, which the API allowed up to 1e9 and then named `schedule`
        status, body = self.srv.api("POST", "/api/v1/series", {"type": "bb.t", "schedule": "every 1s",
                                                                "count": 100001})
        self.assertProblem(status, body, 400, "count")
        self.assertIn("1 to 100000", body["detail"])
        s = self.srv.create_series(type="bb.t", schedule="every 1s", count=100000, enabled=False)
        self.assertEqual(s["count"], 100000)

    def test_background_type_with_such_a_series_is_refused(self):
        status, body = self.srv.api("POST", "/api/v1/types", bg_type("bg.never", NEVER[0]))
        self.assertProblem(status, body, 400, "series.schedule")
        self.assertEqual(self.srv.rows("SELECT name FROM types WHERE name = 'bg.never'"), [])

    def test_occurrences_of_a_sparse_rule_answer(self):
        # a SECONDLY rule that fires on leap days only: its next occurrence is years
        # away and found by skipping whole days, not by walking seconds
        s = self.srv.create_series(type="bb.t", schedule="RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=3",
                                   start="2024-02-29T03:00:00", enabled=False)
        items = self.srv.occurrences(s["id"], "2097-03-01T00:00:00Z", "2104-03-01T00:00:00Z")
        self.assertEqual(len(items), 3600)
        self.assertEqual(items[0]["at"], "2104-02-29T03:00:00Z")


class RefusedChangesNothing(skedtest.ServerTest):
    def test_new_type_with_a_bad_series_leaves_no_row(self):
        srv = self.start_server(workers=1)
        bad = [("series.schedule", {"schedule": "RRULE:FREQ=DAILY;BYHOUR=25"}),
               ("series.schedule", {"schedule": "RRULE:FREQ=DAILY;UNTIL=20200101T000000Z"}),
               ("series.tz", {"schedule": "every 1h", "tz": "Mars/Olympus"})]
        for field, series in bad:
            with self.subTest(series=series):
                status, body = srv.api("POST", "/api/v1/types", bg_type("bg.bad", "x", series=series))
                self.assertProblem(status, body, 400, field)
                self.assertEqual(srv.rows("SELECT name FROM types"), [])
                self.assertEqual(srv.rows("SELECT id FROM series"), [])
        self.assertEqual(srv.get("/api/v1/types")["items"], [])

    def test_reregistration_with_a_bad_series_is_refused_and_keeps_the_old(self):
        # the series existed, so its new definition was not checked: stored, and
        # once the series was deleted, every poller init failed (also after a restart)
        srv = self.start_server(workers=1)
        srv.register_type(bg_type("bg.x", "every 1h"))
        before = srv.rows("SELECT definition FROM types WHERE name = 'bg.x'")
        status, body = srv.api("POST", "/api/v1/types", bg_type("bg.x", "RRULE:FREQ=DAILY;BYHOUR=25"))
        self.assertProblem(status, body, 400, "series.schedule")
        self.assertEqual(srv.rows("SELECT definition FROM types WHERE name = 'bg.x'"), before)
        self.assertEqual(srv.get("/api/v1/types/bg.x")["series"]["schedule"], "every 1h")
        (series,) = srv.get("/api/v1/series?all=true")["items"]
        status, _ = srv.api("DELETE", f"/api/v1/series/{series['id']}")
        self.assertEqual(status, 204)
        self.assertEqual(srv.post("/api/v1/poller/init"), {"registered": 1, "skipped": []})

    def test_bad_definitions_in_the_store_do_not_stop_the_others(self):
        srv = self.start_server(workers=2)
        srv.register_type(bg_type("bg.good", "every 1s"))
        srv.register_type(bg_type("bg.bad", "every 1h"))
        srv.register_type(skedtest.command_type("bb.t", ["/bin/true"]))
        fine = srv.create_series(type="bb.t", schedule="every 1s")
        broken = srv.create_series(type="bb.t", schedule="every 1s")
        for s in srv.get("/api/v1/series?all=true")["items"]:
            if s["background"]:
                self.assertEqual(srv.api("DELETE", f"/api/v1/series/{s['id']}")[0], 204)
        srv.stop()
        # what an older version or a hand-made change may leave: a background type
        # whose series cannot be made, a series whose rule does not parse
        bad_def = json.loads(srv.rows("SELECT definition FROM types WHERE name = 'bg.bad'")[0]["definition"])
        bad_def["series"]["schedule"] = "RRULE:FREQ=DAILY;BYHOUR=25"
        text = json.dumps(bad_def).replace("'", "''")
        sql = (f"UPDATE types SET definition = '{text}' WHERE name = 'bg.bad';"
               f"UPDATE series SET schedule = 'RRULE:FREQ=SECONDLY;BYMONTH=1;BYYEARDAY=100' "
               f"WHERE id = {broken['id']};")
        srv.exec_sql(sql, sql)
        srv.start()
        restarted = skedtest.now_us()
        reply = srv.post("/api/v1/poller/init")
        self.assertEqual(reply["registered"], 1, reply)
        self.assertEqual([s["type"] for s in reply["skipped"]], ["bg.bad"], reply)
        self.assertIn("series.schedule", reply["skipped"][0]["detail"])
        self.assertIn("poller init: background type bg.bad", srv.stderr())
        rc, out, err = srv.cli("poller", "init")
        self.assertEqual(rc, 0, err)
        self.assertIn("skipped background type bg.bad", err)
        # the others fire: the good background type's new series, the fine series
        good = [s for s in srv.get("/api/v1/series?all=true")["items"] if s["type"] == "bg.good"]
        self.assertEqual(len(good), 1)
        for sid in (good[0]["id"], fine["id"]):
            wait_for(lambda: [r for r in srv.runs(series=sid) if skedtest.parse_utc(r["queued_at"]) >= restarted
                              and r["state"] == "succeeded"], 30, what=f"a run of series {sid} after the restart")
        # the broken series is parked (no next due), and says nothing will run
        wait_for(lambda: srv.get(f"/api/v1/series/{broken['id']}")["next_due"] is None, 20,
                 what="the broken series parked")


class ResultLimits(skedtest.ServerTest):
    def test_cut_keys_and_statuses_stay_within_their_limits(self):
        # 1024 bytes per key and 64 per status (docs/operations.md): the cut was made
        # at the limit and the ellipsis added after it, 3 bytes too long
        srv = self.start_server(workers=1)
        key = "é" * 700          # 1400 bytes
        status = "ö" * 40        # 80 bytes
        line = "::result::" + json.dumps({"key": key, "status": status}, ensure_ascii=False)
        short = "::result::" + json.dumps({"key": "é" * 512, "status": "ö" * 32}, ensure_ascii=False)
        srv.register_type(skedtest.command_type("bb.r", ["/bin/sh", "-c", f"cat >/dev/null; echo '{line}'; "
                                                                           f"echo '{short}'"]))
        s = srv.create_series(type="bb.r", schedule=MANUAL)
        run = srv.wait_run(srv.trigger(s["id"])["id"])
        self.assertEqual(run["state"], "succeeded", run)
        (cut, exact) = srv.results(run["id"])
        for text, limit, orig in ((cut["key"], 1024, key), (cut["status"], 64, status)):
            raw = text.encode()
            self.assertLessEqual(len(raw), limit, text)
            self.assertTrue(text.endswith("…"), text)
            self.assertTrue(orig.startswith(text[:-1]), text)
            self.assertGreater(len(raw) + 2, limit)  # nothing more would have fitted
        # exactly at the limit: kept whole, no mark
        self.assertEqual((exact["key"], exact["status"]), ("é" * 512, "ö" * 32))


if __name__ == "__main__":
    unittest.main()
