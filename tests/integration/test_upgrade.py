"""Schema upgrades (issue 4): a store created at schema version 1 (`sked migrate --to
1`) and filled with series, occurrences, runs, messages and results through SQL that
matches version 1's tables (src/store/schema.c) is brought to the newest version by
`sked migrate` or by `sked serve` at start, and keeps every row, readable through the
API.  A store whose schema is newer than the binary is refused, clearly, by both, and
left alone.  Runs on SQLite always, and on PostgreSQL when SKED_TEST_PG is set."""
import calendar
import os
import re
import sqlite3
import subprocess
import time
import unittest

import skedtest
from skedtest import US

T = 1767225600 * US   # 2026-01-01T00:00:00Z


def utc(us):
    return skedtest.utc_text(us)


def next_new_year_us():
    year = time.gmtime().tm_year + 1
    return calendar.timegm((year, 1, 1, 0, 0, 0)) * US


# retention 10 years: the rows date from 2026-01-01 and must outlive the first purge
CMD_DEF = ('{"defaults":{"concurrency":0,"retention_ms":315360000000,"retry":{"initial_backoff_ms":10000,'
           '"max_attempts":1,"max_backoff_ms":600000,"multiplier":2.0},"timeout_ms":3600000},'
           '"handler":{"command":["/bin/true"]},"kind":"scheduled","name":"bb.old","params":[{"default":1,'
           '"name":"n","required":false,"type":"int"}],"query_fields":[],"title":"From version 1"}')


def v1_rows(yearly_due):
    """Version 1 content, in insertion order (ids 1, 2, ... of a fresh store)."""
    return [
        "INSERT INTO types(name, background, feature, definition, created_at, updated_at) "
        f"VALUES('bb.old', 0, NULL, '{CMD_DEF}', {T}, {T})",
        # 1: paused
        "INSERT INTO series(type, title, schedule, tz, start_local, end_at, count, params, query, enabled, "
        "background, pause_note, owner, next_due, last_nominal, fired, missed, version, created_at, updated_at) "
        "VALUES('bb.old', 'Nightly in Paris', 'cron:0 2 * * *', 'Europe/Paris', NULL, NULL, NULL, '{\"n\":3}', "
        f"NULL, 0, 0, 'paused before the upgrade', 'ops', {T + 3600 * US}, NULL, 0, 0, 2, {T}, {T + US})",
        # 2: exhausted, two occurrences fired
        "INSERT INTO series(type, title, schedule, tz, start_local, end_at, count, params, query, enabled, "
        "background, pause_note, owner, next_due, last_nominal, fired, missed, version, created_at, updated_at) "
        "VALUES('bb.old', 'Twice', 'every 1s', 'UTC', '2026-01-01T00:00:00', NULL, 2, '{\"n\":5}', NULL, 1, 0, "
        f"NULL, NULL, NULL, {T + US}, 2, 0, 1, {T}, {T})",
        # 3: active, next due next new year
        "INSERT INTO series(type, title, schedule, tz, start_local, end_at, count, params, query, enabled, "
        "background, pause_note, owner, next_due, last_nominal, fired, missed, version, created_at, updated_at) "
        "VALUES('bb.old', 'Yearly', 'cron:0 0 1 1 *', 'UTC', NULL, NULL, NULL, '{\"n\":1}', NULL, 1, 0, NULL, "
        f"NULL, {yearly_due}, NULL, 0, 0, 1, {T}, {T})",
        # run 1: series 2's first occurrence, succeeded, with a message and a result
        "INSERT INTO runs(series_id, nominal, type, attempt, trigger, state, params, query, idem_key, queued_at, "
        "not_before, started_at, finished_at, lease_until, node, exit_code, error, progress, n_info, n_warning, "
        f"n_error, n_results, next_attempt) VALUES(2, {T}, 'bb.old', 1, 'schedule', 'succeeded', '{{\"n\":5}}', "
        f"NULL, NULL, {T}, {T}, {T}, {T + 2 * US}, NULL, 'old-node', 0, NULL, 100, 1, 0, 0, 1, NULL)",
        # run 2: the second occurrence's first attempt, lost; run 3: its recovery, succeeded
        "INSERT INTO runs(series_id, nominal, type, attempt, trigger, state, params, query, idem_key, queued_at, "
        "not_before, started_at, finished_at, lease_until, node, exit_code, error, progress, n_info, n_warning, "
        f"n_error, n_results, next_attempt) VALUES(2, {T + US}, 'bb.old', 1, 'schedule', 'lost', '{{\"n\":5}}', "
        f"NULL, NULL, {T + US}, {T + US}, {T + US}, {T + 40 * US}, NULL, 'old-node', NULL, "
        "'interrupted: the server stopped (crash?); recovered as attempt 2', 0, 0, 0, 0, 0, 3)",
        "INSERT INTO runs(series_id, nominal, type, attempt, trigger, state, params, query, idem_key, queued_at, "
        "not_before, started_at, finished_at, lease_until, node, exit_code, error, progress, n_info, n_warning, "
        f"n_error, n_results, next_attempt) VALUES(2, {T + US}, 'bb.old', 2, 'recovery', 'succeeded', "
        f"'{{\"n\":5}}', NULL, NULL, {T + 40 * US}, {T + 40 * US}, {T + 41 * US}, {T + 42 * US}, NULL, "
        "'old-node', 0, NULL, 100, 0, 0, 0, 0, NULL)",
        # run 4: a one-off run that failed
        "INSERT INTO runs(series_id, nominal, type, attempt, trigger, state, params, query, idem_key, queued_at, "
        "not_before, started_at, finished_at, lease_until, node, exit_code, error, progress, n_info, n_warning, "
        f"n_error, n_results, next_attempt) VALUES(NULL, NULL, 'bb.old', 1, 'manual', 'failed', '{{\"n\":7}}', "
        f"NULL, 'v1-manual-4', {T + 60 * US}, {T + 60 * US}, {T + 61 * US}, {T + 62 * US}, NULL, 'old-node', 3, "
        "'exited with status 3', 0, 0, 0, 1, 0, NULL)",
        # run 5: a one-off run still queued at the upgrade: the upgraded server runs it
        "INSERT INTO runs(series_id, nominal, type, attempt, trigger, state, params, query, idem_key, queued_at, "
        "not_before, started_at, finished_at, lease_until, node, exit_code, error, progress, n_info, n_warning, "
        f"n_error, n_results, next_attempt) VALUES(NULL, NULL, 'bb.old', 1, 'manual', 'queued', '{{\"n\":8}}', "
        f"NULL, 'v1-manual-5', {T + 70 * US}, {T + 70 * US}, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, "
        "NULL)",
        f"INSERT INTO occurrences(series_id, nominal, fired_at, run_id) VALUES(2, {T}, {T}, 1)",
        f"INSERT INTO occurrences(series_id, nominal, fired_at, run_id) VALUES(2, {T + US}, {T + US}, 3)",
        f"INSERT INTO messages(run_id, seq, at, level, text) VALUES(1, 1, {T + US}, 'info', 'hello from v1')",
        f"INSERT INTO messages(run_id, seq, at, level, text) VALUES(4, 1, {T + 61 * US}, 'error', 'v1 broke')",
        f"INSERT INTO results(run_id, seq, at, key, status, data) VALUES(1, 1, {T + US}, 'rows', 'ok', "
        "'{\"rows\":12}')",
    ]


class UpgradeBase(skedtest.ServerTest):
    backend = None

    def setUp(self):
        super().setUp()
        self.data = self.path("data")
        os.makedirs(self.data, mode=0o700)   # `sked migrate` does not create it (`sked serve` does)
        self.db = self.new_database() if self.backend == "postgres" else None

    # ---- the store, directly ----

    def where(self):
        return ["--db", self.db] if self.db else ["--data-dir", self.data]

    def migrate(self, *args):
        p = subprocess.run([skedtest.SKED, "migrate", *self.where(), *args], capture_output=True, text=True,
                           timeout=60 * skedtest.SLOW)
        return p.returncode, p.stdout, p.stderr

    def sql(self, statements):
        if self.db:
            skedtest.psql(self.db, "BEGIN; " + "; ".join(statements) + "; COMMIT")
            return
        con = sqlite3.connect(os.path.join(self.data, "sked.db"), isolation_level=None, timeout=10)
        try:
            con.execute("BEGIN")
            for s in statements:
                con.execute(s)
            con.execute("COMMIT")
        finally:
            con.close()

    def rows(self, q):
        return skedtest.pg_rows(self.db, q) if self.db else skedtest.sqlite_rows(os.path.join(self.data, "sked.db"), q)

    def version(self):
        return int(self.rows("SELECT value FROM meta WHERE key = 'schema_version'")[0]["value"])

    def tables(self):
        if self.db:
            q = "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
        else:
            q = "SELECT name FROM sqlite_master WHERE type = 'table'"
        return {r["name"] for r in self.rows(q)}

    def latest(self):
        p = subprocess.run([skedtest.SKED, "migrate", "--help"], capture_output=True, text=True, timeout=30)
        m = re.search(r"the newest, (\d+)", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        return int(m.group(1))

    def server(self):
        # db=None: SQLite in self.data even when the suite runs in PostgreSQL mode
        return self.new_server("data", db=self.db, workers=1)

    def make_v1(self):
        rc, out, err = self.migrate("--to", "1")
        self.assertEqual(rc, 0, err)
        self.assertIn("schema version 1", out)
        self.assertEqual(self.version(), 1)
        self.assertNotIn("nodes", self.tables(), "version 1 has no nodes table")
        self.yearly = next_new_year_us()
        self.sql(v1_rows(self.yearly))
        self.assertEqual([r["id"] for r in self.rows("SELECT id FROM runs ORDER BY id")], [1, 2, 3, 4, 5])
        self.assertEqual([r["id"] for r in self.rows("SELECT id FROM series ORDER BY id")], [1, 2, 3])

    # ---- what must survive ----

    def check_kept(self, srv):
        series = {s["id"]: s for s in srv.get("/api/v1/series?limit=100")["items"]}
        self.assertEqual(sorted(series), [1, 2, 3])
        s1, s2, s3 = (srv.get(f"/api/v1/series/{i}") for i in (1, 2, 3))
        self.assertEqual((s1["title"], s1["schedule"], s1["tz"], s1["params"], s1["enabled"], s1["pause_note"],
                          s1["owner"], s1["version"]),
                         ("Nightly in Paris", "cron:0 2 * * *", "Europe/Paris", {"n": 3}, False,
                          "paused before the upgrade", "ops", 2), s1)
        self.assertEqual((s2["title"], s2["schedule"], s2["count"], s2["params"], s2["fired"], s2["missed"],
                          s2["next_due"]), ("Twice", "every 1s", 2, {"n": 5}, 2, 0, None), s2)
        self.assertEqual(skedtest.parse_utc(s2["last_nominal"]), T + US, s2)
        self.assertEqual((s3["title"], s3["enabled"], skedtest.parse_utc(s3["next_due"])),
                         ("Yearly", True, self.yearly), s3)
        self.assertEqual(skedtest.parse_utc(s1["created_at"]), T)

        occ = srv.occurrences(2, utc(T), utc(T + 2 * US))
        self.assertEqual([(o["nominal"], o["state"], o["run_id"]) for o in occ],
                         [(T, "succeeded", 1), (T + US, "succeeded", 3)], occ)

        r1, r2, r3, r4 = (srv.run(i) for i in (1, 2, 3, 4))
        self.assertEqual((r1["series_id"], r1["state"], r1["attempt"], r1["trigger"], r1["node"], r1["exit_code"],
                          r1["params"], r1["progress"], r1["next_attempt"]),
                         (2, "succeeded", 1, "schedule", "old-node", 0, {"n": 5}, 100, None), r1)
        self.assertEqual(skedtest.parse_utc(r1["nominal"]), T)
        self.assertEqual((skedtest.parse_utc(r1["started_at"]), skedtest.parse_utc(r1["finished_at"])),
                         (T, T + 2 * US))
        self.assertEqual(r1["idempotency_key"], "2:2026-01-01T00:00:00Z:1")
        self.assertEqual((r2["state"], r2["next_attempt"], r2["error"]),
                         ("lost", 3, "interrupted: the server stopped (crash?); recovered as attempt 2"), r2)
        self.assertEqual((r3["state"], r3["attempt"], r3["trigger"], r3["idempotency_key"]),
                         ("succeeded", 2, "recovery", "2:2026-01-01T00:00:01Z:2"), r3)
        self.assertEqual((r4["series_id"], r4["nominal"], r4["state"], r4["exit_code"], r4["error"],
                          r4["idempotency_key"], r4["params"]),
                         (None, None, "failed", 3, "exited with status 3", "v1-manual-4", {"n": 7}), r4)
        self.assertEqual([(m["level"], m["text"]) for m in srv.messages(1)], [("info", "hello from v1")])
        self.assertEqual([(m["level"], m["text"]) for m in srv.messages(4)], [("error", "v1 broke")])
        self.assertEqual([(x["key"], x["status"], x["data"]) for x in srv.results(1)], [("rows", "ok", {"rows": 12})])
        # the run queued before the upgrade runs after it
        r5 = srv.wait_run(5)
        self.assertEqual((r5["state"], r5["params"], r5["idempotency_key"]), ("succeeded", {"n": 8}, "v1-manual-5"),
                         r5)
        # and the upgraded store takes new work without id clashes
        self.assertEqual([t["name"] for t in srv.get("/api/v1/types")["items"]], ["bb.old"])
        new = srv.create_series(type="bb.old", schedule="cron:0 0 1 1 *", params={"n": 9})
        self.assertEqual(new["id"], 4)
        run = srv.wait_run(srv.trigger(new["id"])["id"])
        self.assertEqual((run["id"], run["state"]), (6, "succeeded"), run)
        # the CLI reads it too
        self.assertEqual(sorted(s["id"] for s in srv.cli_json("series", "list")["items"]), [1, 2, 3, 4])
        self.assertEqual(len(srv.runs()), 6)

    # ---- the tests ----

    def test_migrate_then_serve_keeps_every_series_and_run(self):
        self.make_v1()
        rc, out, err = self.migrate()
        self.assertEqual(rc, 0, err)
        latest = self.latest()
        self.assertGreaterEqual(latest, 2)
        self.assertEqual(out.strip(), f"schema version {latest} (this sked knows up to {latest})")
        self.assertEqual(self.version(), latest)
        self.assertIn("nodes", self.tables())
        # migrating again is a no-op
        rc, out, err = self.migrate()
        self.assertEqual((rc, out.strip()), (0, f"schema version {latest} (this sked knows up to {latest})"), err)
        self.assertEqual(len(self.rows("SELECT id FROM runs")), 5)
        srv = self.server().start()
        self.check_kept(srv)
        self.assertEqual(srv.stop(), 0, srv.stderr()[-2000:])

    def test_serve_migrates_at_start_and_keeps_every_series_and_run(self):
        self.make_v1()
        srv = self.server().start()
        self.assertEqual(self.version(), self.latest())
        self.assertIn("nodes", self.tables())
        self.check_kept(srv)
        # this node registered in the new table
        nodes = srv.get("/api/v1/nodes")["items"]
        self.assertEqual(len(nodes), 1, nodes)
        self.assertEqual(srv.stop(), 0, srv.stderr()[-2000:])

    def test_newer_schema_is_refused_by_migrate_and_serve(self):
        rc, out, err = self.migrate()
        self.assertEqual(rc, 0, err)
        latest = self.latest()
        newer = latest + 7
        self.sql([f"UPDATE meta SET value = '{newer}' WHERE key = 'schema_version'"])
        want = f"database schema version {newer} is newer than this sked (knows up to {latest})"
        rc, out, err = self.migrate()
        self.assertNotEqual(rc, 0, out)
        self.assertIn(want, err)
        rc, out, err = self.migrate("--to", "1")
        self.assertNotEqual(rc, 0, out)
        self.assertIn(want, err)
        srv = self.server()
        proc = srv.spawn()
        try:
            rc = proc.wait(30 * skedtest.SLOW)
        except subprocess.TimeoutExpired:
            self.fail("sked serve did not refuse the newer database")
        self.assertNotEqual(rc, 0)
        self.assertIn(want, srv.stderr())
        self.assertNotIn("listening", srv.stdout())
        # left alone
        self.assertEqual(self.version(), newer)


class UpgradeSQLite(UpgradeBase):
    backend = "sqlite"


@unittest.skipUnless(skedtest.PG, "PostgreSQL only: set SKED_TEST_PG (scripts/test does)")
class UpgradePostgres(UpgradeBase):
    backend = "postgres"


del UpgradeBase   # only the concrete backends are tests


if __name__ == "__main__":
    unittest.main()
