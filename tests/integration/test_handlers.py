"""Black-box tests of the handlers: command types (line protocol, stdin and SKED_*
environment, exit codes, retries, timeouts that kill the whole process group,
concurrency limits) and plug-in types (the example plug-in), through a real
`sked serve`."""
import json
import os
import time
import unittest

import skedtest
from skedtest import fixture, pid_gone, wait_for

# A schedule that never fires during a test: runs come from `trigger` only.
MANUAL = "cron:0 0 1 1 *"


class CommandHandler(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=4, env={"SKED_SECRET_OF_SERVER": "do-not-leak"})

    def test_runs_and_logs_every_kind_of_line(self):
        srv = self.srv
        record = self.path("record.json")
        srv.register_type({
            "name": "bb.echo",
            "handler": {"command": [skedtest.ensure_executable(fixture("echo_run.py")), record],
                        "env": {"BB_EXTRA": "from-manifest"}},
            "params": [{"name": "who", "type": "string", "default": "world"},
                       {"name": "exit", "type": "int", "default": 0}],
            "query_fields": [{"name": "region", "type": "enum", "values": ["eu", "us"]}],
        })
        # "every 1h" is anchored at creation (rounded up to the second): it fires once,
        # right away, as a scheduled run
        series = srv.create_series(type="bb.echo", schedule="every 1h", params={"who": "ops"},
                                   query='region = "eu"')
        runs = wait_for(lambda: srv.runs(series=series["id"]), 20, what="a scheduled run")
        run = srv.wait_run(runs[0]["id"])
        self.assertEqual(run["state"], "succeeded", run)
        self.assertEqual(run["trigger"], "schedule")
        self.assertEqual(run["attempt"], 1)
        self.assertEqual(run["exit_code"], 0)
        self.assertIsNone(run["error"])
        self.assertEqual(run["progress"], 100)

        msgs = srv.messages(run["id"])
        by_text = {m["text"]: m["level"] for m in msgs}
        self.assertEqual(by_text.get("info line from the handler"), "info", msgs)
        self.assertEqual(by_text.get("warning line from the handler"), "warning", msgs)
        self.assertEqual(by_text.get("error line from the handler"), "error", msgs)
        self.assertEqual(by_text.get("a plain line becomes info"), "info", msgs)
        self.assertEqual(by_text.get("a line on stderr"), "warning", msgs)
        # protocol lines are consumed, not logged; a bad progress value is a warning
        self.assertFalse([m for m in msgs if m["text"].startswith("::progress::40")], msgs)
        self.assertTrue([m for m in msgs if m["level"] == "warning" and "lots" in m["text"]], msgs)
        # a result without a key is refused with an error message, not stored
        self.assertTrue([m for m in msgs if m["level"] == "error" and "key" in m["text"]
                         and "::result::" in m["text"]], msgs)
        results = srv.results(run["id"])
        self.assertEqual([(r["key"], r["status"], r.get("data")) for r in results],
                         [("first", "ok", {"attempt": 1}), ("second", "skipped", None)])
        counts = run["counts"]
        self.assertEqual(counts["results"], 2, run)
        self.assertEqual(counts["error"], 2, run)     # ::error:: and the bad result line
        self.assertEqual(counts["warning"], 3, run)   # ::warning::, stderr, bad progress
        self.assertEqual(counts["info"], 2, run)

        # what the program was given
        with open(record) as f:
            got = json.load(f)
        env, stdin = got["env"], got["stdin"]
        self.assertEqual(env["SKED_RUN_ID"], str(run["id"]))
        self.assertEqual(env["SKED_SERIES_ID"], str(series["id"]))
        self.assertEqual(env["SKED_TYPE"], "bb.echo")
        self.assertEqual(env["SKED_ATTEMPT"], "1")
        self.assertEqual(env["SKED_IDEMPOTENCY_KEY"], run["idempotency_key"])
        self.assertEqual(env["SKED_NOMINAL"], run["nominal"])
        self.assertEqual(json.loads(env["SKED_PARAMS"]), {"who": "ops", "exit": 0})
        self.assertEqual(env["BB_EXTRA"], "from-manifest")
        self.assertNotIn("SKED_SECRET_OF_SERVER", env, "the server's environment leaked to the handler")
        self.assertNotIn("SKED_TOKEN", env)
        self.assertEqual(stdin["params"], {"who": "ops", "exit": 0})
        self.assertIsNotNone(stdin["query"])
        self.assertIn("eu", json.dumps(stdin["query"]))
        r = stdin["run"]
        self.assertEqual(r["id"], run["id"])
        self.assertEqual(r["series_id"], series["id"])
        self.assertEqual(r["type"], "bb.echo")
        self.assertEqual(r["attempt"], 1)
        self.assertEqual(r["idempotency_key"], run["idempotency_key"])
        self.assertEqual(r["nominal"], run["nominal"])
        self.assertEqual(r["trigger"], "schedule")
        # documented in docs/command-handler.md: when it was due to start
        self.assertEqual(r.get("scheduled_for"), run["not_before"], r)
        # the idempotency key is series:nominal:attempt
        self.assertEqual(skedtest.parse_key(run["idempotency_key"]),
                         (series["id"], skedtest.parse_utc(run["nominal"]), 1))

    def test_start_errors_name_argv0(self):
        srv = self.srv
        noshebang = self.path("noshebang.sh")
        with open(noshebang, "w") as f:
            f.write("echo hi\n")
        os.chmod(noshebang, 0o755)
        cases = [
            ("bb.missing", {"command": ["/nonexistent/prog"]}, ["/nonexistent/prog", "no such file"]),
            ("bb.nopath", {"command": ["no-such-prog-xyz"]}, ["no-such-prog-xyz", "not found in PATH"]),
            ("bb.noshebang", {"command": [noshebang]}, [noshebang, "#!"]),
            ("bb.workdir", {"command": ["/bin/true"], "workdir": "/nonexistent-dir"}, ["workdir", "/nonexistent-dir"]),
        ]
        for name, handler, needles in cases:
            with self.subTest(type=name):
                srv.register_type({"name": name, "handler": handler})
                series = srv.create_series(type=name, schedule=MANUAL)
                run = srv.wait_run(srv.trigger(series["id"])["id"])
                self.assertEqual(run["state"], "failed", run)
                self.assertIsNone(run["exit_code"], "a start error is not an exit status (no mysterious 127)")
                self.assertIsNone(run["next_attempt"])
                for n in needles:
                    self.assertIn(n, run["error"] or "", run)

    def test_cut_line_says_so(self):
        # BUG: docs/command-handler.md: "a line longer than 64 KiB is cut; the message
        # ends with `[line cut: N more bytes dropped]`".  command.c emit() cuts the line
        # at max_line (64 KiB) and appends that marker, but post_message() in
        # src/engine/run.c then cuts every message at MAX_MESSAGE_BYTES (also 64 KiB)
        # and appends "…", so the marker is always lost: a 100000-byte line is stored as
        # 65536 'x' + "…".
        srv = self.srv
        srv.register_type(skedtest.command_type(
            "bb.longline", ["/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\000' x; echo; echo after"]))
        series = srv.create_series(type="bb.longline", schedule=MANUAL)
        run = srv.wait_run(srv.trigger(series["id"])["id"])
        self.assertEqual(run["state"], "succeeded", run)
        msgs = srv.messages(run["id"])
        self.assertEqual([m["text"] for m in msgs][-1:], ["after"])
        self.assertTrue(msgs[0]["text"].startswith("x" * 1000))
        self.assertRegex(msgs[0]["text"], r"\[line cut: \d+ more bytes dropped\]$")

    def test_progress_is_visible_while_running(self):
        srv = self.srv
        release = self.path("release")
        srv.register_type(skedtest.command_type(
            "bb.progress", [skedtest.ensure_executable(fixture("progress.sh")), release]))
        series = srv.create_series(type="bb.progress", schedule=MANUAL)
        run = srv.trigger(series["id"])
        try:
            seen = wait_for(lambda: (lambda r: r if r["progress"] == 40 else None)(srv.run(run["id"])), 20,
                            0.05, "progress 40 while running")
            self.assertEqual(seen["state"], "running")
            rc, out, err = srv.cli("runs", "show", str(run["id"]))
            self.assertRegex(out, r"(?m)^progress\s+40$")
        finally:
            open(release, "w").close()
        done = srv.wait_run(run["id"])
        self.assertEqual((done["state"], done["progress"]), ("succeeded", 100), done)

    def test_every_run_has_its_own_idempotency_key(self):
        # BUG: since the key became SERIES:NOMINAL-as-UTC-text:ATTEMPT (store_run_insert()
        # in src/store/store.c formats the nominal with time_format_utc, whole seconds),
        # a manual run, whose nominal is the trigger instant in microseconds
        # (engine_series_trigger()), gets the same key as every other manual run of the
        # same series in the same second, and as the scheduled occurrence of that second.
        # Seen: runs 2 (schedule), 3, 4, 5 (manual) all keyed "1:2026-11-22T01:01:37Z:1".
        # A handler that dedupes on SKED_IDEMPOTENCY_KEY, as docs/command-handler.md asks,
        # skips the work of the later runs.  Expected: distinct runs (not attempts of the
        # same occurrence redelivered) have distinct keys.
        srv = self.srv
        srv.register_type(skedtest.command_type("bb.key", ["/bin/true"]))
        series = srv.create_series(type="bb.key", schedule="every 1s")
        wait_for(lambda: len(srv.runs(series=series["id"], state="succeeded")) >= 2, 20, what="scheduled runs")
        # three triggers well inside one second: at least two share a second, and every
        # second has a scheduled occurrence
        ids = [srv.trigger(series["id"])["id"] for _ in range(3)]
        for i in ids:
            srv.wait_run(i)
        runs = srv.runs(series=series["id"])
        keys = {}
        for r in runs:
            keys.setdefault(r["idempotency_key"], []).append((r["id"], r["trigger"]))
        self.assertEqual({k: v for k, v in keys.items() if len(v) > 1}, {}, "runs sharing a key")

    def test_timeout_kills_the_whole_process_group(self):
        srv = self.srv
        pidfile = self.path("pids")
        srv.register_type(skedtest.command_type(
            "bb.timeout", [skedtest.ensure_executable(fixture("timeout.sh")), pidfile],
            defaults={"timeout": "1s"}))
        series = srv.create_series(type="bb.timeout", schedule=MANUAL)
        run = srv.trigger(series["id"])
        wait_for(lambda: os.path.exists(pidfile), 20, what="the handler's pid file")
        with open(pidfile) as f:
            pids = [int(x) for x in f.read().split()]
        self.assertEqual(len(pids), 2)
        self.assertFalse(any(pid_gone(p) for p in pids), "grandchildren should be running now")
        try:
            run = srv.wait_run(run["id"], timeout=40)
            self.assertEqual(run["state"], "failed", run)
            self.assertIn("timed out", run["error"] or "", run)
            self.assertIsNone(run["next_attempt"])
            # the run is over only when its process group is dead: both grandchildren,
            # including the one that ignores SIGTERM, are gone
            alive = [p for p in pids if not pid_gone(p)]
            self.assertEqual(alive, [], "grandchildren outlived the timed-out run")
            self.assertNotIn("not killed", json.dumps(srv.messages(run["id"])))
        finally:
            for p in pids:
                try:
                    os.kill(p, 9)
                except OSError:
                    pass

    def test_exit_75_is_retried_as_a_new_attempt(self):
        srv = self.srv
        srv.register_type(skedtest.command_type(
            "bb.retry", [skedtest.ensure_executable(fixture("retry.sh"))],
            defaults={"retry": {"max_attempts": 3, "initial_backoff": "200ms"}}))
        series = srv.create_series(type="bb.retry", schedule="every 1h")
        first = srv.wait_run(wait_for(lambda: srv.runs(series=series["id"]), 20, what="a run")[-1]["id"])
        self.assertEqual(first["attempt"], 1)
        self.assertEqual(first["state"], "failed", first)
        self.assertEqual(first["exit_code"], 75)
        self.assertIsNotNone(first["next_attempt"], first)
        second = srv.wait_run(first["next_attempt"])
        self.assertEqual(second["state"], "succeeded", second)
        self.assertEqual(second["attempt"], 2)
        self.assertEqual(second["trigger"], "retry")
        self.assertEqual(second["nominal"], first["nominal"])
        self.assertEqual(second["series_id"], series["id"])
        k1, k2 = skedtest.parse_key(first["idempotency_key"]), skedtest.parse_key(second["idempotency_key"])
        self.assertEqual(k1[:2], k2[:2])
        self.assertEqual((k1[2], k2[2]), (1, 2))
        self.assertIsNone(second["next_attempt"])
        self.assertEqual([r["key"] for r in srv.results(second["id"])], ["attempt"])
        # the occurrence follows its latest attempt
        nominal_us = k1[1]
        occ = srv.occurrences(series["id"], skedtest.utc_text(nominal_us), skedtest.utc_text(nominal_us + 10**6))
        self.assertEqual([(o["nominal"], o["state"], o["run_id"], o["attempt"]) for o in occ][:1],
                         [(nominal_us, "succeeded", second["id"], 2)])
        self.assertEqual(len(srv.runs(series=series["id"])), 2)

    def test_failure_is_not_retried(self):
        srv = self.srv
        srv.register_type(skedtest.command_type(
            "bb.fail", [skedtest.ensure_executable(fixture("fail.sh"))],
            defaults={"retry": {"max_attempts": 3, "initial_backoff": "200ms"}}))
        series = srv.create_series(type="bb.fail", schedule=MANUAL)
        run = srv.wait_run(srv.trigger(series["id"])["id"])
        self.assertEqual(run["state"], "failed", run)
        self.assertEqual(run["exit_code"], 3)
        self.assertIn("3", run["error"] or "")
        self.assertIsNone(run["next_attempt"], run)
        self.assertEqual(run["progress"], 40)
        self.assertEqual(run["counts"]["error"], 1)
        # the retry policy would have queued attempt 2 after 200 ms: give it ample time
        time.sleep(1.5)
        runs = srv.runs(series=series["id"])
        self.assertEqual([(r["id"], r["attempt"]) for r in runs], [(run["id"], 1)])
        # the CLI shows the failure
        rc, out, err = srv.cli("runs", "list", "--state", "failed")
        self.assertEqual(rc, 0, err)
        self.assertIn("exited with status 3", out)

    def test_concurrency_limit_is_respected(self):
        srv = self.srv
        limited, free = self.path("limited.log"), self.path("free.log")
        script = skedtest.ensure_executable(fixture("stamp.sh"))
        srv.register_type(skedtest.command_type("bb.one", [script, limited], defaults={"concurrency": 1}))
        srv.register_type(skedtest.command_type("bb.many", [script, free]))
        s1 = srv.create_series(type="bb.one", schedule=MANUAL)
        s2 = srv.create_series(type="bb.many", schedule=MANUAL)
        ids1 = [srv.trigger(s1["id"])["id"] for _ in range(3)]
        ids2 = [srv.trigger(s2["id"])["id"] for _ in range(3)]
        for i in ids1 + ids2:
            self.assertEqual(srv.wait_run(i, timeout=40)["state"], "succeeded")

        def events(path):
            with open(path) as f:
                return [line.split() for line in f.read().splitlines()]

        ev = events(limited)
        self.assertEqual(sorted(int(r) for what, r in ev if what == "start"), sorted(ids1))
        # with a limit of 1, every start is followed by the end of the same run
        for k in range(0, len(ev), 2):
            self.assertEqual(ev[k][0], "start", ev)
            self.assertEqual(ev[k + 1], ["end", ev[k][1]], f"runs overlap: {ev}")
        # control: the same three runs without a limit do overlap on 4 workers (so the
        # check above can see an overlap when there is one)
        ev = events(free)
        depth = peak = 0
        for what, _ in ev:
            depth += 1 if what == "start" else -1
            peak = max(peak, depth)
        self.assertGreater(peak, 1, f"unlimited runs never overlapped: {ev}")

    def test_manual_trigger(self):
        srv = self.srv
        srv.register_type(skedtest.command_type("bb.true", ["/bin/true"]))
        series = srv.create_series(type="bb.true", schedule=MANUAL)
        rc, out, err = srv.cli("series", "trigger", str(series["id"]), "--json")
        self.assertEqual(rc, 0, err)
        queued = json.loads(out)
        self.assertEqual(queued["trigger"], "manual")
        self.assertEqual(queued["series_id"], series["id"])
        run = srv.wait_run(queued["id"])
        self.assertEqual(run["state"], "succeeded", run)
        self.assertEqual(run["trigger"], "manual")
        self.assertEqual(run["attempt"], 1)
        # a manual run is not a scheduled occurrence: the rule's state is untouched
        self.assertEqual(srv.get(f"/api/v1/series/{series['id']}")["fired"], 0)
        rc, out, err = srv.cli("runs", "show", str(run["id"]))
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"trigger\s+manual")
        # unknown series
        status, body = srv.api("POST", "/api/v1/series/999999/trigger", {})
        self.assertProblem(status, body, 404)
        rc, _, err = srv.cli("series", "trigger", "999999")
        self.assertEqual(rc, 2, err)


class PluginHandler(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        if not os.path.exists(skedtest.PLUGIN):
            self.fail(f"example plug-in not found at {skedtest.PLUGIN!r} (set SKED_BUILD)")
        self.srv = self.start_server(workers=2, plugins=[skedtest.PLUGIN])

    def test_plugin_type_runs_and_logs(self):
        srv = self.srv
        t = srv.get("/api/v1/types/example.count")
        self.assertEqual(t["handler"], {"plugin": True})
        series = srv.create_series(type="example.count", schedule=MANUAL, params={"n": 4})
        run = srv.wait_run(srv.trigger(series["id"])["id"])
        self.assertEqual(run["state"], "succeeded", run)
        self.assertEqual(run["progress"], 100)
        self.assertIsNone(run["exit_code"])
        results = srv.results(run["id"])
        self.assertEqual([(r["key"], r["status"], r["data"]) for r in results],
                         [(f"n{i}", "ok", {"square": i * i}) for i in range(1, 5)])
        msgs = srv.messages(run["id"])
        self.assertTrue(any(m["level"] == "info" and "counting to 4" in m["text"]
                            and run["idempotency_key"] in m["text"] for m in msgs), msgs)
        self.assertEqual(run["counts"]["results"], 4)
        rc, out, err = srv.cli("runs", "results", str(run["id"]))
        self.assertEqual(rc, 0, err)
        self.assertIn('{"square":16}', out.replace(" ", ""))

    def test_plugin_failure(self):
        srv = self.srv
        series = srv.create_series(type="example.count", schedule=MANUAL, params={"n": 5, "fail_at": 3})
        run = srv.wait_run(srv.trigger(series["id"])["id"])
        self.assertEqual(run["state"], "failed", run)
        self.assertIsNone(run["next_attempt"])
        self.assertEqual([(r["key"], r["status"]) for r in srv.results(run["id"])],
                         [("n1", "ok"), ("n2", "ok"), ("n3", "failed")])
        self.assertTrue(any(m["level"] == "error" for m in srv.messages(run["id"])))

    def test_plugin_retry_first(self):
        srv = self.srv
        series = srv.create_series(type="example.count", schedule=MANUAL, params={"n": 2, "retry_first": True})
        first = srv.wait_run(srv.trigger(series["id"])["id"])
        self.assertEqual(first["state"], "failed", first)
        self.assertEqual(first["attempt"], 1)
        self.assertIsNotNone(first["next_attempt"], first)
        self.assertTrue(any(m["level"] == "warning" for m in srv.messages(first["id"])))
        second = srv.wait_run(first["next_attempt"])
        self.assertEqual(second["state"], "succeeded", second)
        self.assertEqual(second["attempt"], 2)
        self.assertEqual(second["trigger"], "retry")
        self.assertEqual(second["nominal"], first["nominal"])
        self.assertEqual([r["key"] for r in srv.results(second["id"])], ["n1", "n2"])
        self.assertEqual(len(srv.runs(series=series["id"])), 2)


if __name__ == "__main__":
    unittest.main()
