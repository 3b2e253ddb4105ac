"""Black-box tests of the API's description: GET /api/v1/openapi.json serves
docs/openapi.yaml as built into the binary (public, strong ETag, 304), and the suite's
contract check (openapi.py, run on every reply by Server.request) fails when the
document and a real reply part: each of its checks is shown failing here, against a
document with one thing taken out."""
import copy
import http.client
import json

import openapi
import skedtest


class Served(skedtest.ServerTest):
    def test_document_is_served_public_with_a_strong_etag(self):
        srv = self.start_server(workers=1)
        status, hdrs, data = srv.request("GET", "/api/v1/openapi.json", token=None)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["Content-Type"], "application/json")
        self.assertEqual(hdrs["Cache-Control"], "no-cache")
        etag = hdrs["ETag"]
        self.assertRegex(etag, r'^"[0-9a-f]{32}"$')
        # the binary's conversion (the manifest reader, YAML 1.2) reads the file as
        # PyYAML does: the same document, member for member
        self.assertEqual(json.loads(data), openapi.contract().doc)
        status, hdrs, data = srv.request("GET", "/api/v1/openapi.json", token=None,
                                         headers={"If-None-Match": etag})
        self.assertEqual((status, data, hdrs["ETag"]), (304, b"", etag))
        status, hdrs, data = srv.request("GET", "/api/v1/openapi.json", token=None,
                                         headers={"If-None-Match": '"0"'})
        self.assertEqual(status, 200)
        status, hdrs, data = srv.request("HEAD", "/api/v1/openapi.json", token=None)
        self.assertEqual((status, data, hdrs["ETag"]), (200, b"", etag))
        # a token is not needed, and a wrong one does not matter either
        self.assertEqual(srv.request("GET", "/api/v1/openapi.json", token="wrong")[0], 200)


class CheckFails(skedtest.ServerTest):
    """Real exchanges (each passed the real document in Server.request) held against
    a document with one thing removed: the check must name it."""

    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=1)
        self.srv.register_type(skedtest.command_type("oa.t", ["/bin/true"]))
        self.series = self.srv.create_series(type="oa.t", schedule="every 1h")

    def exchange(self, method, path, body=None, headers=None, token=True, contract="full"):
        status, hdrs, data = self.srv.request(method, path, body, headers=headers, token=token, contract=contract)
        sent = json.dumps(body).encode() if body is not None else None
        return method, path, sent, status, hdrs, data

    def assertFails(self, doc, exchange, *words, contract="full"):
        with self.assertRaises(AssertionError) as cm:
            openapi.Contract(doc).check(*exchange, contract=contract)
        for w in words:
            self.assertIn(w, str(cm.exception))
        return str(cm.exception)

    def doc(self):
        return copy.deepcopy(openapi.contract().doc)

    def test_undocumented_member_fails(self):
        ex = self.exchange("GET", f"/api/v1/series/{self.series['id']}")
        doc = self.doc()
        del doc["components"]["schemas"]["SeriesFields"]["properties"]["missed"]
        doc["components"]["schemas"]["SeriesFields"]["required"].remove("missed")
        msg = self.assertFails(doc, ex, f"GET /api/v1/series/{self.series['id']} -> 200", "'missed' was unexpected")
        self.assertIn("body:", msg)
        ex = self.exchange("GET", "/api/v1/runs")
        doc = self.doc()
        del doc["components"]["schemas"]["Run"]["properties"]["counts"]["properties"]["results"]
        self.assertFails(doc, ex, "'results' was unexpected")

    def test_wrong_type_or_missing_member_fails(self):
        ex = self.exchange("GET", "/api/v1/poller")
        doc = self.doc()
        doc["components"]["schemas"]["Poller"]["properties"]["workers"] = {"type": "string"}
        self.assertFails(doc, ex, ".workers", "is not of type 'string'")
        doc = self.doc()
        doc["components"]["schemas"]["Poller"]["required"].append("nonesuch")
        self.assertFails(doc, ex, "'nonesuch' is a required property")

    def test_undocumented_status_fails(self):
        ex = self.exchange("GET", "/api/v1/series/999999")
        self.assertEqual(ex[3], 404)
        doc = self.doc()
        del doc["paths"]["/api/v1/series/{id}"]["get"]["responses"]["404"]
        self.assertFails(doc, ex, "undocumented status 404 for GET /api/v1/series/{id}")

    def test_undocumented_route_and_method_fail(self):
        ex = self.exchange("GET", "/api/v1/nodes")
        doc = self.doc()
        del doc["paths"]["/api/v1/nodes"]
        self.assertFails(doc, ex, "undocumented route", "/api/v1/nodes")
        doc = self.doc()
        doc["paths"]["/api/v1/nodes"]["post"] = doc["paths"]["/api/v1/nodes"].pop("get")
        self.assertFails(doc, ex, "undocumented method")
        # a 405 whose Allow differs from the documented methods
        ex = self.exchange("DELETE", "/api/v1/nodes")
        self.assertEqual(ex[3], 405)
        doc = self.doc()
        doc["paths"]["/api/v1/nodes"]["put"] = doc["paths"]["/api/v1/nodes"]["get"]
        self.assertFails(doc, ex, "undocumented method", "the server allows ['GET', 'HEAD']")
        # and a path the document does not have must be the framework's 404
        ex = ("GET", "/api/v1/nope", None, 200, {"Content-Type": "application/json"}, b"{}")
        self.assertFails(self.doc(), ex, "undocumented route")

    def test_content_type_and_headers_fail(self):
        ex = self.exchange("GET", f"/api/v1/series/{self.series['id']}")
        doc = self.doc()
        doc["components"]["responses"]["SeriesWithETag"]["content"] = {
            "text/plain": {"schema": {"type": "string"}}}
        self.assertFails(doc, ex, "Content-Type 'application/json'")
        doc = self.doc()
        del doc["components"]["responses"]["SeriesWithETag"]["headers"]
        self.assertFails(doc, ex, "undocumented header ETag")
        ex = self.exchange("GET", "/api/v1/series", token=None)
        self.assertEqual(ex[3], 401)
        doc = self.doc()
        doc["components"]["headers"]["WWWAuthenticate"]["schema"]["pattern"] = "^Basic"
        self.assertFails(doc, ex, "header www-authenticate")
        ex = self.exchange("POST", "/api/v1/series", {"type": "oa.t", "schedule": "every 2h"})
        doc = self.doc()
        doc["components"]["headers"]["Location"] = {"required": True, "schema": {"type": "string"}}
        doc["paths"]["/api/v1/series"]["post"]["responses"]["201"]["headers"]["Location"] = {
            "$ref": "#/components/headers/Location"}
        doc["paths"]["/api/v1/series"]["post"]["responses"]["201"]["headers"]["X-Missing"] = {
            "required": True, "schema": {"type": "string"}}
        self.assertFails(doc, ex, "missing header x-missing")

    def test_request_the_document_would_refuse_fails(self):
        ex = self.exchange("GET", "/api/v1/series?limit=5")
        doc = self.doc()
        doc["components"]["parameters"]["Limit"]["schema"]["maximum"] = 3
        self.assertFails(doc, ex, "query argument limit '5' accepted by the server but refused by the document")
        doc = self.doc()
        del doc["components"]["parameters"]["Limit"]
        doc["paths"]["/api/v1/series"]["get"]["parameters"] = [
            p for p in doc["paths"]["/api/v1/series"]["get"]["parameters"]
            if p.get("$ref") != "#/components/parameters/Limit"]
        self.assertFails(doc, ex, "undocumented query argument 'limit'")
        ex = self.exchange("POST", "/api/v1/series", {"type": "oa.t", "schedule": "every 2h", "owner": "me"})
        self.assertEqual(ex[3], 201)
        doc = self.doc()
        del doc["components"]["schemas"]["SeriesCreate"]["properties"]["owner"]
        self.assertFails(doc, ex, "the server accepted a request body the document refuses",
                         "'owner' was unexpected")

    def test_reply_only_lets_through_only_what_was_sent_and_refused(self):
        """contract="reply-only" (a request malformed on purpose): the undocumented
        argument of a refused request passes; the reply is still held in full, and so
        is a request the server accepted."""
        ex = self.exchange("GET", "/api/v1/series?limt=5", contract="reply-only")
        self.assertEqual(ex[3], 400)
        self.assertFails(self.doc(), ex, "undocumented query argument 'limt'")
        openapi.Contract(self.doc()).check(*ex, contract="reply-only")
        doc = self.doc()
        del doc["paths"]["/api/v1/series"]["get"]["responses"]["400"]
        self.assertFails(doc, ex, "undocumented status 400", contract="reply-only")
        doc = self.doc()
        doc["components"]["schemas"]["Problem"]["required"].append("instance")
        self.assertFails(doc, ex, "'instance' is a required property", contract="reply-only")
        # accepted: an argument the document lacks fails whatever the test meant
        ex = self.exchange("GET", "/api/v1/series?limit=5")
        self.assertEqual(ex[3], 200)
        doc = self.doc()
        doc["paths"]["/api/v1/series"]["get"]["parameters"] = [
            p for p in doc["paths"]["/api/v1/series"]["get"]["parameters"]
            if p.get("$ref") != "#/components/parameters/Limit"]
        self.assertFails(doc, ex, "undocumented query argument 'limit'", "accepted by the server",
                         contract="reply-only")
        with self.assertRaises(ValueError):
            self.srv.request("GET", "/api/v1/series", contract="none")


def operations():
    """(method, path template, operation) of every operation in the document."""
    for path, item in openapi.contract().doc["paths"].items():
        for m in openapi.METHODS:
            if m in item:
                yield m.upper(), path, item[m]


def concrete(template, **values):
    """A path of template with its parameters filled in."""
    filled = {"id": "1", "name": "x", "nominal": "2026-01-01T00:00:00Z"}
    filled.update(values)
    for k, v in filled.items():
        template = template.replace("{" + k + "}", v)
    return template


class Statuses(skedtest.ServerTest):
    """The documented statuses that the rest of the suite does not reach, reached on
    purpose: each exchange is held against the document by Server.request, so what
    the document says of them (body, headers) is checked, not only that they occur.
    Walks the document for what every operation of a kind shares (401, 413, 400 for
    an id), so a route added to it is covered too."""

    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=2)

    def test_every_guarded_operation_refuses_a_missing_or_wrong_token(self):
        n = 0
        for method, template, op in operations():
            if "security" in op:
                continue  # public, or its own schemes (their 401s: test_calendar, test_metrics)
            path = concrete(template)
            status, hdrs, _ = self.srv.request(method, path, token=None)
            self.assertEqual(status, 401, f"{method} {path}")
            self.assertEqual(hdrs["WWW-Authenticate"], 'Bearer realm="sked"')
            status, hdrs, _ = self.srv.request(method, path, token="wrong")
            self.assertEqual(status, 401, f"{method} {path}")
            self.assertIn('error="invalid_token"', hdrs["WWW-Authenticate"])
            n += 1
        self.assertGreater(n, 20)

    def test_every_body_has_its_limit(self):
        for method, template, op in operations():
            if "requestBody" not in op:
                continue
            path = concrete(template)
            # a Content-Length over 1 MiB, refused before the body is sent: the client
            # asks first (Expect: 100-continue, RFC 9110 §10.1.1) and the server
            # answers 413 instead of 100 and closes.  A client that declares a length
            # must otherwise send it: the server reads the body and drops it before it
            # answers, so the connection stays in step (docs/api.md "Request rules";
            # the body itself: test_validation.Bodies).  Raw, as urllib sends the body
            # before it reads a reply.
            conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30 * skedtest.SLOW)
            try:
                conn.putrequest(method, path)
                conn.putheader("Authorization", f"Bearer {self.srv.token}")
                conn.putheader("Content-Length", str((1 << 20) + 1))
                conn.putheader("Expect", "100-continue")
                conn.endheaders()
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            openapi.check(method, path, None, resp.status, resp.headers, data)
            self.assertEqual(resp.status, 413, f"{method} {path}")
            self.assertEqual(json.loads(data)["field"], "body", data)
            self.assertEqual(resp.headers["Connection"], "close", f"{method} {path}")

    def test_every_id_must_be_an_integer(self):
        for method, template, op in operations():
            if "{id}" not in template:
                continue
            path = concrete(template, id="abc")
            status, body = self.srv.api(method, path, {} if "requestBody" in op else None)
            self.assertProblem(status, body, 400, "id")

    def test_the_rest(self):
        srv = self.srv
        printf = ["/usr/bin/printf", '::info::hi\\n::result::{"key": "k", "status": "ok", "data": {"n": 1}}\\n']
        srv.register_type(skedtest.command_type("oa.r", printf))
        s = srv.create_series(type="oa.r", schedule="every 1h")
        sid = s["id"]
        run = srv.trigger(sid)
        srv.wait_run(run["id"])
        expect = [
            ("GET", "/api/v1/poller", None, 200),
            ("POST", "/api/v1/poller/init", None, 200),
            ("GET", "/api/v1/series?limit=0", None, 400),
            ("GET", "/api/v1/series?after=-1", None, 400),
            ("DELETE", "/api/v1/series/999999", None, 404),
            ("POST", f"/api/v1/series/{sid}/pause", {"note": 5}, 400),
            ("POST", f"/api/v1/series/{sid}/resume", {"note": 5}, 400),
            ("POST", "/api/v1/series/999999/resume", None, 404),
            ("GET", "/api/v1/series/999999/occurrences", None, 404),
            ("GET", f"/api/v1/series/{sid}/occurrences?to=2000-01-01T00:00:00Z", None, 400),
            ("DELETE", f"/api/v1/series/{sid}/occurrences/noon", None, 400),
            ("GET", f"/api/v1/series/{sid}/results?runs=2", None, 200),
            ("GET", f"/api/v1/series/{sid}/results?runs=0", None, 400),
            ("GET", "/api/v1/series/999999/results", None, 404),
            ("GET", "/api/v1/calendar?week=monday", None, 400),
            ("GET", "/api/v1/calendar?series=999999", None, 404),
            ("GET", "/api/v1/calendar.ics?from=yesterday", None, 400),
            ("GET", "/api/v1/calendar.ics?series=999999", None, 404),
            ("POST", "/api/v1/features/Not%20A%20Name/enable", None, 400),
            ("POST", "/api/v1/features/nothing.declares.it/disable", {"note": 5}, 400),
            ("POST", "/api/v1/features/nothing.declares.it/disable", None, 404),
            ("POST", "/api/v1/runs", {}, 400),
            ("POST", "/api/v1/runs", {"type": "nope"}, 404),
            ("GET", "/api/v1/runs/999999/messages", None, 404),
            ("GET", "/api/v1/runs/999999/results", None, 404),
            ("GET", f"/api/v1/runs/{run['id']}/messages?limit=0", None, 400),
            ("GET", f"/api/v1/runs/{run['id']}/results?after=x", None, 400),
        ]
        for method, path, body, want in expect:
            with self.subTest(f"{method} {path}"):
                status, reply = srv.api(method, path, body)
                self.assertEqual(status, want, reply)
        self.assertEqual(srv.get(f"/api/v1/series/{sid}/results")["items"][0]["results"][0]["data"], {"n": 1})

    def test_a_moved_occurrence_that_ran_cannot_be_reset(self):
        srv = self.srv
        srv.register_type(skedtest.command_type("oa.m", ["/bin/true"]))
        s = srv.create_series(type="oa.m", schedule="every 1h", start=skedtest.local_text(skedtest.now_us() + 1800 * skedtest.US))
        nominal = s["next_due"]
        at = skedtest.utc_text(skedtest.now_us() + 2 * skedtest.US)
        status, occ = srv.api("PATCH", f"/api/v1/series/{s['id']}/occurrences/{nominal}", {"start": at})
        self.assertEqual(status, 200, occ)
        skedtest.wait_for(lambda: [r for r in srv.runs(series=s["id"]) if r["state"] in skedtest.TERMINAL], 30,
                          what="the moved occurrence's run")
        status, body = srv.api("DELETE", f"/api/v1/series/{s['id']}/occurrences/{nominal}")
        self.assertProblem(status, body, 409, "nominal")
