"""Black-box tests of the web UI's files (src/api/routes_ui.c, scripts/embed-web):
GET / and GET /ui/{file}, public, with strong ETags and 304, gzip variants when the
client takes them, a year's immutable caching for the hashed names, the right
Content-Types, a strict Content-Security-Policy with nosniff and Referrer-Policy on
every reply, and `..` or its encodings answering 404.  The page itself is tested in a
browser by tests/browser (scripts/test browser)."""
import gzip
import re

import skedtest

CSP_PARTS = ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
             "base-uri 'none'", "frame-ancestors 'none'")


class Files(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=1)

    def assets(self):
        status, hdrs, page = self.srv.request("GET", "/", token=None)
        self.assertEqual(status, 200)
        return re.findall(r'/ui/(app\.[0-9a-f]{12}\.(?:js|css))', page.decode())

    def assert_guarded(self, hdrs):
        csp = hdrs["Content-Security-Policy"]
        for part in CSP_PARTS:
            self.assertIn(part, csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("unsafe-eval", csp)
        self.assertEqual(hdrs["X-Content-Type-Options"], "nosniff")
        self.assertEqual(hdrs["Referrer-Policy"], "same-origin")
        self.assertEqual(hdrs.get_all("Content-Security-Policy"), [csp], "one policy, not two")

    def test_page_is_public_revalidated_and_has_no_inline_code(self):
        status, hdrs, page = self.srv.request("GET", "/", token=None)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(hdrs["Cache-Control"], "no-cache")
        self.assert_guarded(hdrs)
        text = page.decode()
        # no inline script or style: the CSP would refuse them
        self.assertNotRegex(text, r"<script(?![^>]*\bsrc=)[^>]*>")
        self.assertNotIn("<style", text)
        self.assertNotRegex(text, r"\sstyle=")
        self.assertNotRegex(text, r"\son[a-z]+=")
        etag = hdrs["ETag"]
        self.assertRegex(etag, r'^"[0-9a-f]{32}"$')
        status, hdrs, data = self.srv.request("GET", "/", token=None, headers={"If-None-Match": etag})
        self.assertEqual((status, data, hdrs["ETag"]), (304, b"", etag))
        # a wrong token does not matter: the page holds no data
        self.assertEqual(self.srv.request("GET", "/", token="wrong")[0], 200)
        self.assertEqual(len(self.assets()), 2)

    def test_hashed_files_are_immutable_typed_and_gzipped(self):
        types = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
        for name in self.assets():
            with self.subTest(name=name):
                status, hdrs, data = self.srv.request("GET", f"/ui/{name}", token=None)
                self.assertEqual(status, 200)
                self.assertEqual(hdrs["Content-Type"], types[name.rsplit(".", 1)[1]])
                self.assertEqual(hdrs["Cache-Control"], "public, max-age=31536000, immutable")
                self.assertIsNone(hdrs["Content-Encoding"])
                self.assertIn("Accept-Encoding", hdrs["Vary"])
                self.assert_guarded(hdrs)
                etag = hdrs["ETag"]
                status, zh, zdata = self.srv.request("GET", f"/ui/{name}", token=None,
                                                     headers={"Accept-Encoding": "br, gzip;q=0.8"})
                self.assertEqual((status, zh["Content-Encoding"]), (200, "gzip"))
                self.assertLess(len(zdata), len(data))
                self.assertEqual(gzip.decompress(zdata), data)
                self.assertNotEqual(zh["ETag"], etag)
                # q=0 refuses gzip; identity then
                status, h0, d0 = self.srv.request("GET", f"/ui/{name}", token=None,
                                                  headers={"Accept-Encoding": "gzip;q=0, identity"})
                self.assertEqual((h0["Content-Encoding"], d0), (None, data))
                status, hdrs, body = self.srv.request("GET", f"/ui/{name}", token=None,
                                                      headers={"If-None-Match": etag})
                self.assertEqual((status, body), (304, b""))
                status, hdrs, body = self.srv.request("GET", f"/ui/{name}", token=None,
                                                      headers={"If-None-Match": zh["ETag"],
                                                               "Accept-Encoding": "gzip"})
                self.assertEqual((status, body), (304, b""))

    def test_dot_dot_and_unknown_names_are_404(self):
        js = [n for n in self.assets() if n.endswith(".js")][0]
        for path in ("/ui/..", "/ui/%2e%2e", "/ui/%2E%2E", "/ui/..%2fadmin.token", "/ui/%2e%2e%2fadmin.token",
                     "/ui/%2e%2e%5cadmin.token", f"/ui/../ui/{js}", f"/ui/%2e%2e/ui/{js}", "/ui/index.html",
                     "/ui/app.js", "/ui/app.css", f"/ui/{js}%00", "/ui/admin.token", "/ui/.%2e/.%2e/etc/passwd",
                     "/ui/..%252fadmin.token"):
            with self.subTest(path=path):
                status, hdrs, data = self.srv.request("GET", path, token=None)
                self.assertIn(status, (400, 404), data)
                if status == 400:  # a NUL: refused before any route, by the strict decoding
                    self.assertIn("%00", path)
                self.assertEqual(hdrs["Content-Type"], "application/problem+json")
                self.assertNotIn(b"function", data)


if __name__ == "__main__":
    skedtest.main()
