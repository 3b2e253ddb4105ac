"""Black-box tests of the API's description: GET /api/v1/openapi.json serves
docs/openapi.yaml as built into the binary (public, strong ETag, 304), and the suite's
contract check (openapi.py, run on every reply by Server.request) fails when the
document and a real reply part: each of its checks is shown failing here, against a
document with one thing taken out."""
import copy
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

    def exchange(self, method, path, body=None, headers=None, token=True):
        status, hdrs, data = self.srv.request(method, path, body, headers=headers, token=token)
        sent = json.dumps(body).encode() if body is not None else None
        return method, path, sent, status, hdrs, data

    def assertFails(self, doc, exchange, *words):
        with self.assertRaises(AssertionError) as cm:
            openapi.Contract(doc).check(*exchange)
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
