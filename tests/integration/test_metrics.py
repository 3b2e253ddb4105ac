"""GET /metrics: the Prometheus text format, checked by promtool, its tokens, and its
counters moving with real runs (commands that succeed, fail and overlap)."""
import os
import re
import shutil
import subprocess
import unittest

import skedtest

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def parse(text):
    """{(name, frozenset(labels.items())): value} of the sample lines."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


class Metrics(skedtest.ServerTest):
    def scrape(self, srv, token=None):
        status, hdrs, body = srv.request("GET", "/metrics", token=token or True)
        self.assertEqual(status, 200, body)
        self.assertTrue(hdrs["Content-Type"].startswith("text/plain; version=0.0.4"), hdrs["Content-Type"])
        return body.decode()

    def promtool(self, text):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, f"promtool check metrics:\n{p.stdout}{p.stderr}")

    def test_tokens(self):
        srv = self.start_server()
        metrics_token = open(os.path.join(srv.data_dir, "metrics.token")).read().strip()
        self.assertEqual(os.stat(os.path.join(srv.data_dir, "metrics.token")).st_mode & 0o077, 0)
        status, hdrs, body = srv.request("GET", "/metrics", token=None)
        self.assertEqual(status, 401, body)
        self.assertIn("Bearer", hdrs["WWW-Authenticate"])
        self.assertEqual(srv.request("GET", "/metrics", token="wrong" * 5)[0], 401)
        self.scrape(srv)  # the admin token
        self.scrape(srv, token=metrics_token)
        # the metrics token reads /metrics and nothing else
        self.assertEqual(srv.request("GET", "/api/v1/series", token=metrics_token)[0], 401)
        # and survives a restart (the file is kept)
        srv.stop()
        srv.start()
        self.scrape(srv, token=metrics_token)

    def test_counters_move_with_real_runs(self):
        srv = self.start_server(workers=4)
        srv.register_type(skedtest.command_type("m.ok", ["/bin/true"]))
        srv.register_type(skedtest.command_type("m.fail", ["/bin/sh", "-c", "exit 3"]))
        srv.register_type(skedtest.command_type("m.slow", ["/bin/sleep", "3"]))
        before = parse(self.scrape(srv))
        self.assertEqual(value(before, "sked_runs_started_total", type="m.ok"), 0)  # known at 0
        ids = [srv.post("/api/v1/runs", {"type": "m.ok"}, expect=(202,))["ids"][0] for _ in range(5)]
        ids += srv.post("/api/v1/runs", {"type": "m.fail", "count": 2}, expect=(202,))["ids"]
        for i in ids:
            srv.wait_run(i)
        # a series every second whose runs take 3 s: the default overlap policy skips
        s = srv.create_series(type="m.slow", schedule="every 1s", tz="UTC", params={})
        skedtest.wait_for(lambda: value(parse(self.scrape(srv)), "sked_occurrences_skipped_total",
                                        type="m.slow", reason="overlap") >= 1, 30, what="an overlap skip")
        text = self.scrape(srv)
        self.promtool(text)
        m = parse(text)
        self.assertEqual(value(m, "sked_runs_started_total", type="m.ok"), 5)
        self.assertEqual(value(m, "sked_runs_finished_total", type="m.ok", outcome="succeeded"), 5)
        self.assertEqual(value(m, "sked_runs_finished_total", type="m.fail", outcome="failed"), 2)
        self.assertEqual(value(m, "sked_runs_finished_total", type="m.fail", outcome="succeeded"), 0)
        self.assertEqual(value(m, "sked_run_duration_seconds_count", type="m.ok"), 5)
        self.assertEqual(value(m, "sked_run_start_lateness_seconds_count", type="m.ok"), 5)
        self.assertEqual(value(m, "sked_run_duration_seconds_bucket", type="m.ok", le="+Inf"), 5)
        self.assertGreaterEqual(value(m, "sked_runs", type="m.slow", state="running"), 1)
        self.assertEqual(value(m, "sked_poller_role"), 1)
        self.assertGreater(value(m, "sked_poller_turns_total"), 0)
        self.assertGreater(value(m, "sked_poller_turn_duration_seconds_count"), 0)
        self.assertGreater(value(m, "sked_poller_last_turn_timestamp_seconds"), 1.7e9)
        self.assertEqual(value(m, "sked_nodes", state="alive"), 1)
        # requests by route pattern, never by path (no ids in labels)
        self.assertEqual(value(m, "sked_http_requests_total", method="POST", route="/api/v1/runs", status="202"), 6)
        self.assertGreaterEqual(value(m, "sked_http_requests_total", method="GET", route="/api/v1/runs/{id}",
                                      status="200"), 7)
        for (name, labels) in m:
            for k, v in labels:
                if k == "route":  # a pattern: no path segment that is an id
                    self.assertTrue(v.startswith("/") or v in ("(none)", "(other)"), v)
                    self.assertFalse(any(seg.isdigit() for seg in v.split("/")), (name, v))
                self.assertNotIn(k, ("series", "run", "user", "id"), name)
        self.assertEqual(len([1 for (n, _) in m if n == "sked_build_info"]), 1)
        # a 404 without a route is counted under "(none)"
        srv.request("GET", "/nope/12345")
        m = parse(self.scrape(srv))
        self.assertEqual(value(m, "sked_http_requests_total", method="GET", route="(none)", status="404"), 1)


if __name__ == "__main__":
    unittest.main()
