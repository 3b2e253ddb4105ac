"""Black-box tests of POST /api/v1/series with an array: every series in one
transaction or none, errors naming the element ("[2].schedule"), the same
representation as a single create, on SQLite and (SKED_TEST_PG) PostgreSQL."""
import json

import skedtest

TRIGGER_SQLITE = ("CREATE TRIGGER refuse BEFORE INSERT ON series WHEN NEW.title = 'boom' "
                  "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END")
TRIGGER_PG = ("CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "IF NEW.title = 'boom' THEN RAISE EXCEPTION 'refused by test trigger'; END IF; RETURN NEW; END $$; "
              "CREATE TRIGGER refuse BEFORE INSERT ON series FOR EACH ROW EXECUTE FUNCTION refuse_boom()")


class SeriesBatch(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        srv = self.srv = self.start_server(workers=1)
        srv.register_type({"name": "bb.batch", "handler": {"command": ["/bin/true"]},
                           "params": [{"name": "n", "type": "int", "default": 1, "max": 10}]})
        srv.register_type({"name": "bb.bg", "kind": "background", "handler": {"command": ["/bin/true"]},
                           "series": {"schedule": "cron:0 0 1 1 *"}})

    def series_rows(self):
        """The series as the store holds them (a second witness next to the API)."""
        return self.srv.rows("SELECT id, title, type FROM series ORDER BY id")

    def user_series(self):
        return [r for r in self.series_rows() if r["type"] != "bb.bg"]

    def post(self, body):
        return self.srv.api("POST", "/api/v1/series", body)

    def test_array_creates_all_with_ids_in_order(self):
        body = [
            # not due for years: the poller (which fires up to 2 s ahead) leaves it as created
            {"type": "bb.batch", "title": "b0", "schedule": "every 1m", "start": "2030-01-01T00:00:00"},
            {"type": "bb.batch", "title": "b1", "schedule": "cron:30 9 * * *", "tz": "Europe/Berlin"},
            {"type": "bb.batch", "title": "b2", "schedule": "RRULE:FREQ=DAILY;BYHOUR=7;BYMINUTE=0",
             "tz": "America/New_York", "params": {"n": 7}},
            {"type": "bb.batch", "title": "b3", "schedule": "every 15m", "enabled": False, "owner": "ops"},
        ]
        status, hdrs, reply = self.srv.api_full("POST", "/api/v1/series", body)
        self.assertEqual(status, 201, reply)
        self.assertIsInstance(reply, list)
        self.assertEqual([s["title"] for s in reply], ["b0", "b1", "b2", "b3"])
        ids = [s["id"] for s in reply]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), 4)
        self.assertEqual(reply[2]["params"], {"n": 7})
        self.assertEqual(reply[2]["tz"], "America/New_York")
        self.assertFalse(reply[3]["enabled"])
        self.assertEqual(reply[3]["owner"], "ops")
        # the same representation as a single create / GET
        for s in reply:
            self.assertEqual(s["version"], 1)
            got = self.srv.get(f"/api/v1/series/{s['id']}")
            self.assertEqual(got, s)
        single = self.srv.create_series(type="bb.batch", title="single", schedule="every 1m")
        self.assertEqual(sorted(single), sorted(reply[0]))
        self.assertEqual([(r["id"], r["title"]) for r in self.user_series()],
                         [(i, f"b{k}") for k, i in enumerate(ids)] + [(single["id"], "single")])

    def test_one_bad_element_creates_nothing(self):
        good = {"type": "bb.batch", "schedule": "every 1m"}
        before = self.srv.get("/api/v1/series")
        cases = [
            # (bad element, status, field, text in the detail)
            (dict(good, schedule="RRULE:FREQ=DAILY;BYHOUR=25"), 400, "[2].schedule", "BYHOUR"),
            (dict(good, params={"n": 11}), 400, "[2].params.n", "10"),
            (dict(good, colour="red"), 400, "[2].colour", "unknown field"),
            (dict(good, tz="Mars/Olympus"), 400, "[2].tz", "Mars/Olympus"),
            (dict(good, type="bb.bg"), 400, "[2].type", "background"),
            (dict(good, type="bb.nope"), 404, "[2].type", "no such process type"),   # as for a single create
            ({"type": "bb.batch"}, 400, "[2].schedule", "required"),
            ([good], 400, "[2]", "JSON object"),
            ("every 1m", 400, "[2]", "JSON object"),
        ]
        for bad, status, field, text in cases:
            with self.subTest(bad=bad):
                body = [dict(good, title="a"), dict(good, title="b"), bad, dict(good, title="d")]
                got, reply = self.post(body)
                self.assertProblem(got, reply, status, field)
                self.assertTrue(reply["detail"].startswith(field + ":"), reply)
                self.assertIn(text, reply["detail"])
        self.assertEqual(self.srv.get("/api/v1/series"), before)
        self.assertEqual(self.user_series(), [])

    def test_store_failure_mid_batch_rolls_back(self):
        """Validation passes; the store refuses the fourth row after three went in:
        the three are rolled back, and the server's connection is usable after."""
        srv = self.srv
        srv.exec_sql(TRIGGER_SQLITE, TRIGGER_PG)
        body = [{"type": "bb.batch", "title": f"ok {i}", "schedule": "every 1m"} for i in range(6)]
        body[3]["title"] = "boom"
        status, reply = self.post(body)
        # SQLite reports RAISE(ABORT) as a constraint (409), PostgreSQL as an error (500)
        self.assertIn(status, (409, 500), reply)
        self.assertProblem(status, reply, status, "[3]")
        self.assertIn("refused by test trigger", reply["detail"])
        self.assertEqual(self.user_series(), [])
        self.assertEqual(srv.get("/api/v1/series")["items"][-1]["type"], "bb.bg")
        body[3]["title"] = "fine"
        for _ in range(3):   # whichever HTTP thread (and connection) takes it
            status, reply = self.post(body[:2])
            self.assertEqual(status, 201, reply)
        self.assertEqual(len(self.user_series()), 6)

    def test_empty_array_is_refused(self):
        status, reply = self.post([])
        self.assertProblem(status, reply, 400, "body")
        self.assertIn("expected 1 to 10000 series, got 0", reply["detail"])
        self.assertEqual(self.user_series(), [])

    def test_more_than_10000_are_refused(self):
        body = [{"type": "bb.batch", "schedule": "every 1m"}] * 10001
        self.assertLess(len(json.dumps(body)), 1 << 20)   # under the body limit: the count decides
        status, reply = self.post(body)
        self.assertProblem(status, reply, 400, "body")
        self.assertIn("expected 1 to 10000 series, got 10001", reply["detail"])
        self.assertEqual(self.user_series(), [])

    def test_1000_series_fit_the_body_limit(self):
        """docs/api.md: 1,000 series of about 1 KB each fit in the 1 MiB body."""
        body = [{"type": "bb.batch", "title": f"series {i:04d} " + "t" * 150,
                 "schedule": f"cron:{i % 60} 9 * * 1-5", "tz": "Europe/Berlin", "start": "2026-01-01T00:00:00",
                 "params": {"n": i % 10}, "owner": "o" * 100, "pause_note": "p" * 500, "enabled": i % 2 == 0}
                for i in range(1000)]
        size = len(json.dumps(body))
        self.assertGreater(size, 900 * 1000)
        self.assertLess(size, 1 << 20)
        status, reply = self.post(body)
        self.assertEqual(status, 201, reply)
        self.assertEqual(len(reply), 1000)
        self.assertEqual([s["title"][:11] for s in reply], [f"series {i:04d}" for i in range(1000)])
        self.assertEqual(len(self.user_series()), 1000)


if __name__ == "__main__":
    import unittest
    unittest.main()
