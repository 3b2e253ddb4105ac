"""A cluster of `sked serve` nodes on one PostgreSQL database (issue 4), tested from the
outside with real processes: kill -9 of the node holding the poller role and then of a
worker node under load, and a database outage (the network cut between the nodes and
the database).  Skipped unless SKED_TEST_PG names a throwaway cluster; the outage test
also needs SKED_TEST_PG_DIR (the cluster's directory, see scripts/pgtmp) to stop and
start it.

Witnesses: the API of the surviving nodes, the database read with psql, and the
handlers' own log: a /bin/sh handler appends "RUN_ID KEY PPID start|end" (PPID: the
pid of the sked node that spawned it) to one file, with O_APPEND, so the order of its
lines is the order of the events."""
import collections
import json
import os
import signal
import subprocess
import time
import unittest

import skedtest
from skedtest import US, local_text, now_us, sleep_until, wait_for


HANDLER = """#!/bin/sh
# usage: witness.sh LOG SECONDS
echo "$SKED_RUN_ID $SKED_IDEMPOTENCY_KEY $PPID start" >> "$1"
[ "$2" = 0 ] || sleep "$2"
echo "$SKED_RUN_ID $SKED_IDEMPOTENCY_KEY $PPID end" >> "$1"
"""


def as_cluster_owner(argv):
    """PostgreSQL refuses to run as root: scripts/pgtmp owns the cluster by skedpg."""
    return (["runuser", "-u", "skedpg", "--"] + argv) if os.geteuid() == 0 else argv


@unittest.skipUnless(skedtest.PG, "PostgreSQL only: set SKED_TEST_PG (scripts/test does)")
class ClusterBase(skedtest.ServerTest):
    def note(self, fmt, *args):
        if os.environ.get("SKED_TEST_VERBOSE"):
            print(f"\n  [{self._testMethodName}] " + fmt % args, end="", flush=True)

    def setup_types(self, srv, series_seconds):
        self.log = self.path("handler.log")
        script = self.path("witness.sh")
        with open(script, "w") as f:
            f.write(HANDLER)
        os.chmod(script, 0o755)
        srv.register_type(skedtest.command_type("bb.tick", [script, self.log, str(series_seconds)]))
        srv.register_type(skedtest.command_type("bb.job", [script, self.log, "0"]))

    def log_events(self):
        """[(run id, key, ppid, 'start'|'end')] in the order they happened."""
        with open(self.log) as f:
            out = []
            for line in f.read().splitlines():
                p = line.split()
                self.assertEqual(len(p), 4, f"torn log line {line!r}")
                out.append((int(p[0]), p[1], int(p[2]), p[3]))
            return out

    def create_series(self, nodes, plan, start_us):
        """plan: [(schedule 'every Ns', count)]; spread over the nodes' APIs.  Returns
        the series with their expected nominals."""
        out = []
        for i, (schedule, count) in enumerate(plan):
            srv = nodes[i % len(nodes)]
            # every occurrence must run (crash and outage semantics, not the overlap policy)
            s = srv.create_series(type="bb.tick", schedule=schedule, start=local_text(start_us), count=count,
                                  tz="UTC", params={}, policy={"overlap": "allow_all"})
            step = int(schedule[6:-1]) * US
            s["expected"] = [start_us + k * step for k in range(count)]
            out.append(s)
        return out

    def wait_all_done(self, srv, series, n_oneoff, timeout):
        want = {(s["id"], n) for s in series for n in s["expected"]}

        def done():
            rows = srv.rows("SELECT series_id, nominal, state FROM runs")
            if any(r["state"] in ("queued", "running") for r in rows):
                return None
            ok = {(r["series_id"], r["nominal"]) for r in rows if r["state"] == "succeeded" and r["series_id"]}
            oneoff = sum(1 for r in rows if r["state"] == "succeeded" and r["series_id"] is None)
            return rows if want <= ok and oneoff >= n_oneoff else None

        try:
            return wait_for(done, timeout, 0.5, "every due occurrence and queued run to finish")
        except AssertionError as e:
            rows = srv.rows("SELECT series_id, nominal, state, node, attempt FROM runs")
            states = collections.Counter((r["state"], r["node"]) for r in rows)
            ok = {(r["series_id"], r["nominal"]) for r in rows if r["state"] == "succeeded" and r["series_id"]}
            missing = sorted(want - ok)
            raise AssertionError(f"{e}\nruns by (state, node): {dict(states)}\n{len(missing)} occurrences without "
                                 f"a succeeded run, first: {missing[:10]}") from None

    def check_series(self, srv, series, runs):
        """Every nominal of every rule, from its first to its last, has its occurrence
        (no gap), exactly one attempt-1 run (fired once) and exactly one succeeded run;
        no run for a nominal outside the rules."""
        by_nominal = collections.defaultdict(list)
        for r in runs:
            if r["series_id"] is not None:
                by_nominal[(r["series_id"], skedtest.parse_utc(r["nominal"]))].append(r)
        want = {(s["id"], n) for s in series for n in s["expected"]}
        self.assertEqual(set(by_nominal) - want, set(), "runs for nominals outside the rules")
        for s in series:
            sid, exp = s["id"], s["expected"]
            occ = srv.occurrences(sid, skedtest.utc_text(exp[0]), skedtest.utc_text(exp[-1] + US))
            self.assertEqual([o["nominal"] for o in occ], exp, f"series {sid}: a gap")
            self.assertEqual([o for o in occ if o["state"] != "succeeded"], [], f"series {sid}: not succeeded")
            cur = srv.get(f"/api/v1/series/{sid}")
            self.assertEqual((cur["fired"], cur["missed"], cur["next_due"]), (len(exp), 0, None), cur)
            for n in exp:
                rs = sorted(by_nominal.get((sid, n), []), key=lambda r: r["attempt"])
                self.assertEqual([(r["attempt"], r["trigger"]) for r in rs if r["attempt"] == 1], [(1, "schedule")],
                                 f"series {sid} nominal {n}: fired {rs}")
                self.assertEqual(len([r for r in rs if r["state"] == "succeeded"]), 1,
                                 f"series {sid} nominal {n}: succeeded runs {rs}")
                self.check_chain(rs)

    def check_chain(self, chain):
        """Attempts 1, 2, ... linked by next_attempt; every attempt but the last is
        lost (the only failure these handlers have) and the next is a recovery; the
        last succeeded."""
        self.assertEqual([r["attempt"] for r in chain], list(range(1, len(chain) + 1)), chain)
        for a, b in zip(chain, chain[1:]):
            self.assertEqual((a["state"], a["next_attempt"], b["trigger"]), ("lost", b["id"], "recovery"), chain)
        self.assertEqual(chain[-1]["state"], "succeeded", chain)

    def check_log(self, runs, node_pids):
        """No run id started twice; every succeeded run started and ended once, on the
        node the store says ran it; attempts of one occurrence never overlap (each
        starts after the previous one's handler ended)."""
        events = self.log_events()
        by_id = {r["id"]: r for r in runs}
        starts = collections.Counter(rid for rid, _, _, what in events if what == "start")
        ends = collections.Counter(rid for rid, _, _, what in events if what == "end")
        self.assertEqual({k: c for k, c in starts.items() if c > 1}, {}, "a run id started twice")
        self.assertEqual(set(starts) - set(by_id), set(), "handlers ran for runs that do not exist")
        for rid, key, ppid, what in events:
            r = by_id[rid]
            self.assertEqual(key, r["idempotency_key"], r)
            if ppid == 1:
                # the handler's shell was orphaned: its node was killed (kill -9) before the
                # shell read its parent's pid, or while it ran.  Only a run its node did
                # not finish can be in that state.
                self.assertEqual(r["state"], "lost", f"run {rid}: handler orphaned, but the run is {r['state']}")
                continue
            self.assertEqual(node_pids.get(r["node"]), ppid, f"run {rid} ran on pid {ppid}, the store says {r['node']}")
        for r in runs:
            if r["state"] == "succeeded":
                self.assertEqual((starts[r["id"]], ends[r["id"]]), (1, 1), f"succeeded run {r}")
            else:
                self.assertLessEqual(starts[r["id"]], 1, r)
        # attempts of one occurrence (or one queued run) in log order: start(k) ... end(k)
        # before start(k+1)
        root = {}
        for r in sorted(runs, key=lambda r: r["attempt"]):
            root[r["id"]] = root.get(r["id"], r["id"])
            if r["next_attempt"]:
                root[r["next_attempt"]] = root[r["id"]]
        open_by_root = {}
        for rid, _, _, what in events:
            g = root[rid]
            if what == "start":
                self.assertNotIn(g, open_by_root,
                                 f"run {rid} started while attempt run {open_by_root.get(g)} of the same "
                                 f"occurrence was still running")
                open_by_root[g] = rid
            elif open_by_root.get(g) == rid:
                del open_by_root[g]

    def node_pids(self, nodes):
        return {s.node: s.proc.pid for s in nodes}

    def nodes_view(self, srv):
        rc, out, err = srv.cli("nodes", "--json")
        self.assertEqual(rc, 0, err)
        return {n["name"]: n for n in json.loads(out)["items"]}

    def poller_of(self, srv, alive_nodes):
        """The name of the one live node that has the poller role, per `sked nodes`."""
        view = self.nodes_view(srv)
        pollers = [n for n, v in view.items() if v["role"] == "poller" and v["alive"] and n in alive_nodes]
        return pollers[0] if len(pollers) == 1 else None


class Cluster(ClusterBase):
    def test_kill_9_poller_then_worker_under_load(self):
        nodes = self.start_cluster(3, workers=16)
        a = nodes[0]
        self.setup_types(a, 0.1)
        names = {s.node for s in nodes}
        self.assertEqual(set(self.nodes_view(a)), names)
        wait_for(lambda: self.poller_of(a, names), 15, 0.2, "one node with the poller role")

        start = (now_us() // US + 4) * US
        # 200 series, 150 occurrences per second, for 16 s
        plan = [("every 1s", 16)] * 100 + [("every 2s", 8)] * 100
        series = self.create_series(nodes, plan, start)
        due = sum(len(s["expected"]) for s in series)
        # and 2,400 one-off runs, queued through the three nodes
        n_oneoff = 0
        for i, srv in enumerate(nodes):
            body = srv.post("/api/v1/runs", {"type": "bb.job", "params": {}, "count": 800}, expect=(202,))
            self.assertEqual((body["count"], len(body["ids"])), (800, 800), body)
            n_oneoff += 800
        self.note("%d series (%d occurrences), %d one-off runs", len(series), due, n_oneoff)

        kill_times = []

        def kill_with_runs_in_flight(victim):
            # Stopped (SIGSTOP) first, so that what is running on it cannot change
            # between the look and the kill: runs of 0.1 s seen running a moment ago
            # may all have ended by the kill (seen so, under load).  Let go again and
            # looked at once more while nothing is in flight at the stop.
            running = f"SELECT id FROM runs WHERE state = 'running' AND node = '{victim.node}'"
            deadline = time.monotonic() + 10
            while True:
                wait_for(lambda: victim.rows(running), 10, 0.05, f"runs in flight on {victim.node}")
                os.kill(victim.proc.pid, signal.SIGSTOP)
                time.sleep(0.5)   # a commit it sent just before stopping is visible by now
                held = {r["id"] for r in a.rows(running)}
                if held or time.monotonic() > deadline:
                    break
                os.kill(victim.proc.pid, signal.SIGCONT)
            victim.kill9()
            kill_times.append(now_us())
            return held

        pids = self.node_pids(nodes)
        sleep_until(start + 5 * US)
        poller_name = self.poller_of(a, names)
        self.assertIsNotNone(poller_name)
        poller = [s for s in nodes if s.node == poller_name][0]
        lost_expected = kill_with_runs_in_flight(poller)
        t_kill1 = kill_times[0]
        alive = [s for s in nodes if s is not poller]
        self.assertTrue(lost_expected, "no run was in flight on the poller at the kill")
        self.assertLess(t_kill1, series[0]["expected"][-1] - 6 * US, "too slow: the kill came after the rules")

        # the role moves to a survivor within seconds
        new_poller = wait_for(lambda: self.poller_of(alive[0], {s.node for s in alive}), 10, 0.2,
                              "another node to take the poller role")
        self.note("poller %s killed with %d runs in flight; %s took the role after %.1f s", poller_name,
                  len(lost_expected), new_poller, (now_us() - t_kill1) / US)
        sleep_until(t_kill1 + 4 * US)
        worker = [s for s in alive if s.node != new_poller][0]
        lost_worker = kill_with_runs_in_flight(worker)
        self.assertTrue(lost_worker, "no run was in flight on the worker at the kill")
        lost_expected |= lost_worker
        survivor = [s for s in alive if s is not worker][0]
        self.note("worker %s killed with %d runs in flight", worker.node, len(lost_worker))

        # the survivor fires the rest, runs the queue and, after the leases (30 s)
        # expire, recovers the dead nodes' runs
        self.wait_all_done(survivor, series, n_oneoff, 100)
        self.assertTrue(survivor.alive(), survivor.stderr()[-3000:])
        runs = survivor.runs()
        self.note("%d runs, %d lost, %d log lines", len(runs), len([r for r in runs if r["state"] == "lost"]),
                  len(self.log_events()))
        stored = survivor.rows("SELECT id, state, attempt, next_attempt, trigger, node FROM runs ORDER BY id")
        self.assertEqual([(r["id"], r["state"], r["attempt"], r["next_attempt"], r["trigger"], r["node"])
                          for r in sorted(runs, key=lambda r: r["id"])],
                         [(r["id"], r["state"], r["attempt"], r["next_attempt"], r["trigger"], r["node"])
                          for r in stored], "the API and the database disagree")

        self.check_series(survivor, series, runs)
        # every one-off run: one chain ending in success
        oneoff = [r for r in runs if r["series_id"] is None]
        firsts = [r for r in oneoff if r["attempt"] == 1]
        self.assertEqual(len(firsts), n_oneoff)
        by_id = {r["id"]: r for r in runs}
        for r in firsts:
            chain = [r]
            while chain[-1]["next_attempt"]:
                chain.append(by_id[chain[-1]["next_attempt"]])
            self.check_chain(chain)
        self.assertEqual(len(oneoff), sum(1 for r in oneoff if r["attempt"] == 1) +
                         sum(1 for r in oneoff if r["trigger"] == "recovery"))

        # the runs in flight on the dead nodes, and only those, are lost and recovered
        # by a successful attempt on a live node
        lost = {r["id"] for r in runs if r["state"] == "lost"}
        self.assertEqual(lost, lost_expected, "lost runs are not those in flight on the killed nodes")
        for rid in lost:
            r = by_id[rid]
            self.assertIn(r["node"], (poller.node, worker.node))
            self.assertIn("interrupted", r["error"] or "", r)
            nxt = by_id[r["next_attempt"]]
            self.assertEqual((nxt["trigger"], nxt["attempt"], nxt["state"]),
                             ("recovery", r["attempt"] + 1, "succeeded"), nxt)
            self.assertEqual((nxt["series_id"], nxt["nominal"]), (r["series_id"], r["nominal"]))
        # work was shared: every node ran something
        self.assertEqual({r["node"] for r in runs if r["state"] == "succeeded"} | {r["node"] for r in runs
                                                                                 if r["state"] == "lost"}, names)
        self.check_log(runs, pids)

        # the poller role moved, and `sked nodes` shows the dead as dead
        view = wait_for(lambda: (lambda v: v if not v[poller.node]["alive"] and not v[worker.node]["alive"]
                                 else None)(self.nodes_view(survivor)), 20, 0.5, "the dead nodes to show dead")
        self.assertEqual((view[survivor.node]["role"], view[survivor.node]["alive"]), ("poller", True), view)
        self.assertEqual(new_poller, survivor.node)
        self.assertNotEqual(new_poller, poller.node)
        self.assertEqual(view[survivor.node]["pid"], survivor.proc.pid)
        self.assertEqual(survivor.stop(), 0, survivor.stderr()[-3000:])


class NetworkCut(ClusterBase):
    def pg_ctl(self, *args):
        data = os.path.join(os.environ["SKED_TEST_PG_DIR"], "data")
        p = subprocess.run(as_cluster_owner([skedtest.pg_bin("pg_ctl"), "-D", data, *args]), capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, f"pg_ctl {args}: {p.stdout}{p.stderr}")

    def db_start(self):
        self.pg_ctl("-l", os.path.join(os.environ["SKED_TEST_PG_DIR"], "log"), "-w", "-t", "60", "start")

    def db_ensure_started(self):
        data = os.path.join(os.environ["SKED_TEST_PG_DIR"], "data")
        p = subprocess.run(as_cluster_owner([skedtest.pg_bin("pg_ctl"), "-D", data, "status"]), capture_output=True)
        if p.returncode != 0:
            self.db_start()

    def outage(self, seconds):
        """Stops the database (every connection is cut, nothing answers on its port)
        for `seconds`, then starts it again on the same port.  Returns (down, up)."""
        self.addCleanup(self.db_ensure_started)
        self.pg_ctl("-m", "fast", "-w", "stop")
        t_down = now_us()
        time.sleep(seconds)
        self.db_start()
        return t_down, now_us()

    def burst(self, srv, n=16):
        """n concurrent GET /api/v1/series/... (more than the server's 4 HTTP threads):
        [(status, body)]."""
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            return list(ex.map(lambda _: srv.api("GET", "/api/v1/series?limit=1"), range(n)))

    def drain_stale_connections(self, srv):
        # Belt and braces: wait until a burst of requests all succeed before checking
        # state through the API (test_every_http_thread_answers_after_an_outage checks
        # that the first burst already does).
        wait_for(lambda: all(st == 200 for st, _ in self.burst(srv)), 20, 0.2,
                 f"{srv.node}: a burst of API requests all answered")

    @unittest.skipUnless(os.environ.get("SKED_TEST_PG_DIR"), "needs SKED_TEST_PG_DIR to stop the database")
    def test_every_http_thread_answers_after_an_outage(self):
        # After the database was down and came back, every HTTP thread's connection
        # died during the outage; libpq reports it as fine until a query fails on it.
        # Outside a transaction the store reconnects and sends the query once more, so
        # no request sees the dead connection: 16 concurrent requests all answer 200.
        srv = self.start_server(workers=1)
        for _ in range(3):   # every HTTP thread has used its connection
            self.assertEqual([st for st, _ in self.burst(srv)], [200] * 16)
        self.outage(2)
        wait_for(lambda: srv.api("GET", "/api/v1/series?limit=1")[0] == 200, 20, 0.2, "the API to answer")
        time.sleep(1)
        got = self.burst(srv)
        self.assertEqual([st for st, _ in got], [200] * 16, [b for st, b in got if st != 200][:1])

    @unittest.skipUnless(os.environ.get("SKED_TEST_PG_DIR"), "needs SKED_TEST_PG_DIR to stop the database")
    def test_database_outage_nodes_reconnect_and_nothing_is_lost(self):
        nodes = self.start_cluster(3, workers=4)
        a = nodes[0]
        self.setup_types(a, 0.2)
        names = {s.node for s in nodes}
        wait_for(lambda: self.poller_of(a, names), 15, 0.2, "one node with the poller role")
        start = (now_us() // US + 2) * US
        plan = [("every 1s", 20)] * 20 + [("every 2s", 10)] * 10
        series = self.create_series(nodes, plan, start)
        wait_for(lambda: len(a.runs(state="succeeded")) >= 40, 15, 0.2, "the series to run")

        # the outage: every connection is cut, nothing answers on the port for ~5 s
        sleep_until(start + 4 * US)
        t_down, t_up = self.outage(5)
        due_while_down = [(s["id"], n) for s in series for n in s["expected"] if t_down < n <= t_up]
        self.assertTrue(all(s.alive() for s in nodes), "a node died with its database")
        self.note("database down for %.1f s; %d occurrences fell due meanwhile", (t_up - t_down) / US,
                  len(due_while_down))
        self.assertGreaterEqual(len(due_while_down), 100)

        # every node's API answers again by itself, and the poller fires again
        for s in nodes:
            wait_for(lambda: s.api("GET", "/api/v1/series?limit=1")[0] == 200, 20, 0.2,
                     f"{s.node}'s API to answer after the outage")
        wait_for(lambda: a.rows(f"SELECT 1 FROM runs WHERE queued_at > {t_up} LIMIT 1"), 20, 0.2,
                 "the poller to fire after the outage")
        for s in nodes:
            self.drain_stale_connections(s)
        wait_for(lambda: self.poller_of(a, names), 15, 0.2, "a node to hold the poller role again")

        self.wait_all_done(a, series, 0, 60)
        self.assertTrue(all(s.alive() for s in nodes), [s.stderr()[-2000:] for s in nodes if not s.alive()])
        runs = a.runs()
        # nothing lost, nothing doubled: one run per occurrence, first attempt, succeeded
        self.check_series(a, series, runs)
        self.assertEqual(len(runs), sum(len(s["expected"]) for s in series))
        self.assertEqual({(r["attempt"], r["trigger"], r["state"]) for r in runs}, {(1, "schedule", "succeeded")})
        by_occ = {(r["series_id"], skedtest.parse_utc(r["nominal"])): r for r in runs}
        for occ in due_while_down:
            r = by_occ[occ]
            self.assertGreaterEqual(skedtest.parse_utc(r["queued_at"]) + US, t_up, r)
        self.check_log(runs, self.node_pids(nodes))
        view = self.nodes_view(a)
        self.assertTrue(all(view[n]["alive"] for n in names), view)
        for s in nodes:
            self.assertEqual(s.stop(), 0, s.stderr()[-3000:])


if __name__ == "__main__":
    unittest.main()
