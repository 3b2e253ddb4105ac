"""Black-box tests of API writes through the loop: many writes at once share turns,
each in its own savepoint: one the store refuses fails alone and leaves nothing,
the others are answered (and on disk) as if alone; on SQLite and (SKED_TEST_PG)
PostgreSQL."""
import threading

import skedtest

TRIGGER_SQLITE = ("CREATE TRIGGER refuse_w BEFORE INSERT ON series WHEN NEW.title LIKE 'boom%' "
                  "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END")
TRIGGER_PG = ("CREATE FUNCTION refuse_w() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "IF NEW.title LIKE 'boom%' THEN RAISE EXCEPTION 'refused by test trigger'; END IF; RETURN NEW; END $$; "
              "CREATE TRIGGER refuse_w BEFORE INSERT ON series FOR EACH ROW EXECUTE FUNCTION refuse_w()")


class WritesThroughTheLoop(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        srv = self.srv = self.start_server(workers=1)
        srv.register_type({"name": "bb.w", "handler": {"command": ["/bin/true"]}})
        srv.exec_sql(TRIGGER_SQLITE, TRIGGER_PG)

    def test_refused_write_fails_alone_among_concurrent_ones(self):
        srv = self.srv
        n_threads, per_thread = 16, 12
        results = {}
        lock = threading.Lock()

        def client(k):
            for i in range(per_thread):
                title = f"boom {k}.{i}" if i % 4 == 1 else f"ok {k}.{i}"
                status, reply = srv.api("POST", "/api/v1/series",
                                        {"type": "bb.w", "title": title, "schedule": "every 1h"})
                with lock:
                    results[title] = (status, reply)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(len(results), n_threads * per_thread)
        stored = {r["title"]: r["id"] for r in srv.rows("SELECT id, title FROM series WHERE type = 'bb.w'")}
        for title, (status, reply) in results.items():
            if title.startswith("boom"):
                # SQLite reports RAISE(ABORT) as a constraint (409), PostgreSQL as an error (500)
                self.assertIn(status, (409, 500), reply)
                self.assertIn("refused by test trigger", reply["detail"])
                self.assertNotIn(title, stored)
            else:
                self.assertEqual(status, 201, reply)
                self.assertEqual(reply["title"], title)
                self.assertEqual(stored.get(title), reply["id"])  # on disk when answered
        self.assertEqual(len(stored), n_threads * per_thread * 3 // 4)

    def test_every_write_kind_still_answers(self):
        srv = self.srv
        s = srv.api("POST", "/api/v1/series", {"type": "bb.w", "schedule": "every 1h", "title": "w"})[1]
        sid = s["id"]
        st, r = srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "w2"})
        self.assertEqual((st, r["title"]), (200, "w2"))
        st, r = srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "boom edit", "schedule": "nonsense"})
        self.assertEqual(st, 400, r)
        st, r = srv.api("POST", f"/api/v1/series/{sid}/pause", {"note": "n"})
        self.assertEqual((st, r["enabled"]), (200, False))
        st, r = srv.api("POST", f"/api/v1/series/{sid}/resume")
        self.assertEqual((st, r["enabled"]), (200, True))
        st, r = srv.api("POST", f"/api/v1/series/{sid}/trigger")
        self.assertEqual(st, 202, r)
        st, r = srv.api("POST", "/api/v1/series/999999/pause")
        self.assertEqual(st, 404, r)
        st, r = srv.api("DELETE", f"/api/v1/series/{sid}")
        self.assertEqual(st, 204, r)
        st, r = srv.api("GET", f"/api/v1/series/{sid}")
        self.assertEqual(st, 404, r)
