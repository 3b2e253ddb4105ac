"""Black-box tests of the HTTP API's request rules (docs/api.md "Request rules"): the
framing of a request (RFC 9112 §6.1, §6.3, §3.2: Content-Length, Transfer-Encoding,
Host), the strict decoding of paths and query arguments, the arguments and body
members each route declares, If-Match, the size limits (413, 414, 431), and the
connection limits and idle timeout of `sked serve`, up to a slowloris attack
(Debian's slowhttptest) during which normal requests still answer.

Framing tests speak raw HTTP over sockets: urllib would not send what they send.
Each refusal is checked twice: the status and problem+json `field`, and that
nothing changed (a smuggled second request did not run, a series is still there).
The requests here are malformed on purpose, so their replies are held against
docs/openapi.yaml with contract="reply-only" (skedtest.Server.request): the status
and the problem must be the document's, the arguments sent need not be; the raw
exchanges of raw_problem are held the same way (openapi.check).  The control cases
(what is accepted) are checked in full."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
import unittest

import email.message

import openapi
import skedtest
from skedtest import SLOW, wait_for

BAD = "reply-only"  # the contract of a request malformed on purpose (skedtest.Server.request)

MANUAL = "cron:0 0 1 1 *"


# ---- raw HTTP ----

def raw_exchange(port, data, timeout=10, read_after=True):
    """Sends data on a fresh connection and reads until the server closes it or
    `timeout` passes.  Returns (bytes received, how it ended: "eof", "reset",
    "timeout")."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    out = b""
    end = "timeout"
    try:
        s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                end = "eof"
                break
            out += b
    except socket.timeout:
        end = "timeout"
    except (ConnectionResetError, BrokenPipeError):
        end = "reset"
    finally:
        s.close()
    return out, end


def responses(data):
    """The HTTP responses in data: [(status, {header: value}, body bytes)], by
    Content-Length."""
    out = []
    while data.startswith(b"HTTP/1."):
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        out.append((status, hdrs, rest[:n]))
        data = rest[n:]
    return out


def hold_to_document(request, status, hdrs, body):
    """Holds the reply to a raw request (its bytes) against docs/openapi.yaml, as
    Server.request does, with the contract of a request malformed on purpose."""
    method, target = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
    headers = email.message.Message()  # case-insensitive, as http.client's
    for k, v in hdrs.items():
        headers[k] = v
    openapi.check(method, target, None, status, headers, body, contract=BAD)


def one_response(test, data):
    rs = responses(data)
    test.assertEqual(len(rs), 1, f"expected one response, got: {data[:2000]!r}")
    return rs[0]


class Base(skedtest.ServerTest):
    extra = ()

    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=1, extra=list(self.extra))
        self.srv.register_type(skedtest.command_type("bb.strict", ["/bin/true"], feature="strictness"))
        self.auth = f"Authorization: Bearer {self.srv.token}\r\n"

    def series(self, **kw):
        return self.srv.create_series(type="bb.strict", schedule=MANUAL, **kw)

    def exists(self, sid):
        return self.srv.api("GET", f"/api/v1/series/{sid}")[0] == 200

    def assertRefused(self, status, body, want_status, field):
        """A problem reply with the field at fault (field=None: none)."""
        self.assertProblem(status, body, want_status, field)
        if field is None:
            self.assertNotIn("field", body, body)

    def raw_problem(self, data, want_status, field, closed=True):
        """Sends raw request bytes; the one reply must be a problem naming field and,
        with closed, the connection closed after it (not left open for more)."""
        out, end = raw_exchange(self.srv.port, data)
        status, hdrs, body = one_response(self, out)
        self.assertEqual(hdrs.get("content-type"), "application/problem+json", out)
        self.assertRefused(status, json.loads(body), want_status, field)
        hold_to_document(data, status, hdrs, body)
        if closed:
            self.assertEqual(hdrs.get("connection"), "close", out)
            self.assertEqual(end, "eof", f"connection not closed after the reply: {out!r}")
        return json.loads(body)


class Framing(Base):
    def smuggle(self, sid):
        """A complete second request (deleting series sid), to hide in a first one's body."""
        return (f"DELETE /api/v1/series/{sid} HTTP/1.1\r\nHost: x\r\n{self.auth}"
                "Content-Length: 0\r\n\r\n").encode()

    def test_two_content_lengths_are_refused_and_nothing_is_smuggled(self):
        sid = self.series()["id"]
        hidden = self.smuggle(sid)
        head = f"POST /api/v1/poller/init HTTP/1.1\r\nHost: x\r\n{self.auth}"
        for lengths in ((2, 2 + len(hidden)), (2 + len(hidden), 2), (2, 2)):
            with self.subTest(lengths=lengths):
                cl = "".join(f"Content-Length: {n}\r\n" for n in lengths)
                self.raw_problem((head + cl + "\r\n{}").encode() + hidden, 400, "Content-Length")
                self.assertTrue(self.exists(sid), "the smuggled DELETE ran")

    def test_content_length_with_transfer_encoding_is_refused(self):
        sid = self.series()["id"]
        hidden = self.smuggle(sid)
        body = b"2\r\n{}\r\n0\r\n\r\n"
        for te in ("chunked", "Chunked"):
            with self.subTest(te=te):
                data = (f"POST /api/v1/poller/init HTTP/1.1\r\nHost: x\r\n{self.auth}"
                        f"Content-Length: {len(body)}\r\nTransfer-Encoding: {te}\r\n\r\n").encode() + body + hidden
                self.raw_problem(data, 400, "Transfer-Encoding")
                self.assertTrue(self.exists(sid), "the smuggled DELETE ran")

    def test_transfer_encoding_must_end_in_chunked(self):
        sid = self.series()["id"]
        head = f"POST /api/v1/series/{sid}/pause HTTP/1.1\r\nHost: x\r\n{self.auth}"
        cases = [
            ("Transfer-Encoding: gzip\r\n", 400),                       # not chunked: no way to find the end
            ("Transfer-Encoding: chunked, gzip\r\n", 400),              # chunked not last
            ("Transfer-Encoding: chunked, chunked\r\n", 400),           # twice
            ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400),
            ("Transfer-Encoding: identity\r\n", 400),
            ("Transfer-Encoding:\r\n", 400),
            ("Transfer-Encoding: gzip, chunked\r\n", 501),              # a coding we do not decode
        ]
        for te, status in cases:
            with self.subTest(te=te):
                t0 = time.monotonic()
                self.raw_problem((head + te + "\r\n" + 'f\r\n{"note":"smug"}\r\n0\r\n\r\n').encode(), status,
                                 "Transfer-Encoding")
                # answered at once, not after the idle timeout
                self.assertLess(time.monotonic() - t0, 10 * SLOW)
        self.assertTrue(self.srv.get(f"/api/v1/series/{sid}")["enabled"], "a refused pause paused")
        # HTTP/1.0 has no chunked coding
        self.raw_problem(f"POST /api/v1/poller/init HTTP/1.0\r\n{self.auth}Transfer-Encoding: chunked\r\n\r\n"
                         "2\r\n{}\r\n0\r\n\r\n".encode(), 400, "Transfer-Encoding")
        # the control case: plain chunked is fine
        out, _ = raw_exchange(self.srv.port, (head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                              'f\r\n{"note":"real"}\r\n0\r\n\r\n').encode())
        status, _, body = one_response(self, out)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["pause_note"], "real")

    def test_host_is_required_once_in_http11(self):
        get = f"GET /api/v1/types HTTP/1.1\r\n{self.auth}"
        self.raw_problem((get + "\r\n").encode(), 400, "Host")
        self.raw_problem((get + "Host: a\r\nHost: b\r\n\r\n").encode(), 400, "Host")
        self.raw_problem((get + "Host: a\r\nHost: a\r\n\r\n").encode(), 400, "Host")
        self.raw_problem((get + "Host: a/b\r\n\r\n").encode(), 400, "Host")
        self.raw_problem((get + "Host: a@b\r\n\r\n").encode(), 400, "Host")
        for ok in ("127.0.0.1:8080", "[::1]:80", "sked.example", ""):
            with self.subTest(host=ok):
                out, _ = raw_exchange(self.srv.port, (get + f"Host: {ok}\r\nConnection: close\r\n\r\n").encode())
                self.assertEqual(one_response(self, out)[0], 200, out)
        # HTTP/1.0 needs none
        out, _ = raw_exchange(self.srv.port, f"GET /api/v1/types HTTP/1.0\r\n{self.auth}\r\n".encode())
        self.assertEqual(one_response(self, out)[0], 200, out)
        # ... but not several (RFC 9112 §3.2: any request)
        self.raw_problem(f"GET /api/v1/types HTTP/1.0\r\n{self.auth}Host: a\r\nHost: b\r\n\r\n".encode(), 400,
                         "Host")

    def test_header_names_and_singletons(self):
        sid = self.series()["id"]
        hidden = self.smuggle(sid)
        # "Content-Length : N" is not a Content-Length here; a proxy may think it is
        self.raw_problem((f"POST /api/v1/poller/init HTTP/1.1\r\nHost: x\r\n{self.auth}"
                          f"Content-Length : {2 + len(hidden)}\r\n\r\n{{}}").encode() + hidden, 400, None)
        self.assertTrue(self.exists(sid))
        self.raw_problem((f"GET /api/v1/types HTTP/1.1\r\nHost: x\r\n{self.auth}{self.auth}\r\n").encode(), 400,
                         "Authorization")
        self.raw_problem((f"PATCH /api/v1/series/{sid} HTTP/1.1\r\nHost: x\r\n{self.auth}If-Match: \"1\"\r\n"
                          "If-Match: \"2\"\r\nContent-Length: 2\r\n\r\n{}").encode(), 400, "If-Match")

    def test_a_refused_body_is_read_and_dropped_not_run(self):
        """A request refused at its headers (an unknown argument, a body where none is
        taken, one over the limit) still has its body read: what it holds is not
        taken for the next request, and the connection goes on."""
        sid = self.series()["id"]
        hidden = self.smuggle(sid)
        last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        cases = ((f"POST /api/v1/series/{sid}/pause?bogus=1", "", 400, "bogus"),
                 (f"GET /api/v1/series/{sid}", "", 400, "body"),
                 (f"POST /api/v1/series/{sid}/resume", "If-Match: \"1\"\r\n", 400, "If-Match"))
        for head, extra, status, field in cases:
            for chunked in (False, True):
                with self.subTest(head=head, chunked=chunked):
                    if chunked:
                        framing = "Transfer-Encoding: chunked\r\n"
                        body = b"%x\r\n" % len(hidden) + hidden + b"\r\n0\r\n\r\n"
                    else:
                        framing = f"Content-Length: {len(hidden)}\r\n"
                        body = hidden
                    data = (f"{head} HTTP/1.1\r\nHost: x\r\n{self.auth}{extra}{framing}\r\n").encode() + body + last
                    out, _ = raw_exchange(self.srv.port, data)
                    rs = responses(out)
                    self.assertEqual([r[0] for r in rs], [status, 200], out)
                    self.assertEqual(json.loads(rs[0][2]).get("field"), field)
                    self.assertTrue(self.exists(sid), "the body ran as a request")
        big = b" " * ((1 << 20) + 10)
        data = (f"POST /api/v1/series HTTP/1.1\r\nHost: x\r\n{self.auth}Content-Length: {len(big)}\r\n\r\n").encode()
        out, _ = raw_exchange(self.srv.port, data + big + last)
        self.assertEqual([r[0] for r in responses(out)], [413, 200], out[:500])


class Encoding(Base):
    def test_invalid_utf8_and_control_characters_are_400_naming_the_parameter(self):
        srv = self.srv
        sid = self.series()["id"]
        cases = [
            ("GET", "/api/v1/types/%ff", "name"),
            ("GET", "/api/v1/types/a%0Ab", "name"),
            ("GET", "/api/v1/types/%C0%AF", "name"),                  # overlong '/'
            ("GET", f"/api/v1/series/{sid}%00junk", "id"),
            ("GET", "/api/v1/series?type=%ff", "type"),
            ("GET", "/api/v1/series?type=a%00b", "type"),
            ("GET", "/api/v1/runs?state=%e9", "state"),
            ("GET", "/api/v1/calendar?tz=Europe%2FBerlin%7F", "tz"),
            ("POST", "/api/v1/features/%ff/enable", "name"),
            ("GET", "/api/v1/series?%ff=1", "query"),
            ("GET", "/api/v1/types/a%zzb", "path"),                  # not an escape
            ("GET", "/api/v1/series?type=a%4", "query"),
        ]
        for method, path, field in cases:
            for token in (True, None):  # encoding is checked before the token: it says nothing of the API
                with self.subTest(path=path, token=token):
                    status, body = srv.api(method, path, token=token, contract=BAD)
                    self.assertRefused(status, body, 400, field)
        # the paths of no route are 404, naming the path as sent (not a 500)
        for path in ("/%ff", "/api/v1/%ff/x", "/api/v1/%73eries"):
            with self.subTest(path=path):
                status, body = srv.api("GET", path, token=None)
                self.assertRefused(status, body, 404, None)
                self.assertIn(path, body["detail"])
        # the control case: valid text passes, escaped or not
        s = self.series(title="é")
        status, body = srv.api("GET", "/api/v1/series?type=bb.strict&limit=%31%30")
        self.assertEqual(status, 200, body)
        self.assertEqual([i["id"] for i in body["items"]], [sid, s["id"]])
        status, body = srv.api("GET", "/api/v1/types/caf%C3%A9")  # valid UTF-8, just no such type
        self.assertRefused(status, body, 404, "name")
        self.assertIn("café", body["detail"])

    def test_a_nul_does_not_cut_a_path_id(self):
        srv = self.srv
        sid = self.series()["id"]
        for path in (f"/api/v1/series/{sid}%00junk", f"/api/v1/series/{sid}%00", f"/api/v1/series/{sid}junk",
                     f"/api/v1/series/%20{sid}", f"/api/v1/series/{sid}%20", f"/api/v1/series/+{sid}x"):
            with self.subTest(path=path):
                status, body = srv.api("DELETE", path)
                self.assertRefused(status, body, 400, "id")
                self.assertTrue(self.exists(sid), f"DELETE {path} deleted series {sid}")

    def test_bytes_not_allowed_in_a_url_are_400(self):
        for target, field in ((b"/api/v1/types/\xe9", "path"), (b"/api/v1/types/a\"b", "path"),
                              (b"/api/v1/series?type=\xe9", "query"), (b"/api/v1/types/a#b", "path")):
            with self.subTest(target=target):
                body = self.raw_problem(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400,
                                        field, closed=False)
                self.assertIn("not allowed unescaped", body["detail"])


class Members(Base):
    def test_misspelled_members_are_refused_and_change_nothing(self):
        srv = self.srv
        s = self.series()
        sid = s["id"]
        occ = srv.get(f"/api/v1/series/{sid}/occurrences?limit=1&to=2099-01-01T00:00:00Z")
        cases = [
            ("POST", f"/api/v1/series/{sid}/pause", {"nte": "x"}, "nte"),
            ("POST", f"/api/v1/series/{sid}/resume", {"note": "x"}, "note"),
            ("POST", f"/api/v1/series/{sid}/trigger", {"parms": {}}, "parms"),
            ("POST", "/api/v1/features/strictness/disable", {"nte": "x"}, "nte"),
            ("POST", "/api/v1/features/strictness/enable", {"note": "x", "why": 1}, "why"),
            ("POST", "/api/v1/poller/init", {"force": True}, "force"),
            ("POST", "/api/v1/series", {"type": "bb.strict", "schedule": MANUAL, "version": 3}, "version"),
            ("POST", "/api/v1/series", [{"type": "bb.strict", "schedule": MANUAL},
                                        {"type": "bb.strict", "schedule": MANUAL, "tittle": "x"}], "[1].tittle"),
            ("PATCH", f"/api/v1/series/{sid}", {"tittle": "x"}, "tittle"),
            ("POST", "/api/v1/runs", {"type": "bb.strict", "cont": 2}, "cont"),
            ("POST", "/api/v1/types", {"nme": "bb.x", "handler": {"command": ["/bin/true"]}}, "nme"),
            ("PATCH", f"/api/v1/series/{sid}/occurrences/{occ['items'][0]['at']}", {"nte": "x"}, "nte"),
        ]
        for method, path, body, field in cases:
            with self.subTest(method=method, path=path, body=body):
                status, reply = srv.api(method, path, body)
                self.assertRefused(status, reply, 400, field)
                self.assertIn("unknown field", reply["detail"])
        after = srv.get(f"/api/v1/series/{sid}")
        self.assertEqual((after["version"], after["enabled"], after["title"]), (s["version"], True, s["title"]))
        self.assertEqual(srv.runs(), [])
        self.assertEqual([x["id"] for x in srv.get("/api/v1/series?all=true")["items"]], [sid])
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["exceptions"], 0)
        features = srv.get("/api/v1/features")["items"]
        self.assertTrue(all(f["enabled"] for f in features), features)

    def test_bodies_of_the_wrong_shape(self):
        srv = self.srv
        sid = self.series()["id"]
        cases = [
            ("POST", f"/api/v1/series/{sid}/pause", b"[]", "body"),
            ("POST", f"/api/v1/series/{sid}/trigger", b"\"x\"", "body"),
            ("POST", f"/api/v1/series/{sid}/trigger", b"null", "body"),
            ("POST", "/api/v1/features/strictness/disable", b"7", "body"),
            ("POST", "/api/v1/runs", b"[{\"type\": \"bb.strict\"}]", "body"),
            ("POST", "/api/v1/runs", None, "body"),
            ("POST", "/api/v1/series", b"[1]", "[0]"),
            ("POST", "/api/v1/series", b"true", "body"),
            ("POST", "/api/v1/types", b"[]", "body"),
            ("PATCH", f"/api/v1/series/{sid}", b"[]", "body"),
            ("PATCH", f"/api/v1/series/{sid}/occurrences/2099-01-01T00:00:00Z", None, "body"),
            # routes that take no body refuse one
            ("GET", "/api/v1/series", b"{}", "body"),
            ("DELETE", f"/api/v1/series/{sid}", b"{}", "body"),
            ("DELETE", f"/api/v1/series/{sid}/occurrences/2099-01-01T00:00:00Z", b"{\"x\":1}", "body"),
        ]
        for method, path, raw, field in cases:
            with self.subTest(method=method, path=path, raw=raw):
                status, _, data = srv.request(method, path, raw=raw if raw is not None else None)
                self.assertRefused(status, json.loads(data), 400, field)
        self.assertTrue(self.exists(sid))
        self.assertTrue(srv.get(f"/api/v1/series/{sid}")["enabled"])
        self.assertEqual(srv.runs(), [])
        # the control case: where a body is optional, none and {} are fine
        for body in (None, {}):
            with self.subTest(body=body):
                self.assertEqual(srv.api("POST", "/api/v1/poller/init", body)[0], 200)
                self.assertEqual(srv.api("POST", f"/api/v1/series/{sid}/pause", body)[0], 200)
                self.assertEqual(srv.api("POST", f"/api/v1/series/{sid}/resume", body)[0], 200)


class Fields(Base):
    def test_errors_name_the_field_at_fault_once(self):
        srv = self.srv
        sid = self.series()["id"]
        cases = [
            ("POST", "/api/v1/runs", {"type": "bb.strict", "params_list": [{}, 1]}, 400, "params_list[1]"),
            ("PATCH", f"/api/v1/series/{sid}", {"version": 2, "title": "x"}, 400, "version", {"If-Match": "\"1\""}),
            ("POST", "/api/v1/features/nope/enable", None, 404, "feature"),
            ("POST", "/api/v1/series", b" " * ((1 << 20) + 1), 413, "body"),
        ]
        for method, path, body, status, field, *hdrs in cases:
            with self.subTest(method=method, path=path):
                if isinstance(body, bytes):
                    code, _, data = srv.request(method, path, raw=body, headers=hdrs[0] if hdrs else None)
                    reply = json.loads(data)
                else:
                    code, reply = srv.api(method, path, body, headers=hdrs[0] if hdrs else None)
                self.assertRefused(code, reply, status, field)
                # the detail starts with the field, once
                self.assertTrue(reply["detail"].startswith(field + ": "), reply)
                self.assertFalse(reply["detail"][len(field) + 2:].startswith(field + ":"), reply)
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["version"], 1)
        self.assertEqual(srv.runs(), [])


class Arguments(Base):
    def test_unknown_and_repeated_arguments_are_400_naming_them(self):
        srv = self.srv
        sid = self.series()["id"]
        run = srv.post(f"/api/v1/series/{sid}/trigger")["id"]
        gets = ["/healthz", "/api/v1/types", "/api/v1/types/bb.strict", "/api/v1/series", f"/api/v1/series/{sid}",
                f"/api/v1/series/{sid}/occurrences", f"/api/v1/series/{sid}/results", "/api/v1/calendar",
                "/api/v1/calendar.ics", "/api/v1/features", "/api/v1/runs", f"/api/v1/runs/{run}",
                f"/api/v1/runs/{run}/messages", f"/api/v1/runs/{run}/results", "/api/v1/poller", "/api/v1/nodes"]
        for path in gets:
            with self.subTest(path=path):
                status, body = srv.api("GET", path + "?limt=5", contract=BAD)
                self.assertRefused(status, body, 400, "limt")
                self.assertIn("unknown query argument", body["detail"])
        for method, path in (("DELETE", f"/api/v1/series/{sid}?purg=true"),
                             ("POST", f"/api/v1/series/{sid}/pause?note=x"), ("POST", "/api/v1/poller/init?x")):
            with self.subTest(path=path):
                status, body = srv.api(method, path, contract=BAD)
                self.assertRefused(status, body, 400, path.rsplit("?", 1)[1].split("=")[0])
        self.assertTrue(srv.get(f"/api/v1/series/{sid}")["enabled"])
        status, body = srv.api("GET", "/api/v1/series?limit=1&limit=1000")
        self.assertRefused(status, body, 400, "limit")
        status, body = srv.api("GET", "/api/v1/series?all=maybe")
        self.assertRefused(status, body, 400, "all")
        status, body = srv.api("DELETE", f"/api/v1/series/{sid}?purge=yes%21")
        self.assertRefused(status, body, 400, "purge")
        self.assertTrue(self.exists(sid))
        # the declared ones work
        self.assertEqual(srv.api("GET", "/api/v1/series?type=bb.strict&after=0&limit=5&all=true")[0], 200)
        self.assertEqual(srv.api("DELETE", f"/api/v1/series/{sid}?purge=true")[0], 204)

    def test_the_token_is_checked_before_the_arguments(self):
        srv = self.srv
        for path in ("/api/v1/series?limt=5", "/api/v1/series?limit=x", "/api/v1/calendar.ics?bogus=1",
                     "/api/v1/calendar.ics?token=wrong&bogus=1"):
            with self.subTest(path=path):
                status, body = srv.api("GET", path, token=None, contract=BAD)
                self.assertEqual(status, 401, body)
        status, body = srv.api("POST", "/api/v1/series", {"colour": 1}, token=None)
        self.assertEqual(status, 401, body)
        with open(os.path.join(srv.data_dir, "feed.token")) as f:
            feed = f.read().strip()
        status, body = srv.api("GET", f"/api/v1/calendar.ics?token={feed}&bogus=1", token=None, contract=BAD)
        self.assertRefused(status, body, 400, "bogus")
        status, _, data = srv.request("GET", f"/api/v1/calendar.ics?token={feed}", token=None)
        self.assertEqual(status, 200, data)


class IfMatch(Base):
    def test_if_match_is_parsed_strictly(self):
        srv = self.srv
        s = self.series()
        sid = s["id"]
        for value in ("1", "W/\"1\"", "\"1\", \"2\"", "\"abc\"", "\"1", "1\"", "\"\"", "\"0\"", "\"-1\"", "**"):
            with self.subTest(value=value):
                status, body = srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "x"}, headers={"If-Match": value})
                self.assertRefused(status, body, 400, "If-Match")
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["version"], 1)
        status, hdrs, body = srv.api_full("PATCH", f"/api/v1/series/{sid}", {"title": "a"},
                                          headers={"If-Match": "\"1\""})
        self.assertEqual((status, hdrs["ETag"]), (200, "\"2\""), body)
        status, body = srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "b"}, headers={"If-Match": "\"1\""})
        self.assertRefused(status, body, 412, "version")
        status, body = srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "c"}, headers={"If-Match": "*"})
        self.assertEqual((status, body["version"]), (200, 3), body)

    def test_routes_without_preconditions_refuse_if_match(self):
        srv = self.srv
        sid = self.series()["id"]
        for method, path in (("DELETE", f"/api/v1/series/{sid}"), ("POST", f"/api/v1/series/{sid}/pause"),
                             ("GET", f"/api/v1/series/{sid}")):
            with self.subTest(method=method, path=path):
                status, body = srv.api(method, path, headers={"If-Match": "\"1\""})
                self.assertRefused(status, body, 400, "If-Match")
        after = srv.get(f"/api/v1/series/{sid}")
        self.assertEqual((after["version"], after["enabled"]), (1, True))


class Limits(Base):
    def test_a_chunked_body_over_the_limit_gets_413_and_the_connection_closes(self):
        srv = self.srv
        for total in (2 << 20, 8 << 20):
            with self.subTest(total=total):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=30 * SLOW)
                s.sendall((f"POST /api/v1/series HTTP/1.1\r\nHost: x\r\n{self.auth}"
                           "Transfer-Encoding: chunked\r\n\r\n").encode())
                chunk = 64 << 10
                sent = 0
                try:  # a client that sends everything before it reads
                    while sent < total:
                        s.sendall(b"%x\r\n" % chunk + b" " * chunk + b"\r\n")
                        sent += chunk
                    s.sendall(b"0\r\n\r\n")
                except (ConnectionResetError, BrokenPipeError):
                    pass  # the server stopped reading, after its 413
                out = b""
                try:
                    while True:
                        b = s.recv(65536)
                        if not b:
                            break
                        out += b
                except ConnectionResetError:
                    pass
                s.close()
                status, hdrs, body = one_response(self, out)
                self.assertEqual(hdrs.get("connection"), "close")
                self.assertRefused(status, json.loads(body), 413, "body")
                hold_to_document(b"POST /api/v1/series HTTP/1.1\r\n", status, hdrs, body)
        self.assertEqual(srv.get("/api/v1/series")["items"], [])

    def test_content_length_over_the_limit_gets_413(self):
        status, _, data = self.srv.request("POST", "/api/v1/series", raw=b" " * ((1 << 20) + 1))
        self.assertRefused(status, json.loads(data), 413, "body")

    def test_long_targets_and_headers_get_414_and_431(self):
        body = self.raw_problem(f"GET /api/v1/series?type={'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 414,
                                None)
        self.assertIn("8192", body["detail"])
        body = self.raw_problem(f"GET /api/v1/types HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * 20000}\r\n\r\n".encode(),
                                431, None)
        self.assertIn("16384", body["detail"])
        # just under both: fine
        out, _ = raw_exchange(self.srv.port, (f"GET /api/v1/series?type={'a' * 8000} HTTP/1.1\r\nHost: x\r\n"
                                              f"{self.auth}X-Big: {'b' * 15000}\r\nConnection: close\r\n\r\n").encode())
        self.assertEqual(one_response(self, out)[0], 404, out)  # no such type: the request got through


class ConnectionLimits(Base):
    """The per-address limit and the idle timeout.  The timeout is 10 s, not less: on a
    loaded machine (the ASan pass) the server may take seconds between accepting one
    held connection and the next, and a shorter one closed the first before the third
    was in (the limit then never reached)."""
    extra = ("--max-connections", "8", "--max-connections-per-ip", "3", "--idle-timeout", "10")

    def idle(self, source="127.0.0.1"):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10 * SLOW, source_address=(source, 0))
        self.addCleanup(s.close)
        return s

    def answers(self, source):
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10 * SLOW, source_address=(source, 0))
        try:
            c.request("GET", "/healthz")
            return c.getresponse().status
        except OSError as e:
            return repr(e)
        finally:
            c.close()

    @unittest.skip("flaky since 2026-12-03: a fourth connection from one address is sometimes served for "
                   "seconds while three idle ones are held (seen under load and once on a quiet machine); "
                   "to be understood, see docs/internals.md 'Known defects'")
    def test_per_address_limit_and_idle_timeout(self):
        held = [self.idle() for _ in range(3)]
        time.sleep(1.0 * SLOW)  # for the server to accept them (a loaded machine is slow)
        # a fourth from the same address is closed at once; another address still gets in.
        # On a loaded machine the server may not have accepted all three yet (a connection
        # in the listen backlog does not count), and the fourth is served: try again
        # while the three are held (within the idle timeout)
        wait_for(lambda: self.answers("127.0.0.1") != 200, 8, interval=0.3,
                 what="a fourth connection from 127.0.0.1 refused while three are held")
        self.assertEqual(self.answers("127.0.0.2"), 200)
        # idle connections are closed after --idle-timeout (10 s), freeing the address's share
        for s in held:
            s.settimeout(30 * SLOW)
            try:
                self.assertEqual(s.recv(1), b"")
            except ConnectionResetError:
                pass
        wait_for(lambda: self.answers("127.0.0.1") == 200, 10, what="a connection from 127.0.0.1 after the timeout")

    def test_flags_are_checked(self):
        for args, needle in ((["--max-connections", "0"], "--max-connections"),
                             (["--max-connections-per-ip", "x"], "--max-connections-per-ip"),
                             (["--idle-timeout", "0"], "--idle-timeout"),
                             (["--max-connections", "4", "--max-connections-per-ip", "5"], "more than")):
            with self.subTest(args=args):
                p = subprocess.run([skedtest.SKED, "serve", "--data-dir", self.path("x"), *args],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(needle, p.stderr)


class TotalConnectionLimit(Base):
    """The total limit, with an idle timeout long enough that a loaded machine's slow
    set-up cannot close a held connection before the ninth one is tried."""
    extra = ("--max-connections", "8", "--max-connections-per-ip", "3", "--idle-timeout", "120")
    idle = ConnectionLimits.idle

    def test_total_limit(self):
        held = []
        for source, n in (("127.0.0.1", 3), ("127.0.0.2", 3), ("127.0.0.3", 2)):
            held += [self.idle(source) for _ in range(n)]
        time.sleep(1.0 * SLOW)  # for the server to accept them all (a loaded machine is slow)
        # 8 held: a ninth is not served. It waits in the listen backlog until one
        # closes, or, when a worker already at its share of the limit was woken for it
        # before it stopped listening, libmicrohttpd accepts and closes it at once
        # ("Server reached connection limit"). Either is a refusal; a reply is not.
        # On a loaded machine one of the eight may still be in the backlog (not counted)
        # and a ninth served: try again, a few times, while the eight are held.
        for attempt in range(5):
            s = self.idle("127.0.0.4")
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.settimeout(1)
            try:
                got = s.recv(1)
                waited = False
            except socket.timeout:
                got, waited = b"", True
            except ConnectionResetError:
                got, waited = b"", False
            if got == b"":
                break
            s.close()
            time.sleep(0.5 * SLOW)
        self.assertEqual(got, b"", "a ninth connection was answered while eight were held")
        held[0].close()
        if not waited:  # it was closed: a new one gets the freed place
            time.sleep(0.3)
            s = self.idle("127.0.0.4")
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.settimeout(10 * SLOW)
        self.assertTrue(s.recv(64).startswith(b"HTTP/1.1 200 "))


@unittest.skipUnless(shutil.which("slowhttptest"), "slowhttptest not installed (scripts/install-deps --test)")
class Slowloris(Base):
    def established_from(self, addr_hex):
        """Server-side ESTABLISHED connections on the server's port from one address
        (/proc/net/tcp, little-endian hex)."""
        n = 0
        with open("/proc/net/tcp") as f:
            for line in f.read().splitlines()[1:]:
                p = line.split()
                local, remote, state = p[1], p[2], p[3]
                if int(local.split(":")[1], 16) == self.srv.port and state == "01" and remote.startswith(addr_hex):
                    n += 1
        return n

    def test_normal_requests_answer_during_a_slowloris_attack(self):
        srv = self.srv
        sid = self.series()["id"]
        # 1500 connections from 127.0.0.1, each sending a header line every 5 s and
        # never finishing its request: more than the server's 512 connections
        attack = subprocess.Popen(["slowhttptest", "-H", "-c", "1500", "-r", "300", "-i", "5", "-l", "120", "-p",
                                   "3", "-u", f"http://127.0.0.1:{srv.port}/healthz"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # the attack holds all it is allowed to (64 per address by default)
            wait_for(lambda: self.established_from("0100007F:") >= 64, 30, what="the attack's connections")
            time.sleep(3)  # let it open the rest: 1500 at 300/s
            self.assertIsNone(attack.poll(), "slowhttptest ended early")
            results = []
            for i in range(20):  # another client (127.0.0.2): its requests all answer
                c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10 * SLOW,
                                               source_address=("127.0.0.2", 0))
                try:
                    path = "/healthz" if i % 2 else f"/api/v1/series/{sid}"
                    c.request("GET", path, headers={"Authorization": f"Bearer {srv.token}"})
                    r = c.getresponse()
                    r.read()
                    results.append(r.status)
                except OSError as e:
                    results.append(repr(e))
                finally:
                    c.close()
            self.assertEqual(results, [200] * 20)
            self.assertIsNone(attack.poll(), "slowhttptest ended before the requests")
        finally:
            attack.terminate()
            attack.wait(30)


if __name__ == "__main__":
    unittest.main()
