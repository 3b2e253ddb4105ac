"""Fault injection (issue 16): the store's file system fills during a burst of writes,
a read-only data directory, the clock stepped forward and back under load, and on
PostgreSQL backends terminated mid-transaction and a restart under load.  For each:
what was acknowledged is kept, refused requests change nothing and say why, nothing
runs twice, and the server goes on by itself once the fault is gone."""
import collections
import os
import subprocess
import time
import unittest

import skedtest
from skedtest import PG, SLOW, fixture, wait_for


class FaultBase(skedtest.ServerTest):
    def setup_type(self, srv, seconds=0.0):
        self.log = self.path("handler.log")
        srv.register_type(skedtest.command_type(
            "bb.fault", [skedtest.ensure_executable(fixture("sleeper.py")), self.log],
            params=[{"name": "seconds", "type": "number", "default": seconds}]))

    def all_series(self, srv):
        items, after = [], None
        while True:
            page = srv.get("/api/v1/series?limit=1000" + (f"&after={after}" if after else ""))
            items += page["items"]
            if not page.get("next"):
                return items
            after = page["next"]

    def fired(self, srv, series):
        return sum(srv.get(f"/api/v1/series/{s['id']}")["fired"] for s in series)

    def quiesce(self, srv, series):
        """Pauses the series and waits until nothing is queued or running."""
        for s in series:
            srv.post(f"/api/v1/series/{s['id']}/pause")
        wait_for(lambda: not [r for r in srv.runs() if r["state"] in ("queued", "running")], 60 * SLOW, 0.5,
                 "the runs to finish")

    def assert_nothing_ran_twice(self, srv):
        """Every idempotency key started by the handler belongs to a run of the store,
        at most once per attempt, and no occurrence succeeded twice."""
        runs = srv.runs()
        attempts = collections.Counter(r["idempotency_key"] for r in runs)
        succeeded = collections.Counter((r["series_id"], r["nominal"]) for r in runs if r["state"] == "succeeded")
        self.assertEqual([k for k, n in succeeded.items() if n > 1], [], "occurrences that succeeded twice")
        with open(self.log) as f:
            starts = collections.Counter(l.split()[0] for l in f.read().splitlines() if l.split()[2] == "start")
        self.assertEqual({k: n for k, n in starts.items() if n > attempts.get(k, 0)}, {},
                         "handler starts without a run of the store for each")
        return runs


@unittest.skipIf(PG, "SQLite's file system; PostgreSQL's disk is its server's")
@unittest.skipUnless(os.geteuid() == 0, "mounting a small file system needs root")
class DiskFull(FaultBase):
    def setUp(self):
        super().setUp()
        self.mnt = self.path("small")
        os.makedirs(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode:
            self.skipTest(f"cannot mount a tmpfs: {r.stderr.strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt], capture_output=True)

    def fill(self, leave):
        """Fills the file system up to `leave` bytes; returns the filler's path."""
        st = os.statvfs(self.mnt)
        free = st.f_bavail * st.f_frsize
        filler = os.path.join(self.mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - leave))
        return filler

    def test_a_full_disk_refuses_new_work_keeps_what_was_acknowledged_and_recovers(self):
        srv = self.start_server("small/data", workers=2)
        self.setup_type(srv)
        ticking = srv.create_series(type="bb.fault", schedule="every 1s", tz="UTC", title="ticking")
        filler = self.fill(256 * 1024)
        acked, refused = [], []
        for i in range(20000):
            status, hdrs, body = srv.api_full("POST", "/api/v1/series",
                                              {"type": "bb.fault", "schedule": "every 1h", "tz": "UTC",
                                               "title": f"burst {i} " + "x" * 180})
            if status == 201:
                acked.append((body["id"], body["title"]))
                continue
            refused.append((status, hdrs.get("Retry-After"), body))
            if len(refused) >= 3:
                break
        self.assertGreater(len(acked), 0, f"nothing fitted before the disk was full: {refused[:1]}")
        self.assertEqual(len(refused), 3, f"the disk never filled ({len(acked)} series created)")
        for status, retry_after, body in refused:
            self.assertProblem(status, body, 507)
            self.assertIn("full", body["detail"])
            self.assertIn("nothing was changed", body["detail"])
            self.assertEqual(retry_after, "10")
        self.assertTrue(srv.alive(), "the server ended on a full disk")
        # reads still answer while the disk is full
        self.assertEqual(srv.get(f"/api/v1/series/{ticking['id']}")["title"], "ticking")

        os.unlink(filler)  # space returns: the server goes on by itself, no restart

        def accepted():
            status, body = srv.api("POST", "/api/v1/series", {"type": "bb.fault", "schedule": "every 1h",
                                                              "tz": "UTC", "title": "after"})
            return body if status == 201 else None

        after = wait_for(accepted, 30, 0.5, "a write accepted once space returned")
        fired = srv.get(f"/api/v1/series/{ticking['id']}")["fired"]
        wait_for(lambda: srv.get(f"/api/v1/series/{ticking['id']}")["fired"] > fired, 20, 0.5,
                 "the ticking series to fire again")
        srv.stop()
        srv.start()
        kept = {s["id"]: s["title"] for s in self.all_series(srv)}
        self.assertEqual([a for a in acked if kept.get(a[0]) != a[1]], [], "acknowledged series lost")
        self.assertIn(after["id"], kept)
        # the three refused requests left nothing: every series is one we were told of
        self.assertEqual(sorted(kept), sorted([ticking["id"]] + [a[0] for a in acked] + [after["id"]]))
        srv.stop()
        srv.start()
        self.assert_nothing_ran_twice(srv)


@unittest.skipIf(PG, "SQLite's data directory")
@unittest.skipUnless(os.geteuid() == 0, "a read-only bind mount needs root")
class ReadOnlyDataDir(FaultBase):
    def test_a_read_only_data_directory_is_refused_at_start_with_its_name(self):
        srv = self.start_server("rw")
        self.setup_type(srv)
        sid = srv.create_series(type="bb.fault", schedule="every 1d", tz="UTC")["id"]
        srv.stop()
        ro = self.path("ro")
        os.makedirs(ro)
        for cmd in (["mount", "--bind", srv.data_dir, ro], ["mount", "-o", "remount,ro,bind", ro]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                self.skipTest(f"{' '.join(cmd)}: {r.stderr.strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", ro], capture_output=True)
        p = subprocess.run([skedtest.SKED, "serve", "--data-dir", ro, "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=30 * SLOW)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(ro, p.stderr)
        self.assertIn("Read-only file system", p.stderr)
        srv.start()  # the same directory, writable again: everything is there
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["id"], sid)


@unittest.skipIf(PG, "SQLite's fsync; PostgreSQL's is its server's")
class SlowFsync(FaultBase):
    """Every fsync of the server takes 250 ms longer (tests/faults/slowfsync.c, an
    LD_PRELOAD shim) while eight clients write at once: writes are acknowledged only
    once durable, many in one turn, reads answer meanwhile, and nothing is lost."""

    def test_slow_fsync_delays_writes_but_loses_nothing(self):
        import threading
        shim = os.path.join(skedtest.BUILD, "tests", "slowfsync.so")
        if not os.path.exists(shim):
            self.fail(f"{shim} not built (SKED_BUILD)")
        env = {"LD_PRELOAD": shim, "SKED_TEST_FSYNC_MS": "250",
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        srv = self.start_server(workers=2, env=env)
        self.setup_type(srv)
        ticking = srv.create_series(type="bb.fault", schedule="every 1s", tz="UTC", title="ticking")
        replies = []

        def client(k):
            for i in range(15):
                replies.append(srv.api("POST", "/api/v1/series", {"type": "bb.fault", "schedule": "every 1d",
                                                                  "tz": "UTC", "title": f"client {k} {i}"}))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        health = srv.get("/healthz")  # reads do not wait for the writer's fsync
        for t in threads:
            t.join(300 * SLOW)
        self.assertIn(health["status"], ("ok", "degraded"))
        statuses = collections.Counter(st for st, _ in replies)
        self.assertEqual(set(statuses) - {201, 503}, set(), f"replies: {statuses}")
        self.assertGreater(statuses[201], 60, f"replies: {statuses}")
        acked = {b["id"]: b["title"] for st, b in replies if st == 201}
        wait_for(lambda: srv.get(f"/api/v1/series/{ticking['id']}")["fired"] >= 2, 30 * SLOW, 0.5,
                 "the ticking series to fire")
        srv.kill9()  # acknowledged means durable: a crash right after loses none of it
        srv.env = None
        srv.start()
        kept = {x["id"]: x["title"] for x in self.all_series(srv)}
        self.assertEqual({k: v for k, v in acked.items() if kept.get(k) != v}, {}, "acknowledged series lost")


class ClockSteps(FaultBase):
    """The clock stepped forward an hour, back two hours and forward again while series
    fire every second and writes come in (`--clock-file`: the server's clock runs the
    file's number of seconds ahead of real time; the loop sees a change within its
    sleep).  Stepping back fires nothing again; stepping forward runs the missed
    occurrences by the catch-up policy (the default, `latest`: one run), each once."""

    def set_offset(self, seconds):
        with open(self.clock + ".tmp", "w") as f:
            f.write(f"{seconds}\n")
        os.replace(self.clock + ".tmp", self.clock)

    def test_clock_steps_under_load_lose_and_repeat_nothing(self):
        self.clock = self.path("clock")
        self.set_offset(0)
        srv = self.start_server(extra=("--clock-file", self.clock), workers=4)
        self.setup_type(srv)
        series = [srv.create_series(type="bb.fault", schedule="every 1s", tz="UTC", title=f"tick {i}")
                  for i in range(3)]
        made = []

        def phase(offset, what):
            self.set_offset(offset)
            made.append(srv.create_series(type="bb.fault", schedule="every 1d", tz="UTC", title=what)["id"])
            before = self.fired(srv, series)
            return before

        wait_for(lambda: self.fired(srv, series) >= 6, 20 * SLOW, 0.2, "the series to fire")
        before = phase(3600, "forward an hour")
        wait_for(lambda: self.fired(srv, series) > before + 3, 20 * SLOW, 0.2, "firing after the forward step")
        missed = sum(srv.get(f"/api/v1/series/{s['id']}")["missed"] for s in series)
        self.assertGreater(missed, 3 * 3000, "the hour jumped over counts as missed (catch-up latest)")
        before = phase(-3600, "back two hours")
        time.sleep(6 * SLOW)  # longer than the loop's longest sleep: it saw the step
        self.assertEqual(self.fired(srv, series), before, "a step back fired something (again)")
        before = phase(3610, "forward again")
        wait_for(lambda: self.fired(srv, series) > before + 3, 20 * SLOW, 0.2, "firing after the last step")
        self.quiesce(srv, series)
        runs = self.assert_nothing_ran_twice(srv)
        per = collections.Counter((r["series_id"], r["nominal"], r["attempt"]) for r in runs)
        self.assertEqual([k for k, n in per.items() if n > 1], [], "a nominal fired twice")
        for s in series:  # each series' runs in the order of their nominals
            mine = sorted((r["id"], r["nominal"]) for r in runs if r["series_id"] == s["id"])
            nominals = [n for _, n in mine]
            self.assertEqual(nominals, sorted(nominals), "a run for an earlier nominal after a later one")
        kept = {x["id"] for x in self.all_series(srv)}
        self.assertEqual([m for m in made if m not in kept], [], "a write acknowledged during a step was lost")
        self.assertTrue(srv.get("/healthz")["status"] in ("ok", "degraded"))


@unittest.skipUnless(PG, "PostgreSQL's faults (SKED_TEST_PG)")
class PostgresFaults(FaultBase):
    """PostgreSQL backends terminated mid-transaction (pg_terminate_backend, as an
    operator or a failover would) while writes come in and series fire."""

    def burst(self, srv, n, out):
        for i in range(n):
            status, body = srv.api("POST", "/api/v1/series", {"type": "bb.fault", "schedule": "every 1d",
                                                              "tz": "UTC", "title": f"burst {i}"})
            out.append((status, body))

    def start_load(self, srv, n):
        """Three series firing every second and a thread creating n series; returns
        (series, replies, thread)."""
        import threading
        self.setup_type(srv)
        series = [srv.create_series(type="bb.fault", schedule="every 1s", tz="UTC", title=f"tick {i}",
                                    policy={"overlap": "allow_all"}) for i in range(3)]
        replies = []
        t = threading.Thread(target=self.burst, args=(srv, n, replies))
        t.start()
        return series, replies, t

    def assert_recovered(self, srv, series, replies, fault):
        """After the fault: every reply was 201 or 503, the server writes and fires
        again by itself, every acknowledged series is kept and nothing ran twice."""
        statuses = collections.Counter(st for st, _ in replies)
        if os.environ.get("SKED_TEST_VERBOSE"):
            print(f" [{fault}: replies {dict(statuses)}]", end="")
        self.assertEqual(set(statuses) - {201, 503}, set(), f"replies: {statuses}, e.g. "
                         f"{[b for st, b in replies if st not in (201, 503)][:2]}")
        self.assertTrue(srv.alive())
        wait_for(lambda: srv.api("POST", "/api/v1/series", {"type": "bb.fault", "schedule": "every 1d",
                                                              "tz": "UTC"})[0] == 201, 30, 0.5,
                 f"a write accepted after {fault}")
        fired = self.fired(srv, series)
        wait_for(lambda: self.fired(srv, series) > fired + 3, 30 * SLOW, 0.5, f"the series to fire after {fault}")
        self.quiesce(srv, series)
        kept = {x["id"] for x in self.all_series(srv)}
        acked = [b["id"] for st, b in replies if st == 201]
        self.assertEqual([a for a in acked if a not in kept], [], "acknowledged series lost")
        self.assert_nothing_ran_twice(srv)

    def test_terminated_backends_lose_nothing_and_the_server_reconnects(self):
        srv = self.start_server(workers=4)
        series, replies, t = self.start_load(srv, 400)
        dbname = srv.db.rsplit("/", 1)[1].split("?")[0]
        killed = 0
        for _ in range(10):
            time.sleep(0.5)
            out = skedtest.psql(PG, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    f"WHERE datname = '{dbname}' AND pid <> pg_backend_pid()")
            killed += int(out.strip() or 0)
        t.join(120 * SLOW)
        self.assertGreater(killed, 0, "no backend was terminated")
        self.assert_recovered(srv, series, replies, f"{killed} backends terminated")

    def test_a_postgresql_restart_under_load_loses_nothing(self):
        """PostgreSQL stopped for a few seconds and started again (its own throwaway
        cluster, scripts/pgtmp) while writes come in and series fire."""
        here = os.path.dirname(os.path.abspath(__file__))
        pgtmp = os.path.join(here, "..", "..", "scripts", "pgtmp")
        cdir = self.path("pgcluster")
        os.makedirs(cdir)
        os.chmod(self.tmp, 0o755)
        uri = subprocess.run([pgtmp, "start", cdir], capture_output=True, text=True, check=True).stdout.strip()
        self.addCleanup(subprocess.run, [pgtmp, "stop", cdir], capture_output=True)
        srv = self.start_server(db=uri, workers=4)
        series, replies, t = self.start_load(srv, 300)
        time.sleep(1)
        subprocess.run([pgtmp, "stop", cdir], capture_output=True, check=True)
        time.sleep(3)
        subprocess.run([pgtmp, "restart", cdir], capture_output=True, check=True)
        t.join(180 * SLOW)
        self.assert_recovered(srv, series, replies, "the restart")


if __name__ == "__main__":
    unittest.main()
