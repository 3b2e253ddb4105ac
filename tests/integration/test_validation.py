"""Black-box tests of input validation: bad manifests and bad series are refused with
a message (and, over HTTP, a problem+json `field`) naming what is wrong, and nothing
is half-written; stale edits get 412; oversized and malformed bodies get 413 / 400."""
import http.client
import json
import unittest

import openapi
import skedtest
from skedtest import fixture

MANUAL = "cron:0 0 1 1 *"


def manifest(name):
    return fixture("manifests", name)


class Manifests(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=1)

    def type_names(self):
        return sorted(t["name"] for t in self.srv.get("/api/v1/types")["items"])

    def test_good_manifest_registers(self):
        # the control case: the same path accepts a valid manifest
        rc, out, err = self.srv.cli("type", "register", manifest("good.yaml"))
        self.assertEqual(rc, 0, err)
        self.assertIn("registered bb.good", out)
        self.assertEqual(self.type_names(), ["bb.good"])
        rc, out, err = self.srv.cli("type", "show", "bb.good")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["defaults"]["timeout_ms"], 30000)

    def test_bad_manifests_are_refused_naming_the_field(self):
        srv = self.srv
        srv.cli("type", "register", manifest("good.yaml"))
        before_cli = srv.cli("type", "list")
        before = self.type_names()
        cases = [
            # file, what the message must contain
            ("bad_syntax.yaml", ["bad_syntax.yaml:", ":"]),          # file:line:col
            ("unknown_key.yaml", ["defaults.timout", "unknown key"]),
            ("unknown_key.json", ["paramz", "unknown key"]),
            ("missing_name.yaml", ["name", "required"]),
            ("background_no_series.yaml", ["series", "required"]),
            ("plugin_handler.yaml", ["handler", "plug"]),
        ]
        for name, needles in cases:
            with self.subTest(manifest=name):
                rc, out, err = srv.cli("type", "register", manifest(name))
                self.assertEqual(rc, 2, f"{name}: {out} {err}")
                for n in needles:
                    self.assertIn(n, err, name)
        # bad_syntax: the position is line 3 (the unclosed flow mapping)
        rc, _, err = srv.cli("type", "register", manifest("bad_syntax.yaml"))
        self.assertRegex(err, r"bad_syntax\.yaml:\d+:\d+: ")
        self.assertEqual(self.type_names(), before)
        self.assertEqual(srv.cli("type", "list"), before_cli)

    def test_bad_type_definitions_over_http(self):
        srv = self.srv
        good = {"name": "bb.http", "handler": {"command": ["/bin/true"]}}
        cases = [
            ({"handler": {"command": ["/bin/true"]}}, "name"),
            (dict(good, defaults={"timout": "1s"}), "defaults.timout"),
            (dict(good, kind="background"), "series"),
            (dict(good, handler={"plugin": True}), "handler"),
            (dict(good, handler={"command": []}), "handler.command"),
            (dict(good, name="Bad Name"), "name"),
            (dict(good, params=[{"name": "n", "type": "integer"}]), None),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                status, reply = srv.api("POST", "/api/v1/types", body)
                self.assertProblem(status, reply, 400, field)
                if field:
                    self.assertIn(field, reply["detail"])
        status, reply = srv.api("POST", "/api/v1/types", [1, 2])
        self.assertProblem(status, reply, 400, "body")
        self.assertEqual(self.type_names(), [])
        status, reply = srv.api("GET", "/api/v1/types/bb.http")
        self.assertProblem(status, reply, 404)


class Series(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        srv = self.srv = self.start_server(workers=1)
        srv.register_type({
            "name": "bb.v", "handler": {"command": ["/bin/true"]},
            "params": [{"name": "n", "type": "int", "default": 1, "max": 10},
                       {"name": "tier", "type": "enum", "values": ["gold", "silver"]},
                       {"name": "day", "type": "date"}],
            "query_fields": [{"name": "region", "type": "enum", "values": ["eu", "us"]}],
        })
        srv.register_type({"name": "bb.bg", "kind": "background", "handler": {"command": ["/bin/true"]},
                           "series": {"schedule": "cron:0 0 1 1 *"}})
        self.keep = srv.create_series(type="bb.v", schedule=MANUAL, title="the one good series")

    def snapshot(self):
        """Everything a half-written create could leave behind."""
        srv = self.srv
        series = srv.get("/api/v1/series")["items"]
        return (json.dumps(series, sort_keys=True), len(srv.runs()))

    def test_bad_series_are_refused_naming_the_field(self):
        srv = self.srv
        before = self.snapshot()
        before_cli = srv.cli("series", "list")
        base = {"type": "bb.v", "schedule": "every 1s"}
        cases = [
            # (changes, field, text the detail must contain, accepted statuses)
            ({"type": "bb.nope"}, "type", "no such process type", (404,)),   # as docs/api.md says
            ({"type": "bb.bg"}, "type", "background", (400,)),
            ({"schedule": "cron:61 * * * *"}, "schedule", "61", (400,)),
            ({"schedule": "cron:* * *"}, "schedule", "cron", (400,)),
            ({"schedule": "RRULE:FREQ=SOMETIMES"}, "schedule", "FREQ", (400,)),
            ({"schedule": "RRULE:FREQ=DAILY;BYHOUR=25"}, "schedule", "BYHOUR", (400,)),
            ({"schedule": "every 0s"}, "schedule", "at least", (400,)),
            ({"schedule": "whenever"}, "schedule", "expected", (400,)),
            ({"params": {"nope": 1}}, "params.nope", "unknown parameter", (400,)),
            ({"params": {"n": "abc"}}, "params.n", "integer", (400,)),
            ({"params": {"n": 11}}, "params.n", "10", (400,)),
            ({"params": {"tier": "bronze"}}, "params.tier", "gold", (400,)),
            ({"params": {"day": "2025-02-29"}}, "params.day", "no such date", (400,)),
            ({"params": [1]}, "params", "object", (400,)),
            ({"query": 'region = '}, "query", "", (400,)),
            ({"query": 'colour = "red"'}, "query.colour", "", (400,)),
            ({"query": 'region = "mars"'}, None, "mars", (400,)),
            ({"start": "yesterday"}, "start", "YYYY-MM-DD", (400,)),
            ({"start": "2026-02-30T10:00:00"}, "start", "2026-02-30", (400,)),
            # a wall time in tz is an end too (resolved to its instant): this one is past
            ({"end": "2026-01-01T00:00:00"}, "end", "it never fires", (400,)),
            ({"end": "soon"}, "end", "UTC instant", (400,)),
            ({"end": "2026-02-30T00:00:00"}, "end", "wall time", (400,)),
            ({"count": 0}, "count", "", (400,)),
            ({"count": "3"}, "count", "", (400,)),
            ({"bogus": 1}, "bogus", "unknown field", (400,)),
            ({"background": True}, "background", "unknown field", (400,)),
            ({"enabled": "yes"}, "enabled", "", (400,)),
        ]
        for changes, field, text, statuses in cases:
            with self.subTest(changes=changes):
                body = dict(base, **changes)
                status, reply = srv.api("POST", "/api/v1/series", body)
                self.assertIn(status, statuses, reply)
                self.assertProblem(status, reply, status, field)
                self.assertIn(text, reply["detail"])
        # missing required fields
        for body, field in (({"schedule": "every 1s"}, "type"), ({"type": "bb.v"}, "schedule")):
            status, reply = srv.api("POST", "/api/v1/series", body)
            self.assertProblem(status, reply, 400, field)

        # the CLI: exit 2 and the server's message naming the field
        cli_cases = [
            (["--type", "bb.nope", "--schedule", "every 1s"], "type"),
            (["--type", "bb.v", "--schedule", "cron:61 * * * *"], "schedule"),
            (["--type", "bb.v", "--schedule", "RRULE:FREQ=SOMETIMES"], "schedule"),
            (["--type", "bb.v", "--schedule", "every 1s", "--param", "nope=1"], "params.nope"),
            (["--type", "bb.v", "--schedule", "every 1s", "--param", "n=abc"], "params.n"),
            (["--type", "bb.v", "--schedule", "every 1s", "--params", '{"tier": 3}'], "params.tier"),
            (["--type", "bb.v", "--schedule", "every 1s", "--query", "region =="], "query"),
            (["--type", "bb.v", "--schedule", "every 1s", "--start", "tomorrow"], "start"),
            (["--type", "bb.v", "--schedule", "every 1s", "--end", "2026-01-01"], "end"),
            (["--type", "bb.v", "--schedule", "every 1s", "--count", "0"], "count"),
            (["--type", "bb.v", "--schedule", "every 1s", "--params", "[1]"], "params"),
        ]
        for args, field in cli_cases:
            with self.subTest(cli=args):
                rc, out, err = srv.cli("series", "create", *args)
                self.assertEqual(rc, 2, f"{args}: {out} {err}")
                self.assertIn(field, err)
                self.assertEqual(out, "")

        self.assertEqual(self.snapshot(), before)
        self.assertEqual(srv.cli("series", "list"), before_cli)

    def test_bad_zone_is_refused_naming_tz(self):
        srv = self.srv
        before = self.snapshot()
        status, reply = srv.api("POST", "/api/v1/series", {"type": "bb.v", "schedule": "every 1s",
                                                            "tz": "Mars/Olympus"})
        self.assertProblem(status, reply, 400, "tz")
        self.assertIn("Mars/Olympus", reply["detail"])
        rc, out, err = srv.cli("series", "create", "--type", "bb.v", "--schedule", "every 1s", "--tz", "Mars/Olympus")
        self.assertEqual(rc, 2, err)
        self.assertIn("Mars/Olympus", err)
        self.assertIn("tz", err)
        # an edit to a bad zone too
        status, reply = srv.api("PATCH", f"/api/v1/series/{self.keep['id']}", {"tz": "Europe/Nowhere"})
        self.assertProblem(status, reply, 400, "tz")
        self.assertEqual(self.snapshot(), before)

    def test_bad_run_filters(self):
        srv = self.srv
        status, reply = srv.api("GET", "/api/v1/runs?state=bogus")
        self.assertProblem(status, reply, 400, "state")
        status, reply = srv.api("GET", "/api/v1/runs?limit=0")
        self.assertProblem(status, reply, 400, "limit")
        status, reply = srv.api("GET", f"/api/v1/series/{self.keep['id']}/occurrences?from=2026-01-02T00:00:00Z"
                                       "&to=2026-01-01T00:00:00Z")
        self.assertProblem(status, reply, 400, "to")
        status, reply = srv.api("GET", f"/api/v1/series/{self.keep['id']}/occurrences?from=yesterday")
        self.assertProblem(status, reply, 400, "from")
        rc, out, err = srv.cli("runs", "list", "--state", "bogus")
        self.assertEqual(rc, 2, err)
        self.assertIn("state", err)
        # "yesterday" is a CLI word (docs/cli.md), turned into an instant before it is sent
        rc, out, err = srv.cli("series", "occurrences", str(self.keep["id"]), "--from", "soonish")
        self.assertEqual(rc, 2, err)
        self.assertIn("--from", err)

    def test_bad_edits_change_nothing(self):
        srv = self.srv
        sid = self.keep["id"]
        before = self.snapshot()
        for patch, field in (({"schedule": "cron:99 * * * *"}, "schedule"), ({"params": {"n": 99}}, "params.n"),
                             ({"type": "bb.bg"}, "type"), ({"count": -1}, "count"), ({"nope": 1}, "nope")):
            with self.subTest(patch=patch):
                status, reply = srv.api("PATCH", f"/api/v1/series/{sid}", patch)
                self.assertProblem(status, reply, 400, field)
        self.assertEqual(self.snapshot(), before)
        status, reply = srv.api("PATCH", "/api/v1/series/424242", {"title": "x"})
        self.assertProblem(status, reply, 404)
        rc, _, err = srv.cli("series", "edit", "424242", "--title", "x")
        self.assertEqual(rc, 2, err)

    def test_stale_if_match_gets_412_and_changes_nothing(self):
        srv = self.srv
        sid = self.keep["id"]
        status, hdrs, s = srv.api_full("GET", f"/api/v1/series/{sid}")
        self.assertEqual(status, 200)
        etag = hdrs["ETag"]
        self.assertEqual(etag, f'"{s["version"]}"')
        # a fresh If-Match succeeds and moves the version
        status, hdrs, s2 = srv.api_full("PATCH", f"/api/v1/series/{sid}", {"title": "renamed"},
                                        headers={"If-Match": etag})
        self.assertEqual(status, 200, s2)
        self.assertEqual(s2["title"], "renamed")
        self.assertEqual(s2["version"], s["version"] + 1)
        self.assertEqual(hdrs["ETag"], f'"{s2["version"]}"')
        # the old ETag is stale now
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "lost update", "schedule": "every 5s"},
                                headers={"If-Match": etag})
        self.assertProblem(status, reply, 412)
        after = srv.get(f"/api/v1/series/{sid}")
        self.assertEqual(after, s2)
        # the CLI: --if-version with the stale version, exit 2, nothing changed
        rc, out, err = srv.cli("series", "edit", str(sid), "--title", "cli lost update", "--if-version",
                               str(s["version"]))
        self.assertEqual(rc, 2, f"{out} {err}")
        self.assertEqual(srv.get(f"/api/v1/series/{sid}"), s2)
        # a garbage If-Match is a 400, not a silent overwrite
        status, reply = srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "x"}, headers={"If-Match": "abc"})
        self.assertProblem(status, reply, 400)
        self.assertEqual(srv.get(f"/api/v1/series/{sid}"), s2)


class Bodies(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=1)
        self.srv.register_type({"name": "bb.b", "handler": {"command": ["/bin/true"]}})

    def raw(self, method, path, body, chunked=False):
        """Sends body (bytes) and returns (status, parsed JSON).  The server may answer
        before reading everything: a reset while sending is tolerated."""
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30 * skedtest.SLOW)
        try:
            conn.putrequest(method, path)
            conn.putheader("Authorization", f"Bearer {self.srv.token}")
            conn.putheader("Content-Type", "application/json")
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            else:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            try:
                if chunked:
                    step = 64 * 1024
                    for i in range(0, len(body), step):
                        part = body[i:i + step]
                        conn.send(b"%x\r\n%s\r\n" % (len(part), part))
                    conn.send(b"0\r\n\r\n")
                else:
                    conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
            resp = conn.getresponse()
            data = resp.read()
            # not through Server.request: held against docs/openapi.yaml here
            openapi.check(method, path, body, resp.status, resp.headers, data)
            return resp.status, resp.getheader("Content-Type"), (json.loads(data) if data else None)
        finally:
            conn.close()

    def big_series(self, size):
        pad = "x" * size
        return json.dumps({"type": "bb.b", "schedule": "every 1s", "title": "t", "owner": pad}).encode()

    def test_body_too_large_gets_413(self):
        before = self.srv.get("/api/v1/series")
        body = self.big_series(3 * 1024 * 1024)
        for chunked in (False, True):
            with self.subTest(chunked=chunked):
                status, ctype, reply = self.raw("POST", "/api/v1/series", body, chunked=chunked)
                self.assertEqual(status, 413, reply)
                self.assertEqual(ctype, "application/problem+json")
                self.assertEqual(reply["status"], 413)
                self.assertIn("limit", reply["detail"])
        status, _, reply = self.raw("POST", "/api/v1/types", b"[" + b"1," * (700 * 1024) + b"1]")
        self.assertEqual(status, 413, reply)
        # the server is fine afterwards and nothing was written
        self.assertEqual(self.srv.get("/api/v1/series"), before)
        # control: a body under the limit reaches validation (owner too long: 400)
        status, _, reply = self.raw("POST", "/api/v1/series", self.big_series(200 * 1024))
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply.get("field"), "owner")

    def test_invalid_json_names_line_and_column(self):
        body = b'{\n  "type": "bb.b",\n  "schedule": \n}\n'
        status, ctype, reply = self.raw("POST", "/api/v1/series", body)
        self.assertEqual(status, 400, reply)
        self.assertEqual(ctype, "application/problem+json")
        self.assertEqual(reply["field"], "body")
        self.assertRegex(reply["detail"], r"line 4, column \d+")
        # duplicate keys are refused too, not silently resolved
        status, _, reply = self.raw("POST", "/api/v1/series",
                                    b'{"type": "bb.b", "schedule": "every 1s", "schedule": "every 2s"}')
        self.assertEqual(status, 400, reply)
        self.assertIn("line 1", reply["detail"])
        status, _, reply = self.raw("POST", "/api/v1/types", b'{"name": "bb.x",')
        self.assertEqual(status, 400, reply)
        self.assertRegex(reply["detail"], r"line \d+, column \d+")
        self.assertEqual(self.srv.get("/api/v1/series")["items"], [])
        self.assertEqual([t["name"] for t in self.srv.get("/api/v1/types")["items"]], ["bb.b"])


if __name__ == "__main__":
    unittest.main()
