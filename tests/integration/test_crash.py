"""The crash tests of DESIGN.md: `kill -9` a busy `sked serve`, restart it on the same
data directory, and check that every occurrence ran exactly once to success, with no
gap and no duplicate first attempt; the runs that were in flight at the kill are
`lost` and recovered by a new attempt.  Witnesses: the API, the store read directly
(the SQLite file while no server runs, or the PostgreSQL database) and the handlers'
own log.  On PostgreSQL a restarted node does not know that the runs still marked
`running` are orphans (another node could own them): they are recovered when their
lease (30 s) expires, so the waits here allow for it."""
import collections
import os
import time
import unittest

import skedtest
from skedtest import US, fixture, local_text, now_us, sleep_until, wait_for

LOOKAHEAD_US = 2 * US  # sked serve's default --lookahead


def expected_nominals(schedule, start_us, count):
    """The oracle: the instants of the rules used here, from their start."""
    if schedule.startswith("every "):
        step = int(schedule[6:-1]) * US
        return [start_us + i * step for i in range(count)]
    if schedule == "cron:*/2 * * * * *":
        first = start_us + (start_us // US) % 2 * US
        return [first + 2 * i * US for i in range(count)]
    if schedule == "cron:* * * * * *":
        return [start_us + i * US for i in range(count)]
    raise ValueError(schedule)


class CrashBase(skedtest.ServerTest):
    def note(self, fmt, *args):
        if os.environ.get("SKED_TEST_VERBOSE"):
            print(f"\n  [{self._testMethodName}] " + fmt % args, end="", flush=True)

    def setup_type(self, srv):
        self.log = self.path("handler.log")
        srv.register_type(skedtest.command_type(
            "bb.crash", [skedtest.ensure_executable(fixture("sleeper.py")), self.log],
            params=[{"name": "seconds", "type": "number", "default": 1.5}]))

    def create(self, srv, schedule, start_us, count, seconds):
        # every occurrence must run, also beside a recovered attempt still going: these
        # tests are about crashes, not the overlap policy (default skip)
        s = srv.create_series(type="bb.crash", schedule=schedule, start=local_text(start_us), count=count,
                              tz="UTC", params={"seconds": seconds}, policy={"overlap": "allow_all"})
        s["expected"] = expected_nominals(schedule, start_us, count)
        self.assertEqual(skedtest.parse_utc(s["next_due"]), s["expected"][0], s)
        return s

    def log_lines(self, what):
        """(key, nominal text) of every `what` ('start' or 'end') line of the log."""
        with open(self.log) as f:
            lines = [l.split() for l in f.read().splitlines()]
        return [(l[0], l[1]) for l in lines if l[2] == what]

    def log_starts(self):
        return self.log_lines("start")

    def wait_all_done(self, srv, series, timeout):
        """Until every expected nominal has a succeeded run and nothing is queued or
        running."""
        want = {(s["id"], n) for s in series for n in s["expected"]}

        def done():
            runs = srv.runs()
            if any(r["state"] in ("queued", "running") for r in runs):
                return None
            ok = {(r["series_id"], skedtest.parse_utc(r["nominal"])) for r in runs if r["state"] == "succeeded"}
            return runs if want <= ok else None

        return wait_for(done, timeout, 0.25, "every due occurrence to finish")

    def check_series(self, srv, series, runs):
        """(a) and (b): every nominal of every rule, from its first to its last, has
        its occurrence (no gap, none missed) and exactly one attempt-1 run and exactly
        one succeeded run; no run is for a nominal outside the rule."""
        by_nominal = collections.defaultdict(list)
        for r in runs:
            if r["trigger"] == "manual":
                continue
            by_nominal[(r["series_id"], skedtest.parse_utc(r["nominal"]))].append(r)
        want = {(s["id"], n) for s in series for n in s["expected"]}
        self.assertEqual(set(by_nominal) - want, set(), "runs for nominals outside the rules")
        for s in series:
            sid, exp = s["id"], s["expected"]
            occ = srv.occurrences(sid, skedtest.utc_text(exp[0]), skedtest.utc_text(exp[-1] + US))
            self.assertEqual([o["nominal"] for o in occ], exp, f"series {sid}: occurrences with a gap")
            bad = [o for o in occ if o["state"] != "succeeded"]
            self.assertEqual(bad, [], f"series {sid}: occurrences not succeeded")
            cur = srv.get(f"/api/v1/series/{sid}")
            self.assertEqual((cur["fired"], cur["missed"], cur["next_due"]), (len(exp), 0, None), cur)
            for n in exp:
                rs = by_nominal.get((sid, n), [])
                firsts = [r for r in rs if r["attempt"] == 1]
                self.assertEqual(len(firsts), 1, f"series {sid} nominal {n}: attempt-1 runs {firsts}")
                self.assertEqual(firsts[0]["trigger"], "schedule")
                ok = [r for r in rs if r["state"] == "succeeded"]
                self.assertEqual(len(ok), 1, f"series {sid} nominal {n}: succeeded runs {rs}")
                for o in occ:
                    if o["nominal"] == n:
                        self.assertEqual(o["run_id"], ok[0]["id"])
                # attempts of one nominal form a chain 1, 2, ... linked by next_attempt
                chain = sorted(rs, key=lambda r: r["attempt"])
                self.assertEqual([r["attempt"] for r in chain], list(range(1, len(chain) + 1)), chain)
                for a, b in zip(chain, chain[1:]):
                    self.assertEqual(a["next_attempt"], b["id"], chain)
                for r in chain:
                    self.assertEqual(skedtest.parse_key(r["idempotency_key"]), (sid, n, r["attempt"]))

    def check_log(self, runs):
        """(d): the handlers' own record.  No key (series:nominal:attempt) started
        twice, so no nominal started twice at attempt 1; every succeeded run started
        and ended exactly once; every other attempt-1 run started at most once (a run
        claimed just before a kill may not have reached its handler)."""
        starts = collections.Counter(k for k, _ in self.log_lines("start"))
        ends = collections.Counter(k for k, _ in self.log_lines("end"))
        twice = {k: c for k, c in starts.items() if c > 1}
        self.assertEqual(twice, {}, "a key (series:nominal:attempt) started twice")
        known = {r["idempotency_key"] for r in runs}
        self.assertEqual(set(starts) - known, set(), "handlers ran for keys no run has")
        for key, nominal_text in self.log_starts():
            self.assertEqual(skedtest.utc_text(skedtest.parse_key(key)[1]), nominal_text)
        for r in runs:
            if r["state"] == "succeeded":
                k = r["idempotency_key"]
                self.assertEqual((starts[k], ends[k]), (1, 1), f"succeeded run {r['id']} ({k})")


class Crash(CrashBase):
    def test_kill_9_with_runs_in_flight_and_occurrences_due(self):
        srv = self.start_server(workers=4)
        self.setup_type(srv)
        start = (now_us() // US + 2) * US
        plan = [  # schedule, count, handler seconds
            ("every 1s", 12, 0.2), ("every 1s", 12, 0.2),
            ("every 2s", 6, 1.5), ("every 2s", 6, 1.5), ("every 2s", 6, 0.2),
            ("cron:*/2 * * * * *", 6, 1.5), ("cron:*/2 * * * * *", 6, 1.5), ("cron:*/2 * * * * *", 6, 0.2),
            ("every 2s", 6, 0.2), ("cron:*/2 * * * * *", 6, 0.2),
        ]
        series = [self.create(srv, sched, start, count, secs) for sched, count, secs in plan]
        last_nominal = max(s["expected"][-1] for s in series)

        # ~6 s of work, then kill -9 while runs are in flight
        sleep_until(start + 5_600_000)
        wait_for(lambda: len(srv.runs(state="running")) >= 2, 10, 0.05, "runs in flight")
        srv.kill9()
        t_kill = now_us()
        self.assertLess(t_kill, last_nominal - 3 * US, "too slow to kill before the rules end")
        at_kill = srv.rows("SELECT id, series_id, nominal, attempt, state FROM runs")
        running_at_kill = {r["id"]: r for r in at_kill if r["state"] == "running"}
        self.assertTrue(running_at_kill, "no run was in flight at the kill")

        # down for ~3 s while occurrences fall due (well inside the 60 s catch-up window)
        time.sleep(3)
        due_while_down = [(s["id"], n) for s in series for n in s["expected"] if t_kill < n <= now_us()]
        self.assertTrue(due_while_down)
        self.note("in flight at the kill: %d runs, queued: %d; due while down: %d occurrences",
                  len(running_at_kill), len([r for r in at_kill if r["state"] == "queued"]), len(due_while_down))
        srv.start()
        runs = self.wait_all_done(srv, series, 90)
        self.assertEqual(srv.stop(), 0, srv.stderr()[-3000:])
        stored = srv.rows("SELECT id, state, attempt, next_attempt, trigger FROM runs ORDER BY id")

        # check through the API of a restarted server (all rules are exhausted: it
        # fires nothing new)
        srv.start()
        runs = srv.runs()
        self.note("%d runs, %d lost, %d handler starts", len(runs), len([r for r in runs if r["state"] == "lost"]),
                  len(self.log_starts()))
        self.assertEqual([(r["id"], r["state"], r["attempt"], r["next_attempt"], r["trigger"])
                          for r in sorted(runs, key=lambda r: r["id"])],
                         [(r["id"], r["state"], r["attempt"], r["next_attempt"], r["trigger"]) for r in stored],
                         "the API and the store disagree")
        self.check_series(srv, series, runs)

        # (c) the runs in flight at the kill are lost, each recovered by a new attempt
        # that succeeded; no other run is lost
        by_id = {r["id"]: r for r in runs}
        lost = {r["id"] for r in runs if r["state"] == "lost"}
        self.assertEqual(lost, set(running_at_kill), "lost runs are not those in flight at the kill")
        for rid in lost:
            r = by_id[rid]
            self.assertIn("interrupted", r["error"] or "")
            nxt = by_id.get(r["next_attempt"])
            self.assertIsNotNone(nxt, r)
            self.assertEqual((nxt["trigger"], nxt["attempt"], nxt["state"]), ("recovery", r["attempt"] + 1,
                                                                               "succeeded"), nxt)
            self.assertEqual((nxt["series_id"], nxt["nominal"]), (r["series_id"], r["nominal"]))
        # what was due while the server was down ran once, as attempt 1 (or as a recovery
        # of it: fired and claimed up to the 2 s look-ahead before its time, it may have
        # been in flight at the kill); beyond the look-ahead it was fired after the restart
        for sid, n in due_while_down:
            first = [r for r in runs if r["series_id"] == sid and skedtest.parse_utc(r["nominal"]) == n
                     and r["attempt"] == 1]
            self.assertEqual(len(first), 1)
            if n > t_kill + LOOKAHEAD_US:
                self.assertGreater(skedtest.parse_utc(first[0]["queued_at"]) + US, t_kill)
            else:
                self.assertIn(first[0]["state"], ("succeeded", "lost"), first[0])
        self.check_log(runs)
        self.assertEqual(srv.stop(), 0)

    def test_kill_9_idle_with_occurrences_due_while_down(self):
        # nothing fired ahead (--lookahead 0): the kill must find nothing in flight,
        # however slowly the first occurrences finish
        srv = self.start_server(workers=4, extra=("--lookahead", "0"))
        self.setup_type(srv)
        start = (now_us() // US + 2) * US
        series = [
            self.create(srv, "every 1s", start, 2, 0.1),                 # before the kill
            self.create(srv, "every 4s", start, 2, 0.1),                 # before and while down
            self.create(srv, "every 1s", start + 4 * US, 3, 0.1),        # while down
            self.create(srv, "cron:* * * * * *", start + 4 * US, 2, 0.1),  # while down
        ]
        before = {(s["id"], n) for s in series for n in s["expected"] if n < start + 2 * US}
        self.assertEqual(len(before), 3)

        def quiet():
            runs = srv.runs()
            ok = {(r["series_id"], skedtest.parse_utc(r["nominal"])) for r in runs if r["state"] == "succeeded"}
            return before <= ok and not [r for r in runs if r["state"] in ("queued", "running")]

        wait_for(quiet, 20, 0.05, "the first occurrences to finish")
        srv.kill9()
        t_kill = now_us()
        self.assertLess(t_kill, start + 4 * US, "too slow: the kill came after the next occurrences")
        at_kill = srv.rows("SELECT id, state FROM runs")
        self.assertEqual([r for r in at_kill if r["state"] not in ("succeeded",)], [], "runs in flight at the kill")
        self.assertEqual(len(at_kill), 3)

        sleep_until(start + 7_500_000)   # the later occurrences all fall due while down
        srv.start()
        runs = self.wait_all_done(srv, series, 60)
        self.assertEqual(srv.stop(), 0, srv.stderr()[-3000:])
        srv.start()
        runs = srv.runs()
        self.check_series(srv, series, runs)
        # exactly once: one run per nominal, attempt 1, scheduled, succeeded; none lost
        self.assertEqual(len(runs), sum(len(s["expected"]) for s in series))
        self.assertEqual({(r["attempt"], r["trigger"], r["state"]) for r in runs}, {(1, "schedule", "succeeded")})
        self.check_log(runs)
        self.assertEqual(sorted(k for k, _ in self.log_starts()), sorted(r["idempotency_key"] for r in runs))
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
