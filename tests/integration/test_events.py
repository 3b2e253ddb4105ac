"""Live events (issue 13): GET /api/v1/events as Server-Sent Events of what is
committed, resumable with Last-Event-ID (also across a restart), with filters, a
gap event past the window, heartbeats and per-address and total limits;
`sked runs follow` (exit codes 0, 1, 3) and `sked runs watch` on it; on PostgreSQL
an event committed on one node is seen by a stream on another.

Witnesses: the stream (read by a raw HTTP client here), the API's own run and
message listings, and the store read directly (the events table)."""
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import unittest
import urllib.parse

import skedtest
from skedtest import wait_for

TERMINAL = ("succeeded", "failed", "lost", "cancelled")


class Stream:
    """One GET /api/v1/events, read line by line on a thread of its own: events
    (dicts with id, event, data) and comment lines are collected as they come."""

    def __init__(self, srv, query="", last_id=None, token=True, cookie=None):
        u = urllib.parse.urlparse(srv.url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60 * skedtest.SLOW)
        hdrs = {"Accept": "text/event-stream"}
        if token:
            hdrs["Authorization"] = f"Bearer {srv.token if token is True else token}"
        if cookie:
            hdrs["Cookie"] = cookie
        if last_id is not None:
            hdrs["Last-Event-ID"] = str(last_id)
        self.conn.request("GET", "/api/v1/events" + query, headers=hdrs)
        self.sock = self.conn.sock  # the response takes it over
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = self.resp.headers
        self.events, self.comments = [], 0
        self.lock = threading.Lock()
        self.ended = False
        if self.status == 200:
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
        else:
            self.body = json.loads(self.resp.read() or b"null")

    def _read(self):
        cur = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if line == "":
                    if "data" in cur:
                        ev = {"id": int(cur["id"]) if "id" in cur else None, "event": cur.get("event", "message"),
                              "data": json.loads(cur["data"])}
                        with self.lock:
                            self.events.append(ev)
                    cur = {}
                elif line.startswith(":"):
                    with self.lock:
                        self.comments += 1
                else:
                    k, _, v = line.partition(":")
                    cur[k] = v[1:] if v.startswith(" ") else v
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass
        self.ended = True

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def wait(self, cond, timeout=30, what="events"):
        wait_for(lambda: cond(self.snapshot()), timeout, what=what)
        return self.snapshot()

    def close(self):
        """Drops the connection (as a network failure would)."""
        try:
            self.sock.shutdown(2)
        except OSError:
            pass
        self.sock.close()


def run_events(events, run_id):
    return [e for e in events if e["data"].get("run_id") == run_id]


def ended(events, run_id):
    return any(e["event"] == "run" and e["data"]["state"] in TERMINAL for e in run_events(events, run_id))


class EventsBase(skedtest.ServerTest):
    def logger_type(self, srv, name="ev.logger", lines=3, pause=0.0, code=0):
        script = self.path(name + ".sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n")
            for i in range(1, lines + 1):
                f.write(f"echo line{i}\n")
                if pause:
                    f.write(f"sleep {pause}\n")
            f.write(f"exit {code}\n")
        os.chmod(script, 0o755)
        srv.register_type(skedtest.command_type(name, [script]))

    def enqueue(self, srv, type_):
        return srv.post("/api/v1/runs", {"type": type_})["ids"][0]

    def stream(self, srv, query="", last_id=None):
        s = Stream(srv, query, last_id)
        self.addCleanup(s.close)
        self.assertEqual(s.status, 200)
        self.assertTrue(s.headers["Content-Type"].startswith("text/event-stream"), s.headers["Content-Type"])
        # the hub has registered the stream once its first line is in
        wait_for(lambda: s.comments >= 1, 10, what="the stream's first line")
        return s


class StreamTest(EventsBase):
    def test_state_changes_and_messages_in_order(self):
        srv = self.start_server()
        self.logger_type(srv, lines=3)
        s = self.stream(srv)
        rid = self.enqueue(srv, "ev.logger")
        evs = run_events(s.wait(lambda e: ended(e, rid), what="the run's end"), rid)
        ids = [e["id"] for e in evs]
        self.assertEqual(ids, sorted(set(ids)), "ids grow, no repeats")
        states = [e["data"]["state"] for e in evs if e["event"] == "run"]
        self.assertEqual(states, ["queued", "running", "succeeded"])
        msgs = [e["data"] for e in evs if e["event"] == "message"]
        self.assertEqual([m["text"] for m in msgs], ["line1", "line2", "line3"])
        self.assertEqual([m["seq"] for m in msgs], sorted(m["seq"] for m in msgs))
        # messages between running and the end, as they were committed
        kinds = [e["event"] if e["event"] != "run" else e["data"]["state"] for e in evs]
        self.assertEqual(kinds, ["queued", "running", "message", "message", "message", "succeeded"])
        # the same as the API lists afterwards
        listed = srv.get(f"/api/v1/runs/{rid}/messages")["items"]
        self.assertEqual([(m["seq"], m["text"]) for m in listed], [(m["seq"], m["text"]) for m in msgs])
        self.assertEqual(evs[-1]["data"]["exit_code"], 0)
        self.assertEqual(evs[-1]["data"]["type"], "ev.logger")

    def test_filters(self):
        srv = self.start_server()
        self.logger_type(srv, "ev.a", lines=1)
        self.logger_type(srv, "ev.b", lines=1)
        sid = srv.create_series(type="ev.a", title="a", schedule="RRULE:FREQ=YEARLY;COUNT=1", tz="UTC")["id"]
        by_type = self.stream(srv, "?type=ev.b")
        by_series = self.stream(srv, f"?series={sid}")
        runs_only = self.stream(srv, "?event=run")
        a = self.enqueue(srv, "ev.a")
        b = self.enqueue(srv, "ev.b")
        by_run = self.stream(srv, f"?run={b}&last_event_id=0")
        srv.trigger(sid)
        t = srv.runs(series=sid)
        wait_for(lambda: srv.runs(series=sid) and srv.runs(series=sid)[0]["state"] in TERMINAL, 30,
                 what="the series' run")
        srun = srv.runs(series=sid)[0]["id"]
        del t
        evs = by_type.wait(lambda e: ended(e, b))
        self.assertEqual({e["data"]["type"] for e in evs}, {"ev.b"})
        evs = by_series.wait(lambda e: ended(e, srun))
        self.assertEqual({e["data"]["series_id"] for e in evs}, {sid})
        self.assertNotIn(a, {e["data"]["run_id"] for e in evs})
        evs = runs_only.wait(lambda e: ended(e, a) and ended(e, b))
        self.assertEqual({e["event"] for e in evs}, {"run"})
        evs = by_run.wait(lambda e: ended(e, b))
        self.assertEqual({e["data"]["run_id"] for e in evs}, {b})
        self.assertIn("message", {e["event"] for e in evs})

    def test_bad_arguments_are_400_naming_them(self):
        srv = self.start_server()
        for query, field in (("?series=x", "series"), ("?run=0", "run"), ("?event=run,bogus", "event"),
                             ("?last_event_id=-1", "last_event_id"), ("?type=", "type")):
            status, body = srv.api("GET", "/api/v1/events" + query)
            self.assertProblem(status, body, 400, field)
        status, body = srv.api("GET", "/api/v1/events", headers={"Last-Event-ID": "x1"})
        self.assertProblem(status, body, 400, "Last-Event-ID")
        status, body = srv.api("GET", "/api/v1/events", token=None)
        self.assertEqual(status, 401, body)

    def test_a_viewer_and_a_session_may_read_it_a_revoked_token_not(self):
        srv = self.start_server()
        status, body = srv.api("POST", "/api/v1/users", {"name": "vic", "role": "viewer",
                                                          "password": "correct horse battery staple 42"})
        self.assertEqual(status, 201, body)
        status, tok = srv.api("POST", "/api/v1/tokens", {"name": "t", "user": "vic"})
        self.assertEqual(status, 201, tok)
        s = Stream(srv, token=tok["token"])
        self.addCleanup(s.close)
        self.assertEqual(s.status, 200)
        status, hdrs, body = srv.api_full("POST", "/api/v1/session", {"name": "vic",
                                                                      "password": "correct horse battery staple 42"},
                                          token=None)
        self.assertEqual(status, 201, body)
        cookie = hdrs["Set-Cookie"].split(";", 1)[0]
        c = Stream(srv, token=None, cookie=cookie)
        self.addCleanup(c.close)
        self.assertEqual(c.status, 200)
        status, _ = srv.api("DELETE", f"/api/v1/tokens/{tok['id']}")
        self.assertIn(status, (200, 204))
        gone = Stream(srv, token=tok["token"])
        self.assertEqual(gone.status, 401)

    def test_rolled_back_change_never_shows(self):
        """A run inserted in a transaction that rolls back made an event row inside it
        (the trigger); no stream ever sees it, and the next committed event takes
        the id the rolled-back one had: streams cannot skip or see what was not
        committed."""
        srv = self.start_server()
        self.logger_type(srv, lines=1)
        s = self.stream(srv)
        first = self.enqueue(srv, "ev.logger")
        s.wait(lambda e: ended(e, first))
        before = max(e["id"] for e in s.snapshot())
        insert = ("INSERT INTO runs(id, type, trigger, state, params, queued_at, not_before) "
                  "VALUES(999999, 'ev.logger', 'manual', 'queued', '{}', 1, 1)")
        if srv.postgres:
            skedtest.psql(srv.db, f"BEGIN; {insert}; SELECT pg_sleep(1); ROLLBACK;")
        else:
            con = sqlite3.connect(os.path.join(srv.data_dir, "sked.db"), isolation_level=None, timeout=30)
            con.execute("BEGIN IMMEDIATE")
            con.execute(insert)
            n = con.execute("SELECT count(*) FROM events WHERE run_id = 999999").fetchone()[0]
            self.assertEqual(n, 1, "the trigger wrote the event inside the transaction")
            time.sleep(1)
            con.execute("ROLLBACK")
            con.close()
        second = self.enqueue(srv, "ev.logger")
        evs = s.wait(lambda e: ended(e, second))
        self.assertNotIn(999999, {e["data"]["run_id"] for e in evs})
        after = [e["id"] for e in evs if e["id"] > before]
        self.assertEqual(after, list(range(before + 1, before + 1 + len(after))), "no hole, no phantom")


class ResumeTest(EventsBase):
    def test_drop_and_resume_loses_nothing(self):
        srv = self.start_server()
        self.logger_type(srv, lines=6, pause=0.3)
        whole = self.stream(srv)
        part = self.stream(srv)
        rid = self.enqueue(srv, "ev.logger")
        seen = part.wait(lambda e: sum(x["event"] == "message" for x in run_events(e, rid)) >= 2,
                         what="two messages")
        part.close()
        last = seen[-1]["id"]
        wait_for(lambda: srv.run(rid)["state"] in TERMINAL, 30, what="the run's end")
        rest = self.stream(srv, last_id=last)
        rest.wait(lambda e: ended(e, rid))
        full = whole.wait(lambda e: ended(e, rid))
        got = [(e["id"], e["event"]) for e in seen + rest.snapshot()]
        self.assertEqual(got, [(e["id"], e["event"]) for e in full], "nothing lost, nothing twice")

    def test_resume_across_restart(self):
        srv = self.start_server()
        self.logger_type(srv, lines=2)
        s = self.stream(srv)
        r1 = self.enqueue(srv, "ev.logger")
        seen = s.wait(lambda e: ended(e, r1))
        last = seen[1]["id"]  # the running event: the rest of r1 comes again
        missed = [e["id"] for e in seen if e["id"] > last]
        s.close()
        srv.stop()
        srv.start()
        r2 = self.enqueue(srv, "ev.logger")
        again = self.stream(srv, last_id=last)
        evs = again.wait(lambda e: ended(e, r2))
        ids = [e["id"] for e in evs]
        self.assertEqual(ids[:len(missed)], missed, "what was committed before the restart comes first")
        self.assertEqual(ids, sorted(set(ids)))
        self.assertTrue(all(i > last for i in ids))

    def test_too_old_last_event_id_gets_a_gap(self):
        srv = self.start_server(extra=["--events-window", "3"])
        self.logger_type(srv, lines=5)
        s = self.stream(srv)
        rid = self.enqueue(srv, "ev.logger")
        s.wait(lambda e: ended(e, rid))
        wait_for(lambda: srv.rows("SELECT min(id) AS m FROM events")[0]["m"] > 2, 30, what="the log pruned")
        g = self.stream(srv, last_id=1)
        evs = g.wait(lambda e: e, what="the gap event")
        self.assertEqual(evs[0]["event"], "gap")
        self.assertEqual(evs[0]["id"], None, "a gap is no resume point")
        self.assertEqual(evs[0]["data"]["last_event_id"], 1)
        self.assertGreater(evs[0]["data"]["oldest"], 2)
        # a resume inside the window has none
        newest = max(e["id"] for e in s.snapshot())
        ok = self.stream(srv, last_id=newest - 1)
        evs = ok.wait(lambda e: e)
        self.assertEqual([e["id"] for e in evs], [newest])


class LimitsTest(EventsBase):
    def test_per_address_limit_and_total(self):
        srv = self.start_server(extra=["--events-max-per-ip", "2"])
        self.stream(srv)
        self.stream(srv)
        s = Stream(srv)
        self.assertEqual(s.status, 429)
        self.assertEqual(s.body["status"], 429)
        self.assertIn("--events-max-per-ip", s.body["detail"])
        self.assertTrue(s.headers["Content-Type"].startswith("application/problem+json"))
        status, body = srv.api("GET", "/api/v1/events")
        self.assertProblem(status, body, 429)
        other = self.start_server("other", extra=["--events-max", "1"])
        self.stream(other)
        status, body = other.api("GET", "/api/v1/events")
        self.assertProblem(status, body, 503)
        self.assertIn("--events-max", body["detail"])

    def test_a_client_that_does_not_read_is_dropped(self):
        """Its events wait for it up to 1 MiB (beyond what the sockets' buffers hold),
        then it is dropped once they have not gone down for a heartbeat interval, and
        the server goes on serving the others, also one that reads a backlog of many
        MiB (it is fed as it reads, not dropped)."""
        srv = self.start_server(extra=["--events-heartbeat", "1000"])
        script = self.path("chatty.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nseq -f 'a line long enough to fill buffers quickly, number %g' 1 19000\n")
        os.chmod(script, 0o755)
        srv.register_type(skedtest.command_type("ev.chatty", [script]))
        import socket
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", srv.port))
        self.addCleanup(sock.close)
        sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {srv.token}\r\n\r\n"
                     .encode())
        reader = self.stream(srv)  # one that reads
        ids = [self.enqueue(srv, "ev.chatty") for _ in range(4)]
        wait_for(lambda: "it does not read" in srv.stderr(), 120, what="the silent client dropped")
        for rid in ids:
            reader.wait(lambda e, rid=rid: ended(e, rid), 120)
        # what it had not read is still in the socket, then the connection ends (a bound
        # for a loaded machine, not a measure)
        sock.settimeout(120 * skedtest.SLOW)
        got = 0
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += len(chunk)
        self.assertGreater(got, 0)

    def test_heartbeat(self):
        srv = self.start_server(extra=["--events-heartbeat", "200"])
        s = self.stream(srv)
        wait_for(lambda: s.comments >= 4, 20, what="heartbeat comment lines")
        self.assertEqual(s.snapshot(), [], "heartbeats are comments, not events")
        out, _ = subprocess.Popen([skedtest.SKED, "serve", "--print-config", "--events-heartbeat", "200"],
                                  stdout=subprocess.PIPE, text=True).communicate()
        self.assertIn("events-heartbeat: 200", out)


class CliTest(EventsBase):
    def follow(self, srv, *args, timeout=60):
        return srv.cli("runs", "follow", *args, timeout=timeout)

    def test_follow_exit_codes(self):
        srv = self.start_server()
        self.logger_type(srv, "ev.ok", lines=3, pause=0.2)
        self.logger_type(srv, "ev.bad", lines=1, code=4)
        ok = self.enqueue(srv, "ev.ok")
        rc, out, err = self.follow(srv, str(ok))
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual([line.split()[-1] for line in lines[:3]], ["line1", "line2", "line3"], out)
        self.assertEqual(lines[-1], f"run {ok} succeeded (exit 0)")
        self.assertNotIn("\033[", out, "no colour when stdout is not a terminal")
        bad = self.enqueue(srv, "ev.bad")
        rc, out, err = self.follow(srv, str(bad))
        self.assertEqual(rc, 1, err)
        self.assertIn(f"run {bad} failed (exit 4)", out)
        # finished long ago: the log, then the outcome, at once
        rc, out, _ = self.follow(srv, str(ok))
        self.assertEqual((rc, out.count("line")), (0, 3))
        rc, _, err = self.follow(srv, "987654")
        self.assertEqual(rc, 2, err)

    def test_follow_ends_3_when_the_stream_ends_first(self):
        srv = self.start_server()
        self.logger_type(srv, "ev.slow", lines=50, pause=0.2)
        rid = self.enqueue(srv, "ev.slow")
        p = subprocess.Popen([skedtest.SKED, "runs", "follow", str(rid), "--reconnect", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=srv.cli_env())
        self.addCleanup(lambda: p.poll() is None and p.kill())
        first = p.stdout.readline()  # it follows: the first message is out
        self.assertTrue(first.endswith("line1\n"), first)
        srv.kill9()  # the connection drops and the run has not ended
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 3, err)
        self.assertNotIn("succeeded", out)
        # the stream's end, or a read of the run's state it was making when the server died
        self.assertRegex(err, "event stream ended|cannot reach sked")

    def test_watch_prints_each_state_change(self):
        srv = self.start_server()
        self.logger_type(srv, "ev.w", lines=1)
        self.logger_type(srv, "ev.other", lines=1)
        env = srv.cli_env()
        env["TZ"] = "UTC"
        # SIGINT as a terminal's ^C sends it: by default (a background job, as CI may run
        # the suite in, inherits SIGINT ignored)
        p = subprocess.Popen([skedtest.SKED, "runs", "watch", "--type", "ev.w"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.addCleanup(lambda: p.poll() is None and p.kill())
        wait_for(lambda: srv.rows("SELECT 1 AS x") is not None, 5)
        time.sleep(0.5 * skedtest.SLOW)  # the stream opens (no output before the first event)
        other = self.enqueue(srv, "ev.other")
        rid = self.enqueue(srv, "ev.w")
        wait_for(lambda: srv.run(rid)["state"] in TERMINAL and srv.run(other)["state"] in TERMINAL, 30)
        time.sleep(0.5 * skedtest.SLOW)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60 * skedtest.SLOW)
        lines = out.splitlines()
        self.assertEqual(len(lines), 3, out + err)
        self.assertEqual([line.split()[-1] if "exit" not in line else line.split()[-3] for line in lines],
                         ["queued", "running", "succeeded"], out + err)
        for line in lines:
            self.assertRegex(line, rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d run {rid} ev.w attempt 1 ")
        self.assertNotIn(f"run {other} ", out)


@unittest.skipUnless(skedtest.PG, "PostgreSQL only (SKED_TEST_PG)")
class ClusterTest(EventsBase):
    def test_event_on_one_node_seen_on_another(self):
        a, b = self.start_cluster(2)
        self.logger_type(a, "ev.c", lines=2)
        s = self.stream(b)
        rid = self.enqueue(a, "ev.c")
        evs = run_events(s.wait(lambda e: ended(e, rid), what="node A's run on node B's stream"), rid)
        self.assertEqual([e["data"]["state"] for e in evs if e["event"] == "run"][0], "queued")
        ids = [e["id"] for e in evs]
        self.assertEqual(ids, sorted(set(ids)))
        self.assertEqual(sum(e["event"] == "message" for e in evs), 2)


if __name__ == "__main__":
    unittest.main()
