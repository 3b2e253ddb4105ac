"""Web sessions, CSRF and the security headers (issue 14, docs/security.md): login
with a new session each time, the cookie's attributes (plain HTTP, and HTTPS through a
trusted proxy: __Host-, Secure), must-change before anything else, CSRF token and
Origin / Sec-Fetch-Site on every state change of a session (bearer tokens exempt),
logout, listing and ending sessions, sessions ended by disabling the user or a new
password, idle timeout, and the headers on every reply."""
import http.cookies
import json
import os

import skedtest

GOOD = "correct horse battery staple"


class Sessions(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.clock = self.path("clock")
        with open(self.clock, "w") as f:
            f.write("0\n")
        self.srv = self.start_server(extra=("--trusted-proxy", "127.0.0.2", "--session-idle-timeout", "600",
                                            "--clock-file", self.clock))
        status, body = self.srv.api("POST", "/api/v1/users", {"name": "opal", "role": "operator", "password": GOOD})
        self.assertEqual(status, 201, body)

    def login(self, name="opal", password=GOOD, headers=None):
        status, hdrs, body = self.srv.api_full("POST", "/api/v1/session", {"name": name, "password": password},
                                               headers=headers, token=None)
        return status, hdrs, body

    def session(self, name="opal", password=GOOD):
        status, hdrs, body = self.login(name, password)
        self.assertEqual(status, 201, body)
        c = http.cookies.SimpleCookie(hdrs["Set-Cookie"])
        (morsel,) = c.values()
        return f"{morsel.key}={morsel.value}", body["csrf_token"], hdrs["Set-Cookie"]

    def call(self, method, path, cookie, csrf=None, body=None, headers=None):
        h = {"Cookie": cookie, **(headers or {})}
        if csrf:
            h["X-CSRF-Token"] = csrf
        return self.srv.api(method, path, body, headers=h, token=None)

    def test_login_cookie_and_new_id_each_time(self):
        cookie, csrf, raw = self.session()
        self.assertTrue(cookie.startswith("sked_session="), raw)
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attr, raw)
        self.assertNotIn("Secure", raw, "plain HTTP from an untrusted address")
        cookie2, csrf2, _ = self.session()
        self.assertNotEqual(cookie, cookie2, "a new session id at each login")
        self.assertNotEqual(csrf, csrf2)
        status, me = self.call("GET", "/api/v1/session", cookie)
        self.assertEqual((status, me["name"], me["via"], me["role"], me["csrf_token"]),
                         (200, "opal", "session", "operator", csrf), me)
        self.assertEqual(self.call("GET", "/api/v1/series", cookie)[0], 200)
        # the store keeps the cookie's hash only
        rows = self.srv.rows("SELECT hash FROM sessions")
        self.assertEqual(len(rows), 2)
        self.assertNotIn(cookie.split("=", 1)[1], [r["hash"] for r in rows])

    def test_wrong_login_is_one_answer(self):
        for name, pw in (("opal", "wrong password"), ("nobody", GOOD), ("opal", "")):
            with self.subTest(name=name):
                status, _, body = self.login(name, pw)
                self.assertEqual((status, body["detail"]), (401, "wrong user name or password"), body)
        status, _, body = self.login(headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(status, 403, body)
        status, _, body = self.login(headers={"Origin": "https://evil.example"})
        self.assertEqual(status, 403, body)
        self.assertEqual(self.srv.rows("SELECT count(*) AS n FROM sessions")[0]["n"], 0)

    def test_https_behind_a_trusted_proxy(self):
        # 127.0.0.2 is the trusted proxy; from elsewhere X-Forwarded-Proto is ignored
        srv = self.srv
        status, hdrs, body = srv.api_full("POST", "/api/v1/session", {"name": "opal", "password": GOOD},
                                          headers={"X-Forwarded-Proto": "https"}, token=None)
        self.assertEqual(status, 201, body)
        self.assertNotIn("Secure", hdrs["Set-Cookie"])
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", srv.port, source_address=("127.0.0.2", 0), timeout=30)
        c.request("POST", "/api/v1/session", body=b'{"name":"opal","password":"%s"}' % GOOD.encode(),
                  headers={"X-Forwarded-Proto": "https", "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 201)
        cookie = r.getheader("Set-Cookie")
        self.assertTrue(cookie.startswith("__Host-sked_session="), cookie)
        self.assertIn("; Secure", cookie)
        c.close()

    def test_csrf_on_state_changes(self):
        cookie, csrf, _ = self.session()
        body = {"type": "nope"}
        status, reply = self.call("POST", "/api/v1/runs", cookie, None, body)
        self.assertEqual((status, reply.get("field")), (403, "X-CSRF-Token"), reply)
        status, reply = self.call("POST", "/api/v1/runs", cookie, "0" * 64, body)
        self.assertEqual((status, reply.get("field")), (403, "X-CSRF-Token"), reply)
        status, reply = self.call("POST", "/api/v1/runs", cookie, csrf, body, {"Origin": "http://evil.example"})
        self.assertEqual((status, reply.get("field")), (403, "Origin"), reply)
        status, reply = self.call("POST", "/api/v1/runs", cookie, csrf, body, {"Sec-Fetch-Site": "same-site"})
        self.assertEqual((status, reply.get("field")), (403, "Origin"), reply)
        # with the token and a same-origin request it reaches the handler (an unknown type: 404)
        status, reply = self.call("POST", "/api/v1/runs", cookie, csrf, body,
                                  {"Origin": f"http://127.0.0.1:{self.srv.port}", "Sec-Fetch-Site": "same-origin"})
        self.assertEqual(status, 404, reply)
        # bearer tokens need none of it
        status, reply = self.srv.api("POST", "/api/v1/runs", body, headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 404, reply)

    def test_must_change_first(self):
        with open(os.path.join(self.srv.data_dir, "admin.password")) as f:
            pw = f.read().strip()
        cookie, csrf, _ = self.session("admin", pw)
        status, reply = self.call("GET", "/api/v1/series", cookie)
        self.assertEqual(status, 403, reply)
        self.assertIn("must change their password", reply["detail"])
        self.assertEqual(self.call("GET", "/api/v1/session", cookie)[0], 200)
        status, reply = self.call("POST", "/api/v1/users/admin/password", cookie, csrf,
                                  {"password": "the admin's new passphrase", "current_password": pw})
        self.assertEqual((status, reply["must_change_password"]), (200, False), reply)
        self.assertEqual(self.call("GET", "/api/v1/series", cookie)[0], 200, "the session goes on")
        # the admin token (the same user) was never held back
        self.assertEqual(self.srv.api("GET", "/api/v1/series")[0], 200)

    def test_logout_list_and_end(self):
        a, csrf_a, _ = self.session()
        b, csrf_b, _ = self.session()
        status, reply = self.call("GET", "/api/v1/sessions", a)
        self.assertEqual(status, 200, reply)
        items = reply["items"]
        self.assertEqual(len(items), 2)
        self.assertEqual([i["current"] for i in items], [True, False])
        status, reply = self.call("DELETE", f"/api/v1/sessions/{items[1]['id']}", a, csrf_a)
        self.assertEqual(status, 204, reply)
        self.assertEqual(self.call("GET", "/api/v1/series", b)[0], 401)
        status, hdrs, reply = self.srv.api_full("DELETE", "/api/v1/session", None,
                                                headers={"Cookie": a, "X-CSRF-Token": csrf_a}, token=None)
        self.assertEqual(status, 204, reply)
        self.assertIn("Max-Age=0", hdrs["Set-Cookie"])
        status, reply = self.call("GET", "/api/v1/series", a)
        self.assertEqual(status, 401, reply)
        self.assertIn("log in again", reply["detail"])
        # another user's session cannot be ended
        c, csrf_c, _ = self.session()
        sid = self.call("GET", "/api/v1/session", c)[1]["session"]
        status, reply = self.srv.api("POST", "/api/v1/users", {"name": "vic", "role": "viewer", "password": GOOD})
        v, csrf_v, _ = self.session("vic")
        self.assertEqual(self.call("DELETE", f"/api/v1/sessions/{sid}", v, csrf_v)[0], 404)
        self.assertEqual(self.call("GET", "/api/v1/series", c)[0], 200)

    def test_disable_and_new_password_end_sessions(self):
        a, csrf_a, _ = self.session()
        b, _, _ = self.session()
        status, reply = self.call("POST", "/api/v1/users/opal/password", a, csrf_a,
                                  {"password": "another good passphrase", "current_password": GOOD})
        self.assertEqual(status, 200, reply)
        self.assertEqual(self.call("GET", "/api/v1/series", a)[0], 200, "the caller's session stays")
        self.assertEqual(self.call("GET", "/api/v1/series", b)[0], 401, "the others end")
        self.assertEqual(self.srv.api("POST", "/api/v1/users/opal/disable")[0], 200)
        self.assertEqual(self.call("GET", "/api/v1/series", a)[0], 401)
        status, _, body = self.login(password="another good passphrase")
        self.assertEqual(status, 401, body)

    def test_idle_timeout(self):
        cookie, _, _ = self.session()
        self.assertEqual(self.call("GET", "/api/v1/series", cookie)[0], 200)
        with open(self.clock, "w") as f:
            f.write("601\n")
        skedtest.wait_for(lambda: self.call("GET", "/api/v1/series", cookie)[0] == 401, 10,
                          what="the session to end after 600 s unused")


class Headers(skedtest.ServerTest):
    def test_on_every_reply(self):
        srv = self.start_server()
        for method, path, token in (("GET", "/healthz", None), ("GET", "/api/v1/series", True),
                                    ("GET", "/api/v1/series", None), ("GET", "/nope", True),
                                    ("GET", "/api/v1/openapi.json", None)):
            with self.subTest(path=path, token=token):
                _, hdrs, _ = srv.request(method, path, token=token)
                csp = hdrs["Content-Security-Policy"]
                for d in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                          "base-uri 'none'", "frame-ancestors 'none'"):
                    self.assertIn(d, csp)
                self.assertNotIn("unsafe-inline", csp)
                self.assertEqual(hdrs["X-Content-Type-Options"], "nosniff")
                self.assertEqual(hdrs["Referrer-Policy"], "same-origin")
                self.assertIsNone(hdrs.get("Strict-Transport-Security"), "HSTS only on TLS")


class Audit(skedtest.ServerTest):
    def test_every_change_logged_without_secrets(self):
        srv = self.start_server()
        srv.register_type(skedtest.command_type("bb.audit", ["/bin/true"]))
        s = srv.create_series(type="bb.audit", schedule="cron:0 * * * *", tz="UTC", title="hourly")
        self.assertEqual(srv.api("POST", f"/api/v1/series/{s['id']}/pause", {"note": "maintenance"})[0], 200)
        status, body = srv.api("POST", "/api/v1/users", {"name": "opal", "role": "admin", "password": GOOD})
        self.assertEqual(status, 201, body)
        status, body = srv.api("POST", "/api/v1/tokens", {"name": "ci", "user": "opal"})
        self.assertEqual(status, 201, body)
        token = body["token"]
        status, _, login = srv.api_full("POST", "/api/v1/session", {"name": "opal", "password": GOOD}, token=None)
        self.assertEqual(status, 201, login)
        # refused requests leave nothing
        self.assertEqual(srv.api("DELETE", "/api/v1/series/999")[0], 404)
        self.assertEqual(srv.api("POST", "/api/v1/users", {"name": "opal", "role": "viewer"})[0], 409)
        # a change by another user, through their token
        self.assertEqual(srv.api("POST", f"/api/v1/series/{s['id']}/resume", token=token)[0], 200)
        log = srv.get("/api/v1/audit")["items"]
        got = [(e["actor"], e["via"], e["method"], e["path"]) for e in log]
        self.assertEqual(got, [("opal", "token", "POST", f"/api/v1/series/{s['id']}/resume"),
                               ("-", "none", "POST", "/api/v1/session"),
                               ("admin", "token", "POST", "/api/v1/tokens"),
                               ("admin", "token", "POST", "/api/v1/users"),
                               ("admin", "token", "POST", f"/api/v1/series/{s['id']}/pause"),
                               ("admin", "token", "POST", "/api/v1/series"),
                               ("admin", "token", "POST", "/api/v1/types")], got)
        self.assertTrue(all(e["addr"] == "127.0.0.1" for e in log))
        self.assertEqual(log[4]["change"], {"note": "maintenance"})
        self.assertEqual(log[3]["change"]["password"], "(secret)")
        self.assertEqual(log[1]["change"], {"name": "opal", "password": "(secret)"})
        text = str(srv.rows("SELECT * FROM audit"))
        for secret in (GOOD, token, login["csrf_token"]):
            self.assertNotIn(secret, text)
        # filters, pages, and admins only
        self.assertEqual([e["path"] for e in srv.get("/api/v1/audit?actor=opal")["items"]],
                         [f"/api/v1/series/{s['id']}/resume"])
        self.assertEqual(len(srv.get("/api/v1/audit?path=/api/v1/series")["items"]), 3)
        page = srv.get("/api/v1/audit?limit=2")
        self.assertEqual(len(page["items"]), 2)
        rest = srv.get(f"/api/v1/audit?limit=10&before={page['next']}")["items"]
        self.assertEqual([e["id"] for e in page["items"] + rest], [e["id"] for e in log])
        status, body = srv.api("POST", "/api/v1/users", {"name": "vic", "role": "viewer"})
        viewer = srv.api("POST", "/api/v1/tokens", {"name": "v", "user": "vic"})[1]["token"]
        self.assertEqual(srv.api("GET", "/api/v1/audit", token=viewer)[0], 403)
        status, body = srv.api("GET", "/api/v1/audit?since=yesterday")
        self.assertEqual((status, body.get("field")), (400, "since"), body)
        rc, out, err = srv.cli("audit", "--actor", "opal")
        self.assertEqual(rc, 0, err)
        self.assertIn("/resume", out)

    def test_before_and_after(self):
        srv = self.start_server()
        srv.register_type(skedtest.command_type("bb.audit", ["/bin/true"], feature="audited"))
        s = srv.create_series(type="bb.audit", schedule="cron:0 * * * *", tz="UTC", title="hourly")
        sid = s["id"]
        self.assertEqual(srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "every hour"},
                                 headers={"If-Match": '"1"'})[0], 200)
        self.assertEqual(srv.api("POST", f"/api/v1/series/{sid}/pause", {"note": "maintenance"})[0], 200)
        occ = srv.occurrences(sid, "2030-01-01T00:00:00Z", "2030-01-01T03:00:00Z")[0]["nominal"]
        status, body = srv.api("PATCH", f"/api/v1/series/{sid}/occurrences/{occ}", {"enabled": False})
        self.assertEqual(status, 200, (occ, body))
        self.assertEqual(srv.api("POST", "/api/v1/features/audited/disable", {})[0], 200)
        self.assertEqual(srv.api("POST", "/api/v1/users", {"name": "opal", "role": "viewer", "password": GOOD})[0], 201)
        self.assertEqual(srv.api("POST", "/api/v1/users/opal/disable")[0], 200)
        self.assertEqual(srv.api("DELETE", f"/api/v1/series/{sid}")[0], 204)
        log = {(e["method"], e["path"]): e for e in srv.get("/api/v1/audit")["items"]}

        def states(method, path):
            e = log[(method, path)]
            return e["before"], e["after"]

        before, after = states("PATCH", f"/api/v1/series/{sid}")
        self.assertEqual((before["title"], after["title"]), ("hourly", "every hour"))
        self.assertEqual((before["version"] + 1, after["id"]), (after["version"], sid))
        before, after = states("POST", f"/api/v1/series/{sid}/pause")
        self.assertEqual((before["enabled"], after["enabled"]), (True, False))
        before, after = states("PATCH", f"/api/v1/series/{sid}/occurrences/{occ}")
        self.assertIsNone(before, "no one-off change before")
        self.assertEqual((after["enabled"], after["series_id"], after["start"]), (False, sid, None))
        before, after = states("POST", "/api/v1/features/audited/disable")
        self.assertEqual((before["enabled"], after["enabled"]), (True, False))
        before, after = states("POST", "/api/v1/users/opal/disable")
        self.assertEqual((before["disabled"], after["disabled"]), (False, True))
        self.assertNotIn("password_hash", json.dumps(after))
        before, after = states("DELETE", f"/api/v1/series/{sid}")
        self.assertEqual((before["id"], after), (sid, None))
        # a create has no single resource in its path: the request is the record
        self.assertEqual(states("POST", "/api/v1/series"), (None, None))
        self.assertEqual(states("POST", "/api/v1/users"), (None, None))
        hashes = [r["password_hash"] for r in srv.rows("SELECT password_hash FROM users") if r["password_hash"]]
        text = str(srv.rows("SELECT before_state, after_state FROM audit"))
        for h in hashes:
            self.assertNotIn(h, text)


class Throttle(skedtest.ServerTest):
    def test_failed_logins_lock_the_account_then_the_address(self):
        clock = self.path("clock")
        with open(clock, "w") as f:
            f.write("0\n")
        srv = self.start_server(extra=("--clock-file", clock))
        for name in ("opal", "vic"):
            status, body = srv.api("POST", "/api/v1/users", {"name": name, "role": "viewer", "password": GOOD})
            self.assertEqual(status, 201, body)

        def login(name, pw):
            status, hdrs, body = srv.api_full("POST", "/api/v1/session", {"name": name, "password": pw}, token=None)
            return status, hdrs, body

        for i in range(4):
            self.assertEqual(login("opal", "not the password")[0], 401, i)
        self.assertEqual(srv.get("/api/v1/lockouts")["items"], [])
        self.assertEqual(login("opal", "not the password")[0], 401)  # the 5th locks
        status, hdrs, body = login("opal", GOOD)
        self.assertEqual(status, 429, body)
        self.assertGreaterEqual(int(hdrs["Retry-After"]), 1)
        locks = srv.get("/api/v1/lockouts")["items"]
        self.assertEqual([(l["kind"], l["name"], l["failures"]) for l in locks], [("user", "opal", 5)])
        self.assertEqual(login("vic", GOOD)[0], 201, "another account from the same address is not locked")
        # the lock ends; a good login clears the count
        with open(clock, "w") as f:
            f.write("2\n")
        skedtest.wait_for(lambda: login("opal", GOOD)[0] == 201, 10, what="opal's lock to end")
        self.assertEqual(login("opal", "not the password")[0], 401, "counting from zero again")
        # an address trying many names locks itself: 20 failures
        for i in range(19):
            self.assertIn(login(f"nobody{i}", "x" * 8)[0], (401,), i)
        status, _, body = login("vic", GOOD)
        self.assertEqual(status, 429, body)
        self.assertIn(("addr", "127.0.0.1"), [(l["kind"], l["name"]) for l in srv.get("/api/v1/lockouts")["items"]])
        _, _, text = srv.request("GET", "/metrics")
        lines = [l for l in text.decode().splitlines() if l.startswith("sked_login_failures_total")]
        self.assertIn('sked_login_failures_total{reason="credentials"} 25', lines)
        locked = [int(l.split()[-1]) for l in lines if 'reason="locked"' in l]
        self.assertGreaterEqual(locked[0], 2, lines)  # wait_for may have been refused more than once
