"""Durable workflows (issue 17, docs/workflows.md) through the CLI and the API of a
real `sked serve`, on SQLite or, with SKED_TEST_PG, PostgreSQL.  Time is stepped
with `sked serve --clock-file` (the server's clock runs the file's number of
seconds ahead of real time), so an hour's timeout passes in a moment."""
import collections
import json
import os
import time
import unittest

import skedtest
from skedtest import fixture, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "..", "examples", "workflows", "demo.approve.yaml")
HOUR = 3600


class WorkflowBase(skedtest.ServerTest):
    def start_wf_server(self, name="data", **kw):
        self.clock_file = self.path("clock")
        self.offset = 0
        with open(self.clock_file, "w") as f:
            f.write("0\n")
        return self.start_server(name, extra=("--clock-file", self.clock_file), **kw)

    def step_clock(self, seconds):
        """Moves the server's clock forward; the loop sees it within its sleep (at most 5 s)."""
        self.offset += seconds
        with open(self.clock_file + ".tmp", "w") as f:
            f.write(f"{self.offset}\n")
        os.rename(self.clock_file + ".tmp", self.clock_file)

    def write_def(self, text, name="def.yaml"):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def register(self, srv, text):
        rc, out, err = srv.cli("workflow", "register", self.write_def(text))
        self.assertEqual(rc, 0, err)
        return out

    def start(self, srv, name, inp=None):
        args = ["workflow", "start", name]
        if inp is not None:
            args += ["--input", json.dumps(inp)]
        return srv.cli_json(*args)["id"]

    def show(self, srv, iid):
        return srv.cli_json("instance", "show", str(iid))

    def wait_status(self, srv, iid, statuses, timeout=20):
        if isinstance(statuses, str):
            statuses = (statuses,)
        got = {}

        def reached():
            got["i"] = srv.get(f"/api/v1/instances/{iid}")
            return got["i"]["status"] in statuses

        wait_for(reached, timeout, 0.05, f"instance {iid} {statuses} (last: {got.get('i')})")
        return got["i"]

    def journal(self, srv, iid):
        return srv.get(f"/api/v1/instances/{iid}/journal")["items"]


class DemoApprove(WorkflowBase):
    """The example of issue 17, exactly as it is written there, through the CLI."""

    def test_signal_approves(self):
        srv = self.start_wf_server()
        rc, out, err = srv.cli("workflow", "register", DEMO)
        self.assertEqual(rc, 0, err)
        rc, out, err = srv.cli("workflow", "start", "demo.approve", "--input", '{"n": 7}', "--json")
        self.assertEqual(rc, 0, err)
        iid = json.loads(out)["id"]
        self.assertIsInstance(iid, int)
        wait_for(lambda: self.show(srv, iid)["status"] == "waiting", 20, 0.05, "waiting")
        inst = self.show(srv, iid)
        self.assertEqual(inst["status"], "waiting")
        self.assertIsInstance(inst["vars"], dict)
        self.assertEqual(inst["vars"]["x"], 14)
        self.assertIs(type(inst["vars"]["x"]), int)
        self.assertEqual(inst["vars"]["size"], "big")
        rc, out, err = srv.cli("instance", "signal", str(iid), "approve", "--data", '{"who": "ann"}')
        self.assertEqual(rc, 0, err)
        wait_for(lambda: self.show(srv, iid)["status"] == "succeeded", 20, 0.05, "succeeded")
        inst = self.show(srv, iid)
        self.assertEqual(inst["vars"]["approved_by"], "ann")
        self.assertEqual(inst["vars"]["x"], 14)
        # the journal, for people: each step once, in order
        steps = [(j["step"], j["outcome"]) for j in self.journal(srv, iid)]
        self.assertEqual(steps, [("double", "ok"), ("check", "ok"), ("big", "ok"), ("approval", "waiting"),
                                 ("approval", "signaled"), ("record_it", "ok")])
        # a second signal to a finished instance is refused and changes nothing
        rc, out, err = srv.cli("instance", "signal", str(iid), "approve", "--data", '{"who": "bob"}')
        self.assertNotEqual(rc, 0)
        self.assertIn("succeeded", err)
        self.assertEqual(self.show(srv, iid)["vars"]["approved_by"], "ann")

    def test_timeout_after_an_hour(self):
        srv = self.start_wf_server()
        self.assertEqual(srv.cli("workflow", "register", DEMO)[0], 0)
        iid = self.start(srv, "demo.approve", {"n": 7})
        self.wait_status(srv, iid, "waiting")
        self.step_clock(HOUR - 60)  # not yet
        time.sleep(6 * skedtest.SLOW)
        self.assertEqual(self.show(srv, iid)["status"], "waiting")
        self.step_clock(61)
        inst = self.wait_status(srv, iid, ("failed", "succeeded"))
        self.assertEqual(inst["status"], "failed")
        self.assertIn("timed out", inst["reason"])
        self.assertNotIn("approved_by", inst["vars"])
        # a signal after the timeout is refused
        rc, _, err = srv.cli("instance", "signal", str(iid), "approve", "--data", '{"who": "ann"}')
        self.assertNotEqual(rc, 0)

    def test_signal_before_the_wait_is_kept(self):
        """A signal that arrives while the instance is not yet waiting for it waits
        for the instance (here: a paused one)."""
        srv = self.start_wf_server()
        self.assertEqual(srv.cli("workflow", "register", DEMO)[0], 0)
        iid = self.start(srv, "demo.approve", {"n": 3})
        self.wait_status(srv, iid, "waiting")
        self.assertEqual(self.show(srv, iid)["vars"]["size"], "small")
        self.assertEqual(srv.cli("instance", "pause", str(iid))[0], 0)
        self.assertEqual(srv.cli("instance", "signal", str(iid), "approve", "--data", '{"who": "cy"}')[0], 0)
        time.sleep(0.5)
        self.assertEqual(self.show(srv, iid)["status"], "paused")
        self.assertEqual(srv.cli("instance", "resume", str(iid))[0], 0)
        inst = self.wait_status(srv, iid, "succeeded")
        self.assertEqual(inst["vars"]["approved_by"], "cy")


class Registration(WorkflowBase):
    def test_every_error_names_its_path_and_nothing_is_stored(self):
        srv = self.start_wf_server()
        srv.register_type(skedtest.command_type("t.real", ["/bin/true"]))
        bad = {
            "name": "bad.one",
            "steps": [
                {"id": "a", "set": {"x": "${ 1 + }"}},
                {"id": "b", "if": "vars.x >", "then": [{"id": "c", "frob": 1, "set": {"y": 1}}]},
                {"id": "d", "run": {"type": "no.such.type"}},
                {"id": "e", "wait": {"signal": "go", "timeout": "1x"}},
                {"id": "f", "set": {"z": "${ steps.nope.x }"}},
                {"id": "a", "stop": "succeeded"},
            ],
        }
        status, body = srv.api("POST", "/api/v1/workflows", bad)
        self.assertProblem(status, body, 400, "steps[0].set.x")
        for path in ("steps[0].set.x:", "steps[1].if:", "steps[1].then[0].frob:", "steps[2].run.type:",
                     "steps[3].wait.timeout:", "steps[4].set.z:", "steps[5].id:"):
            self.assertIn(path, body["detail"])
        self.assertIn("no such process type", body["detail"])
        self.assertEqual(srv.get("/api/v1/workflows")["items"], [])
        status, body = srv.api("POST", "/api/v1/workflows",
                               {"name": "rt", "mode": "realtime", "steps": [{"id": "a", "set": {"x": 1}}]})
        self.assertProblem(status, body, 400, "mode")
        self.assertIn("not supported yet", body["detail"])
        # the CLI shows them all too
        p = self.write_def("name: x\nsteps:\n  - id: a\n    sett: {x: 1}\n  - id: b\n    wait: {}\n")
        rc, out, err = srv.cli("workflow", "register", p)
        self.assertEqual(rc, 2)
        self.assertIn("steps[0].sett", err)
        self.assertIn("steps[1].wait", err)
        # input validated at start
        self.assertEqual(srv.cli("workflow", "register", DEMO)[0], 0)
        rc, out, err = srv.cli("workflow", "start", "demo.approve", "--input", '{"n": "seven"}')
        self.assertEqual(rc, 2)
        self.assertIn("input.n", err)
        rc, out, err = srv.cli("workflow", "start", "demo.approve")
        self.assertEqual(rc, 2)
        self.assertIn("input.n: required", err)
        self.assertEqual(srv.get("/api/v1/instances")["items"], [])
        status, body = srv.api("POST", "/api/v1/workflows/no.such/start", {"input": {}})
        self.assertProblem(status, body, 404)

    def test_versions_and_pinning(self):
        srv = self.start_wf_server()
        v1 = "name: ver\nsteps:\n  - id: a\n    set: {v: 1}\n  - id: w\n    wait: {signal: go}\n" \
             "  - id: b\n    set: {after: \"${ vars.v }\"}\n"
        self.assertIn("version 1", self.register(srv, v1))
        i1 = self.start(srv, "ver")
        self.wait_status(srv, i1, "waiting")
        v2 = v1.replace("set: {v: 1}", "set: {v: 2}")
        self.assertIn("version 2", self.register(srv, v2))
        i2 = self.start(srv, "ver")
        self.wait_status(srv, i2, "waiting")
        for i in (i1, i2):
            self.assertEqual(srv.cli("instance", "signal", str(i), "go")[0], 0)
        a = self.wait_status(srv, i1, "succeeded")
        b = self.wait_status(srv, i2, "succeeded")
        self.assertEqual((a["version"], a["vars"]["after"]), (1, 1))
        self.assertEqual((b["version"], b["vars"]["after"]), (2, 2))
        w = srv.get("/api/v1/workflows/ver")
        self.assertEqual(w["version"], 2)
        self.assertEqual([v["version"] for v in w["versions"]], [2, 1])
        listed = srv.get("/api/v1/workflows")["items"]
        self.assertEqual([(x["name"], x["version"]) for x in listed], [("ver", 2)])
        self.assertEqual([x["id"] for x in srv.get("/api/v1/instances?workflow=ver&status=succeeded")["items"]],
                         [i2, i1])


class StepKinds(WorkflowBase):
    def test_switch_timers_and_stop(self):
        srv = self.start_wf_server()
        self.register(srv, """
name: kinds
input:
  - {name: k, type: string, required: true}
steps:
  - id: pick
    switch:
      - when: "input.k == 'stop'"
        steps:
          - id: halt
            stop: {status: canceled, message: "${ 'stopped by ' .. input.k }"}
      - when: "input.k == 'a'"
        steps: [{id: ca, set: {branch: a}}]
    default: [{id: cd, set: {branch: other}}]
  - id: nap
    wait: {duration: 10m}
  - id: later
    wait: {until: "${ time.iso(time.now() + time.duration('2h')) }"}
  - id: wall
    wait: {at: "03:00", zone: Europe/Paris}
  - id: done
    set: {fired: "${ steps.nap.fired_at ~= nil and steps.later.fired_at ~= nil and steps.wall.fired_at ~= nil }"}
""")
        stopped = self.start(srv, "kinds", {"k": "stop"})
        inst = self.wait_status(srv, stopped, "canceled")
        self.assertEqual(inst["reason"], "stopped by stop")
        iid = self.start(srv, "kinds", {"k": "a"})
        inst = self.wait_status(srv, iid, "waiting")
        self.assertEqual(inst["vars"]["branch"], "a")
        self.assertEqual(inst["wait"]["kind"], "timer")
        self.step_clock(11 * 60)
        wait_for(lambda: self.show(srv, iid)["position"] == "2", 20, 0.1, "the 10 min timer fired")
        self.step_clock(2 * HOUR)
        wait_for(lambda: self.show(srv, iid)["position"] == "3", 20, 0.1, "the 2 h timer fired")
        inst = self.show(srv, iid)
        due = skedtest.parse_utc(inst["wait"]["until"])
        # 03:00 in Paris is 01:00Z or 02:00Z
        self.assertIn(time.gmtime(due // 1_000_000).tm_hour, (1, 2))
        self.step_clock(25 * HOUR)
        inst = self.wait_status(srv, iid, "succeeded")
        self.assertIs(inst["vars"]["fired"], True)
        fired = [j for j in self.journal(srv, iid) if j["outcome"] == "fired"]
        self.assertEqual([j["step"] for j in fired], ["nap", "later", "wall"])  # each timer once

    def test_run_step_of_a_command_type(self):
        srv = self.start_wf_server(workers=2)
        log = self.path("steps.log")
        srv.register_type(skedtest.command_type(
            "wf.step", [fixture("wf_step.py"), log],
            params=[{"name": "n", "type": "int", "required": True}, {"name": "exit", "type": "int"}]))
        self.register(srv, """
name: runner
input:
  n: {type: int, required: true}
  code: {type: int, default: 0}
steps:
  - id: job
    run: {type: wf.step, params: {n: "${ input.n + 1 }", exit: "${ input.code }"}}
  - id: after
    set:
      doubled: "${ steps.job.results[1].data.doubled }"
      key: "${ steps.job.results[1].data.key }"
      state: "${ steps.job.state }"
""")
        iid = self.start(srv, "runner", {"n": 20})
        inst = self.wait_status(srv, iid, ("succeeded", "failed"))
        self.assertEqual(inst["status"], "succeeded", inst)
        self.assertEqual(inst["vars"]["doubled"], 42)
        self.assertEqual(inst["vars"]["state"], "succeeded")
        self.assertEqual(inst["vars"]["key"], f"wf:{iid}:job:1")
        run_id = inst["steps"]["job"]["run_id"]
        run = srv.run(run_id)
        self.assertEqual(run["trigger"], "workflow")
        self.assertEqual(run["params"], {"n": 21, "exit": 0})
        entry = [j for j in self.journal(srv, iid) if j["step"] == "job" and j["outcome"] == "started"]
        self.assertEqual(entry[0]["run_id"], run_id)
        # a run that fails fails the instance, naming the step
        bad = self.start(srv, "runner", {"n": 1, "code": 3})
        inst = self.wait_status(srv, bad, ("succeeded", "failed"))
        self.assertEqual(inst["status"], "failed")
        self.assertIn("job", inst["reason"])
        self.assertIn("did not succeed", inst["reason"])


class Service(WorkflowBase):
    def test_cancel_pause_resume(self):
        srv = self.start_wf_server()
        self.register(srv, "name: svc\nsteps:\n  - id: nap\n    wait: {duration: 30m}\n"
                           "  - id: count\n    set: {n: \"${ (vars.n or 0) + 1 }\"}\n"
                           "  - id: sig\n    wait: {signal: go}\n")
        a, b = self.start(srv, "svc"), self.start(srv, "svc")
        self.wait_status(srv, a, "waiting")
        self.wait_status(srv, b, "waiting")
        # cancel: ended, with the reason; a second cancel is refused
        rc, out, err = srv.cli("instance", "cancel", str(a), "--reason", "no longer needed", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["status"], "canceled")
        inst = self.show(srv, a)
        self.assertEqual((inst["status"], inst["reason"]), ("canceled", "no longer needed"))
        rc, out, err = srv.cli("instance", "cancel", str(a))
        self.assertEqual(rc, 2)
        # pause: the timer passes while paused, nothing moves; resume: it fires once
        self.assertEqual(srv.cli("instance", "pause", str(b))[0], 0)
        self.assertEqual(srv.cli("instance", "pause", str(b))[0], 2)  # paused already
        self.step_clock(31 * 60)
        time.sleep(6 * skedtest.SLOW)
        inst = self.show(srv, b)
        self.assertEqual(inst["status"], "paused")
        self.assertNotIn("n", inst["vars"])
        self.assertEqual(self.show(srv, a)["status"], "canceled")  # the canceled one never fires
        self.assertEqual(srv.cli("instance", "resume", str(b))[0], 0)
        wait_for(lambda: self.show(srv, b)["status"] == "waiting" and self.show(srv, b)["vars"].get("n") == 1,
                 20, 0.1, "fired after resume")
        self.assertEqual(srv.cli("instance", "signal", str(b), "go")[0], 0)
        inst = self.wait_status(srv, b, "succeeded")
        self.assertEqual(inst["vars"]["n"], 1)
        self.assertEqual([j["step"] for j in self.journal(srv, b) if j["outcome"] == "fired"], ["nap"])
        # the list filters
        self.assertEqual([x["id"] for x in srv.get("/api/v1/instances?status=canceled")["items"]], [a])
        status, body = srv.api("GET", "/api/v1/instances?status=bogus")
        self.assertProblem(status, body, 400, "status")
        status, body = srv.api("POST", f"/api/v1/instances/{b}/signal", {"name": "go", "extra": 1})
        self.assertProblem(status, body, 400, "extra")
        status, body = srv.api("GET", "/api/v1/instances/999999")
        self.assertProblem(status, body, 404)


class OverHTTP(WorkflowBase):
    """Every workflow and instance route through the API rather than the CLI, so that
    each reply (and each definition the server accepts) is held against
    docs/openapi.yaml by Server.request: the writes' 201 and 200, their 409s, 404s
    and 400s."""

    DEF = {
        "name": "http.flow", "title": "Over HTTP", "description": "every kind of step",
        "mode": "background",
        "input": {"n": {"type": "int", "required": True}, "who": {"type": "string", "default": "x"}},
        "steps": [
            {"id": "a", "title": "first", "set": {"x": "${ input.n * 2 }"}},
            {"id": "b", "if": "vars.x > 10", "then": [{"id": "big", "set": {"size": "big"}}],
             "else": [{"id": "small", "set": {"size": "small"}}]},
            {"id": "c", "switch": [{"when": "vars.size == 'big'", "steps": [{"id": "c1", "set": {"k": 1}}]}],
             "default": [{"id": "c2", "set": {"k": 2}}]},
            {"id": "go", "wait": {"signal": "go", "timeout": "1h",
                                  "on_timeout": [{"id": "late", "stop": {"status": "canceled", "message": "late"}}]}},
            {"id": "nap", "wait": {"duration": "30m"}},
            {"id": "end", "stop": "succeeded"},
        ],
    }

    def test_every_route_over_http(self):
        srv = self.start_wf_server()
        status, body = srv.api("POST", "/api/v1/workflows", self.DEF)
        self.assertEqual((status, body), (201, {"name": "http.flow", "version": 1, "mode": "background"}))
        self.assertEqual(srv.api("POST", "/api/v1/workflows", dict(self.DEF, title="v2"))[1]["version"], 2)
        status, body = srv.api("POST", "/api/v1/workflows", dict(self.DEF, nme="x"))
        self.assertProblem(status, body, 400, "nme")
        self.assertEqual(srv.get("/api/v1/workflows")["items"][0]["versions"], 2)
        self.assertEqual([v["version"] for v in srv.get("/api/v1/workflows/http.flow")["versions"]], [2, 1])
        status, body = srv.api("GET", "/api/v1/workflows/no.such")
        self.assertProblem(status, body, 404, "name")
        # start: input validated; the reply is the instance, queued
        status, body = srv.api("POST", "/api/v1/workflows/http.flow/start", {"input": {"n": "seven"}})
        self.assertProblem(status, body, 400, "input")
        status, inst = srv.api("POST", "/api/v1/workflows/http.flow/start", {"input": {"n": 7}})
        self.assertEqual((status, inst["status"], inst["version"]), (201, "queued", 2), inst)
        iid = inst["id"]
        self.assertEqual(self.wait_status(srv, iid, "waiting")["wait"]["kind"], "signal")
        # pause, pause again (409), a signal while paused is kept, resume, resume again (409)
        status, body = srv.api("POST", f"/api/v1/instances/{iid}/pause")
        self.assertEqual((status, body["status"]), (200, "paused"), body)
        status, body = srv.api("POST", f"/api/v1/instances/{iid}/pause", {})
        self.assertProblem(status, body, 409, "status")
        status, body = srv.api("POST", f"/api/v1/instances/{iid}/signal", {"name": "go", "data": {"who": "ann"}})
        self.assertEqual((status, body["status"]), (200, "paused"), body)
        status, body = srv.api("POST", f"/api/v1/instances/{iid}/resume", {})
        self.assertEqual(status, 200, body)
        status, body = srv.api("POST", f"/api/v1/instances/{iid}/resume")
        self.assertProblem(status, body, 409, "status")
        wait_for(lambda: srv.get(f"/api/v1/instances/{iid}")["wait"]["kind"] == "timer", 20, 0.05,
                 "the signal taken, the timer waited for")
        self.step_clock(31 * 60)
        self.assertEqual(self.wait_status(srv, iid, "succeeded")["vars"], {"x": 14, "size": "big", "k": 1})
        # an ended instance: signal, cancel and pause are 409
        for verb, body in (("signal", {"name": "go"}), ("cancel", None), ("pause", None)):
            with self.subTest(verb=verb):
                status, reply = srv.api("POST", f"/api/v1/instances/{iid}/{verb}", body)
                self.assertProblem(status, reply, 409, "status")
        # cancel one that waits, with a reason; bad bodies are 400
        other = srv.api("POST", "/api/v1/workflows/http.flow/start", {"input": {"n": 1}})[1]["id"]
        self.wait_status(srv, other, "waiting")
        for verb, body, field in (("signal", {"name": "Not A Name"}, "name"), ("signal", None, "body"),
                                  ("cancel", {"reason": 5}, "reason"), ("resume", {"note": "x"}, "note")):
            with self.subTest(verb=verb, body=body):
                status, reply = srv.api("POST", f"/api/v1/instances/{other}/{verb}", body)
                self.assertProblem(status, reply, 400, field)
        status, body = srv.api("POST", f"/api/v1/instances/{other}/cancel", {"reason": "enough"})
        self.assertEqual((status, body["status"], body["reason"]), (200, "canceled", "enough"), body)
        self.assertIsNotNone(body["ended_at"])
        page = srv.get("/api/v1/instances?workflow=http.flow&status=canceled&limit=1")
        self.assertEqual(([i["id"] for i in page["items"]], page["next"]), ([other], other))
        self.assertEqual(srv.get(f"/api/v1/instances?before={other}")["items"][0]["id"], iid)
        journal = srv.get(f"/api/v1/instances/{iid}/journal?after=0&limit=2")
        self.assertEqual((len(journal["items"]), journal["next"]), (2, journal["items"][1]["seq"]))
        status, body = srv.api("GET", "/api/v1/instances/999999/journal")
        self.assertProblem(status, body, 404)


class Crash(WorkflowBase):
    """kill -9 with instances waiting on timers, on signals and on runs in flight:
    after the restart every instance goes on, no inline step took effect twice,
    every timer fired once, each run step ran with its stable key."""

    N = 20  # instances of each kind

    def test_kill_9_and_restart(self):
        srv = self.start_wf_server(workers=4)
        log = self.path("steps.log")
        srv.register_type(skedtest.command_type(
            "wf.slow", [fixture("wf_step.py"), log],
            params=[{"name": "n", "type": "int"}, {"name": "sleep", "type": "number"}]))
        count = '{n: "${ (vars.n or 0) + 1 }"}'
        self.register(srv, f"""
name: crash.timer
steps:
  - {{id: one, set: {count}}}
  - {{id: nap, wait: {{duration: 10m}}}}
  - {{id: two, set: {count}}}
""", )
        self.register(srv, f"""
name: crash.signal
steps:
  - {{id: one, set: {count}}}
  - {{id: sig, wait: {{signal: go, timeout: 1d}}}}
  - {{id: two, set: {count}}}
""")
        self.register(srv, f"""
name: crash.run
steps:
  - {{id: one, set: {count}}}
  - {{id: job, run: {{type: wf.slow, params: {{n: 1, sleep: 3}}}}}}
  - {{id: two, set: {count}}}
""")
        ids = collections.defaultdict(list)
        for kind in ("timer", "signal", "run"):
            for _ in range(self.N):
                ids[kind].append(self.start(srv, f"crash.{kind}"))
        every = [i for v in ids.values() for i in v]
        # kill while run steps are in flight (20 runs of 3 s on 4 workers: 15 s of work)
        wait_for(lambda: len(srv.runs(state="running")) >= 2, 30, 0.05, "runs in flight")
        waiting = [srv.get(f"/api/v1/instances/{i}")["status"] for i in ids["timer"] + ids["signal"]]
        srv.kill9()
        time.sleep(0.5)
        srv.start()
        self.assertEqual(set(waiting), {"waiting"}, "timers and signals were not all waiting at the kill")
        # the timers come due, the signals arrive, the lost runs are recovered
        # (PostgreSQL: when their 30 s lease has passed on the server's clock)
        for i in ids["signal"]:
            rc, _, err = srv.cli("instance", "signal", str(i), "go")
            self.assertEqual(rc, 0, err)
        self.step_clock(11 * 60)
        for i in every:
            inst = self.wait_status(srv, i, ("succeeded", "failed", "canceled"), timeout=90)
            self.assertEqual(inst["status"], "succeeded", inst)
            self.assertEqual(inst["vars"]["n"], 2, f"an inline step took effect twice or never: {inst}")
            j = self.journal(srv, i)
            ok = collections.Counter(e["step"] for e in j if e["outcome"] == "ok")
            self.assertEqual(ok, {"one": 1, "two": 1}, j)
        for i in ids["timer"]:
            fired = [e for e in self.journal(srv, i) if e["outcome"] == "fired"]
            self.assertEqual(len(fired), 1, "the timer fired more or less than once")
        for i in ids["signal"]:
            self.assertEqual(len([e for e in self.journal(srv, i) if e["outcome"] == "signaled"]), 1)
        # the kill hit runs in flight: their instances followed them to the next attempt
        attempts = [self.show(srv, i)["steps"]["job"]["attempt"] for i in ids["run"]]
        self.assertTrue(any(a >= 2 for a in attempts), f"no run step was in flight at the kill: {attempts}")
        # each run step: at least once, always with its instance's stable key
        starts = collections.Counter(line.split()[1] for line in open(log) if line.startswith("start"))
        ends = collections.Counter(line.split()[1] for line in open(log) if line.startswith("end"))
        for i in ids["run"]:
            keys = [k for k in starts if k.startswith(f"wf:{i}:job:")]
            self.assertTrue(keys, f"instance {i}: its run never started")
            self.assertTrue(any(ends[k] for k in keys), f"instance {i}: its run never ended")
            inst = self.show(srv, i)
            self.assertTrue(inst["steps"]["job"]["results"][0]["data"]["key"].startswith(f"wf:{i}:job:"))


if __name__ == "__main__":
    unittest.main()
