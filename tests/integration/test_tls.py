"""HTTPS of sked's own (--tls-cert, --tls-key; docs/security.md "TLS"): the API, the
CLI and the web session over TLS 1.2+, HSTS on HTTPS replies only, the __Host- cookie;
configurations refused before anything is created; and the trusted proxy's
X-Forwarded-For (the client's address for login throttling and the audit log),
believed from the proxies named only.  The certificates are made here with openssl."""
import http.client
import json
import os
import socket
import ssl
import subprocess

import skedtest

GOOD = "correct horse battery staple"


def make_cert(d, name="cert", cn="localhost"):
    """A self-signed P-256 certificate for 127.0.0.1 and localhost: (cert, key) paths."""
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


class Https(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.cert, self.key = make_cert(self.tmp)
        self.srv = self.new_server(extra=("--tls-cert", self.cert, "--tls-key", self.key))
        self.srv.cacert = self.cert
        self.srv.start()

    def test_api_and_cli_over_tls(self):
        srv = self.srv
        self.assertTrue(srv.url.startswith("https://127.0.0.1:"), srv.url)
        status, hdrs, body = srv.request("GET", "/healthz")
        self.assertEqual(status, 200, body)
        self.assertEqual(hdrs["Strict-Transport-Security"], "max-age=31536000")
        status, hdrs, _ = srv.request("GET", "/api/v1/nope")
        self.assertEqual(status, 404)
        self.assertIn("Strict-Transport-Security", hdrs, "on every reply, errors too")
        rc, out, err = srv.cli("type", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("NAME", out)
        # without the CA the CLI refuses the certificate and says what to do
        env = srv.cli_env()
        env.pop("SKED_CACERT")
        p = subprocess.run([skedtest.SKED, "type", "list"], capture_output=True, text=True, env=env, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("SKED_CACERT", p.stderr)

    def test_plain_http_and_old_tls_refused(self):
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                reply = s.recv(4096)
            except ConnectionResetError:
                reply = b""
        self.assertFalse(reply.startswith(b"HTTP/"), reply)
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
                with ctx.wrap_socket(s, server_hostname="localhost"):
                    pass
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = ssl.create_default_context(cafile=self.cert)
            ctx.minimum_version = ctx.maximum_version = version
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
                with ctx.wrap_socket(s, server_hostname="localhost") as t:
                    self.assertEqual(t.version(), {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                                   ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version])

    def test_session_cookie_is_host_and_secure(self):
        srv = self.srv
        status, body = srv.api("POST", "/api/v1/users", {"name": "opal", "role": "operator", "password": GOOD})
        self.assertEqual(status, 201, body)
        status, hdrs, body = srv.api_full("POST", "/api/v1/session", {"name": "opal", "password": GOOD}, token=None)
        self.assertEqual(status, 201, body)
        cookie = hdrs["Set-Cookie"]
        self.assertTrue(cookie.startswith("__Host-sked_session="), cookie)
        for attr in ("; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"):
            self.assertIn(attr, cookie)
        self.assertNotIn("Domain=", cookie)


class RefusedConfigurations(skedtest.ServerTest):
    def serve(self, *args):
        data = self.path("data")
        p = subprocess.run([skedtest.SKED, "serve", "--data-dir", data, "--listen", "127.0.0.1:0", *args],
                           capture_output=True, text=True, timeout=60)
        self.assertFalse(os.path.exists(data), "a refused configuration creates nothing")
        return p.returncode, p.stderr

    def test_each_refusal_names_the_option(self):
        cert, key = make_cert(self.tmp)
        other_cert, other_key = make_cert(self.tmp, "other", "other")
        junk = self.path("junk.pem")
        with open(junk, "w") as f:
            f.write("not a certificate\n")
        cases = [
            (("--tls-cert", cert), 2, "--tls-key: HTTPS needs both --tls-cert and --tls-key"),
            (("--tls-key", key), 2, "--tls-cert: HTTPS needs both --tls-cert and --tls-key"),
            (("--tls-cert", self.path("missing.pem"), "--tls-key", key), 1, "No such file or directory"),
            (("--tls-cert", junk, "--tls-key", key), 1, "not a PEM file"),
            (("--tls-cert", cert, "--tls-key", other_key), 1, "the certificate or its key cannot be used"),
            (("--tls-cert", key, "--tls-key", key), 1, "the certificate or its key cannot be used"),
        ]
        for args, rc, text in cases:
            with self.subTest(args=args):
                got_rc, err = self.serve(*args)
                self.assertEqual(got_rc, rc, err)
                self.assertIn(text, err)
                self.assertIn("sked serve: --tls-", err)


class ForwardedFor(skedtest.ServerTest):
    """127.0.0.2 is the trusted proxy: its X-Forwarded-For names the client; from
    127.0.0.1 (a client, not a proxy) the header is the client's word and ignored."""

    def setUp(self):
        super().setUp()
        self.srv = self.start_server(extra=("--trusted-proxy", "127.0.0.2"))

    def send(self, method, path, body=None, source="127.0.0.1", headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, source_address=(source, 0), timeout=30)
        h = {"Authorization": f"Bearer {self.srv.token}", "Content-Type": "application/json", **(headers or {})}
        c.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), json.loads(data) if data else None

    def audit_addr(self, user):
        entries = [e for e in self.srv.get("/api/v1/audit")["items"] if e["path"] == "/api/v1/users"
                   and e.get("change") and user in json.dumps(e["change"])]
        self.assertEqual(len(entries), 1, entries)
        return entries[0]["addr"]

    def test_audit_records_the_forwarded_client(self):
        cases = [
            ("127.0.0.2", "198.51.100.7", "198.51.100.7"),
            # the rightmost address our proxy did not add: an earlier one is the client's claim
            ("127.0.0.2", "10.9.9.9, 198.51.100.8", "198.51.100.8"),
            ("127.0.0.2", "198.51.100.9, 127.0.0.2", "198.51.100.9"),
            ("127.0.0.2", "not-an-address", "127.0.0.2"),
            ("127.0.0.1", "198.51.100.10", "127.0.0.1"),
        ]
        for i, (source, xff, want) in enumerate(cases):
            with self.subTest(source=source, xff=xff):
                name = f"user{i}"
                status, _, body = self.send("POST", "/api/v1/users",
                                            {"name": name, "role": "viewer", "password": GOOD},
                                            source=source, headers={"X-Forwarded-For": xff})
                self.assertEqual(status, 201, body)
                self.assertEqual(self.audit_addr(name), want)

    def test_login_throttle_counts_the_forwarded_client(self):
        def login(name, source, xff):
            status, _, body = self.send("POST", "/api/v1/session", {"name": name, "password": "x" * 8},
                                        source=source, headers={"X-Forwarded-For": xff, "Authorization": ""})
            return status

        for i in range(20):
            self.assertEqual(login(f"nobody{i}", "127.0.0.2", "203.0.113.5"), 401, i)
        locks = [(l["kind"], l["name"]) for l in self.srv.get("/api/v1/lockouts")["items"]]
        self.assertIn(("addr", "203.0.113.5"), locks)
        self.assertNotIn(("addr", "127.0.0.2"), locks, "the proxy itself is not locked out")
        self.assertEqual(login("nobody", "127.0.0.2", "203.0.113.5"), 429)
        self.assertEqual(login("nobody", "127.0.0.2", "203.0.113.6"), 401, "another client behind the proxy")

    def test_hsts_only_when_the_proxy_says_https(self):
        _, hdrs, _ = self.send("GET", "/healthz", source="127.0.0.2", headers={"X-Forwarded-Proto": "https"})
        self.assertEqual(hdrs.get("Strict-Transport-Security"), "max-age=31536000")
        _, hdrs, _ = self.send("GET", "/healthz", source="127.0.0.1", headers={"X-Forwarded-Proto": "https"})
        self.assertNotIn("Strict-Transport-Security", hdrs)
        _, hdrs, _ = self.send("GET", "/healthz", source="127.0.0.2")
        self.assertNotIn("Strict-Transport-Security", hdrs)


if __name__ == "__main__":
    import unittest
    unittest.main()
