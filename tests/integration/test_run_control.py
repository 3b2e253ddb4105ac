"""Run control (issue 13): cancel a queued, waiting or running run (a command that
traps SIGTERM, a plug-in that polls sked_run_cancelled), re-run a finished run, start
a run waiting for its backoff at once, through the API and the CLI; on PostgreSQL, a
cancel asked on one node stops the handler on the node that runs it.

Witnesses: the API, the store read directly (Server.rows), and the handlers' own
files (a shell handler writes "start", "TERM" when it gets SIGTERM)."""
import os
import time
import unittest

import skedtest
from skedtest import wait_for

MANUAL = "RRULE:FREQ=YEARLY;COUNT=1"

# Traps SIGTERM, notes it and goes on sleeping: only SIGKILL (after the grace) ends it.
STUBBORN = """#!/bin/sh
trap 'echo TERM >> "$1"' TERM
echo start >> "$1"
i=0
while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
echo end >> "$1"
"""


class RunControlBase(skedtest.ServerTest):
    def stubborn_type(self, srv, name="rc.stubborn", grace="1s"):
        self.log = self.path(name + ".log")
        script = self.path(name + ".sh")
        with open(script, "w") as f:
            f.write(STUBBORN)
        os.chmod(script, 0o755)
        srv.register_type(skedtest.command_type(name, [script, self.log], defaults={"grace": grace}))

    def log_lines(self):
        try:
            with open(self.log) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def enqueue(self, srv, type_, **params):
        reply = srv.post("/api/v1/runs", {"type": type_, "params": params})
        return reply["ids"][0]


class CancelTest(RunControlBase):
    def test_cancel_running_command_term_then_kill_after_grace(self):
        srv = self.start_server(workers=2)
        self.stubborn_type(srv)
        self.assertEqual(srv.get("/api/v1/types/rc.stubborn")["defaults"]["grace_ms"], 1000)
        rid = self.enqueue(srv, "rc.stubborn")
        wait_for(lambda: "start" in self.log_lines(), 20, what="the handler started")
        status, body = srv.api("POST", f"/api/v1/runs/{rid}/cancel", {"reason": "wrong input"})
        self.assertIn(status, (200, 202), body)
        run = srv.wait_run(rid, states=("cancelled", "succeeded", "failed", "lost"))
        self.assertEqual(run["state"], "cancelled", run)
        self.assertEqual(run["cancelled_by"], "admin")
        self.assertEqual(run["cancel_reason"], "wrong input")
        self.assertIsNone(run["next_attempt"], "a cancelled run is not retried")
        lines = self.log_lines()
        self.assertIn("TERM", lines, "the process group got SIGTERM first")
        self.assertNotIn("end", lines, "it ignored SIGTERM and was killed")
        # the store agrees
        rows = srv.rows(f"SELECT state, cancelled_by, cancel_reason FROM runs WHERE id = {rid}")
        self.assertEqual((rows[0]["state"], rows[0]["cancelled_by"], rows[0]["cancel_reason"]),
                         ("cancelled", "admin", "wrong input"))
        # a second cancel of the finished run is refused, with its state named
        status, body = srv.api("POST", f"/api/v1/runs/{rid}/cancel")
        self.assertProblem(status, body, 409, "state")
        self.assertIn("cancelled", body["detail"])

    def test_cancel_waiting_retry_and_queued(self):
        srv = self.start_server(workers=1)
        srv.register_type(skedtest.command_type(
            "rc.tempfail", ["/bin/sh", "-c", "exit 75"],
            defaults={"retry": {"max_attempts": 3, "initial_backoff": "1h", "max_backoff": "1h"}}))
        rid = self.enqueue(srv, "rc.tempfail")
        first = srv.wait_run(rid)
        nxt = first["next_attempt"]
        self.assertIsNotNone(nxt, first)
        waiting = srv.run(nxt)
        self.assertEqual(waiting["state"], "queued")
        # who cancels is recorded: here an operator through their own token
        self.assertEqual(srv.api("POST", "/api/v1/users", {"name": "opal", "role": "operator"})[0], 201)
        token = srv.api("POST", "/api/v1/tokens", {"name": "t", "user": "opal"})[1]["token"]
        status, body = srv.api("POST", f"/api/v1/runs/{nxt}/cancel", {}, token=token)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["state"], "cancelled")
        self.assertEqual(body["cancelled_by"], "opal")
        self.assertIsNone(body["cancel_reason"])
        self.assertEqual(srv.run(nxt)["state"], "cancelled")

    def test_cancel_refusals_change_nothing(self):
        srv = self.start_server(workers=1)
        srv.register_type(skedtest.command_type("rc.ok", ["/bin/true"]))
        rid = self.enqueue(srv, "rc.ok")
        srv.wait_run(rid)
        status, body = srv.api("POST", f"/api/v1/runs/{rid}/cancel", {"reason": "late"})
        self.assertProblem(status, body, 409, "state")
        self.assertIn("succeeded", body["detail"])
        run = srv.run(rid)
        self.assertEqual((run["state"], run["cancelled_by"], run["cancel_reason"]), ("succeeded", None, None))
        status, body = srv.api("POST", "/api/v1/runs/999999/cancel")
        self.assertProblem(status, body, 404)
        status, body = srv.api("POST", f"/api/v1/runs/{rid}/cancel", {"reason": 7})
        self.assertProblem(status, body, 400, "reason")
        status, body = srv.api("POST", f"/api/v1/runs/{rid}/cancel", {"why": "x"})
        self.assertProblem(status, body, 400, "why")

    def test_cancel_plugin_sees_cancelled(self):
        if not os.path.exists(skedtest.PLUGIN):
            self.fail(f"example plug-in not found at {skedtest.PLUGIN!r} (set SKED_BUILD)")
        srv = self.start_server(workers=2, plugins=[skedtest.PLUGIN])
        rid = self.enqueue(srv, "example.count", n=10000, pause_ms=50)
        wait_for(lambda: len(srv.results(rid)) >= 2 or None, 20, what="the plug-in counting")
        srv.post(f"/api/v1/runs/{rid}/cancel", {"reason": "enough"})
        run = srv.wait_run(rid, states=("cancelled", "succeeded", "failed", "lost"))
        self.assertEqual(run["state"], "cancelled", run)
        self.assertLess(run["counts"]["results"], 10000, "it stopped early")
        texts = [m["text"] for m in srv.messages(rid)]
        self.assertIn("cancelled: stopping early", texts)

    def test_cli_cancel(self):
        srv = self.start_server(workers=1)
        self.stubborn_type(srv, grace="0s")
        rid = self.enqueue(srv, "rc.stubborn")
        wait_for(lambda: "start" in self.log_lines(), 20, what="the handler started")
        rc, out, err = srv.cli("runs", "cancel", str(rid), "--reason", "from the CLI")
        self.assertEqual(rc, 0, err)
        self.assertIn(f"run {rid}", out)
        run = srv.wait_run(rid, states=("cancelled", "succeeded", "failed", "lost"))
        self.assertEqual((run["state"], run["cancel_reason"]), ("cancelled", "from the CLI"))
        rc, out, err = srv.cli("runs", "cancel", str(rid))
        self.assertEqual(rc, 2, out)  # 409, like the CLI's other refusals
        self.assertIn("cancelled", err)
        rc, out, err = srv.cli("runs", "cancel", "x")
        self.assertEqual(rc, 2, out)
        self.assertIn("x", err)


class RerunTest(RunControlBase):
    def test_rerun_links_both_ways_with_own_key(self):
        srv = self.start_server(workers=1)
        srv.register_type(skedtest.command_type(
            "rc.echo", ["/bin/sh", "-c", "echo \"$SKED_IDEMPOTENCY_KEY $SKED_PARAMS\""],
            params=[{"name": "n", "type": "int", "default": 1}]))
        series = srv.create_series(type="rc.echo", schedule=MANUAL, params={"n": 2}, title="s")
        orig = srv.trigger(series["id"])
        first = srv.wait_run(orig["id"])
        self.assertEqual(first["state"], "succeeded")
        status, body = srv.api("POST", f"/api/v1/runs/{orig['id']}/rerun", {"params": {"n": 5}})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["rerun_of"], orig["id"])
        self.assertEqual(body["trigger"], "rerun")
        self.assertEqual(body["series_id"], series["id"])
        self.assertEqual(body["nominal"], first["nominal"])
        self.assertEqual(body["params"], {"n": 5})
        self.assertEqual(body["idempotency_key"], f"rerun:{orig['id']}:1:1")
        again = srv.wait_run(body["id"])
        self.assertEqual(again["state"], "succeeded")
        self.assertIn(f"rerun:{orig['id']}:1:1", srv.messages(body["id"])[0]["text"])
        # without params: the original's; a second rerun gets the next key
        second = srv.post(f"/api/v1/runs/{orig['id']}/rerun")
        self.assertEqual(second["params"], {"n": 2})
        self.assertEqual(second["idempotency_key"], f"rerun:{orig['id']}:2:1")
        self.assertEqual(srv.run(orig["id"])["reruns"], [body["id"], second["id"]])
        self.assertEqual(srv.run(body["id"])["reruns"], [])
        # CLI
        srv.wait_run(second["id"])
        rc, out, err = srv.cli("runs", "rerun", str(orig["id"]), "--param", "n=7")
        self.assertEqual(rc, 0, err)
        self.assertIn(f"re-run of run {orig['id']}", out)
        self.assertEqual(len(srv.run(orig["id"])["reruns"]), 3)

    def test_rerun_refused_for_unfinished_and_bad_params(self):
        srv = self.start_server(workers=1)
        self.stubborn_type(srv, grace="0s")
        rid = self.enqueue(srv, "rc.stubborn")
        wait_for(lambda: "start" in self.log_lines(), 20, what="the handler started")
        status, body = srv.api("POST", f"/api/v1/runs/{rid}/rerun")
        self.assertProblem(status, body, 409, "state")
        self.assertIn("running", body["detail"])
        srv.post(f"/api/v1/runs/{rid}/cancel")
        srv.wait_run(rid, states=("cancelled",))
        status, body = srv.api("POST", f"/api/v1/runs/{rid}/rerun", {"params": {"nope": 1}})
        self.assertProblem(status, body, 400)
        self.assertEqual(srv.run(rid)["reruns"], [], "a refused rerun queues nothing")
        status, body = srv.api("POST", f"/api/v1/runs/{rid}/rerun", {"params": [1]})
        self.assertProblem(status, body, 400, "params")


class RetryNowTest(RunControlBase):
    def test_retry_now_starts_a_waiting_attempt(self):
        srv = self.start_server(workers=1)
        flag = self.path("second")
        srv.register_type(skedtest.command_type(
            "rc.flaky", ["/bin/sh", "-c", f"[ -e {flag} ] && exit 0; touch {flag}; exit 75"],
            defaults={"retry": {"max_attempts": 3, "initial_backoff": "1h", "max_backoff": "1h"}}))
        rid = self.enqueue(srv, "rc.flaky")
        first = srv.wait_run(rid)
        nxt = first["next_attempt"]
        self.assertEqual(srv.run(nxt)["state"], "queued")
        status, body = srv.api("POST", f"/api/v1/runs/{rid}/retry")
        self.assertProblem(status, body, 409, "state")
        rc, out, err = srv.cli("runs", "retry", str(nxt))
        self.assertEqual(rc, 0, err)
        self.assertEqual(srv.wait_run(nxt)["state"], "succeeded")
        status, body = srv.api("POST", f"/api/v1/runs/{nxt}/retry")
        self.assertProblem(status, body, 409, "state")


class TypeDeleteTest(RunControlBase):
    def test_delete_refused_while_used_then_forced(self):
        srv = self.start_server(workers=1)
        self.stubborn_type(srv, grace="0s")
        series = srv.create_series(type="rc.stubborn", schedule=MANUAL, params={}, title="s")
        rid = srv.trigger(series["id"])["id"]
        wait_for(lambda: "start" in self.log_lines(), 20, what="the handler started")
        status, body = srv.api("DELETE", "/api/v1/types/rc.stubborn")
        self.assertProblem(status, body, 409, "force")
        self.assertIn("1 series and 1 unfinished run", body["detail"])
        self.assertEqual(srv.get("/api/v1/types/rc.stubborn")["name"], "rc.stubborn", "refused: nothing changed")
        self.assertEqual(srv.get(f"/api/v1/series/{series['id']}")["id"], series["id"])
        rc, out, err = srv.cli("type", "delete", "rc.stubborn")
        self.assertEqual(rc, 2, out)
        self.assertIn("unfinished", err)
        rc, out, err = srv.cli("type", "delete", "rc.stubborn", "--force")
        self.assertEqual(rc, 0, err)
        self.assertIn("1 series deleted", out)
        status, body = srv.api("GET", "/api/v1/types/rc.stubborn")
        self.assertProblem(status, body, 404, "name")
        status, body = srv.api("GET", f"/api/v1/series/{series['id']}")
        self.assertProblem(status, body, 404)
        run = srv.wait_run(rid, states=("cancelled", "succeeded", "failed", "lost"))
        self.assertEqual((run["state"], run["cancel_reason"]), ("cancelled", "its type was deleted"))
        status, body = srv.api("DELETE", "/api/v1/types/rc.stubborn")
        self.assertProblem(status, body, 404, "name")
        status, body = srv.api("DELETE", "/api/v1/types/rc.stubborn?force=maybe")
        self.assertProblem(status, body, 400, "force")
        # an unused type goes without force; registering it again works
        srv.register_type(skedtest.command_type("rc.unused", ["/bin/true"]))
        status, body = srv.api("DELETE", "/api/v1/types/rc.unused")
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"name": "rc.unused", "series_deleted": 0, "runs_cancelled": 0, "runs_stopping": 0})
        srv.register_type(skedtest.command_type("rc.unused", ["/bin/true"]))
        self.assertEqual(srv.get("/api/v1/types/rc.unused")["name"], "rc.unused")


@unittest.skipUnless(skedtest.PG, "PostgreSQL only: set SKED_TEST_PG (scripts/test does)")
class ClusterCancelTest(RunControlBase):
    def test_cancel_on_one_node_stops_the_handler_on_another(self):
        nodes = self.start_cluster(2, workers=2)
        self.stubborn_type(nodes[0])
        rid = self.enqueue(nodes[0], "rc.stubborn")
        wait_for(lambda: "start" in self.log_lines(), 30, what="the handler started")
        run = nodes[0].run(rid)
        owner = run["node"]
        other = nodes[1] if owner == "node1" else nodes[0]
        status, body = other.api("POST", f"/api/v1/runs/{rid}/cancel", {"reason": "from the other node"})
        self.assertEqual(status, 202, body)
        self.assertTrue(body["cancel_requested"])
        # the owner finds out at its next lease renewal (every lease/3)
        run = other.wait_run(rid, states=("cancelled", "succeeded", "failed", "lost"), timeout=60)
        self.assertEqual(run["state"], "cancelled", run)
        self.assertEqual(run["node"], owner)
        self.assertEqual(run["cancel_reason"], "from the other node")
        self.assertIn("TERM", self.log_lines())
        self.assertNotIn("end", self.log_lines())


if __name__ == "__main__":
    unittest.main()
