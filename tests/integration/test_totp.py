"""The TOTP second factor (issue 14, docs/security.md "Second factor"): enrolment
after re-authentication, confirmation with a first code and the recovery codes shown
once, the login's second step, replayed and wrong codes refused (and counted by the
login throttle), recovery codes good once and regenerated, disabling, the admins'
requirement per role (a session without a second factor reaches enrolment only), and
no secret, code or recovery code in the logs, the audit log or later replies.  The
codes are computed here (RFC 6238, HMAC-SHA-1, 6 digits, 30 s) from the secret the
enrolment returned, at the real clock (the server's, without --clock-file), using the
one step either side the server accepts to get a code of a later step; one test moves
the server's clock (--clock-file) to show the window follows it."""
import base64
import hashlib
import hmac
import http.cookies
import os
import re
import struct
import subprocess
import time
import urllib.parse

import skedtest

GOOD = "correct horse battery staple"


def totp(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    n = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return f"{n:06d}"


def step_now():
    return int(time.time()) // 30


class Totp(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server()
        self.secrets = []   # every secret and code seen, for the leak check

    def user(self, name, role="operator"):
        status, body = self.srv.api("POST", "/api/v1/users", {"name": name, "role": role, "password": GOOD})
        self.assertEqual(status, 201, body)
        status, tok = self.srv.api("POST", "/api/v1/tokens", {"name": "t", "user": name})
        self.assertEqual(status, 201, tok)
        return tok["token"]

    def login(self, name, password=GOOD, code=None):
        body = {"name": name, "password": password}
        if code is not None:
            body["code"] = code
        return self.srv.api_full("POST", "/api/v1/session", body, token=None)

    def enrol(self, name, token):
        status, body = self.srv.api("POST", f"/api/v1/users/{name}/totp", {"current_password": "wrong one!"},
                                    token=token)
        self.assertEqual((status, body["field"]), (403, "current_password"), body)
        status, body = self.srv.api("POST", f"/api/v1/users/{name}/totp", {"current_password": GOOD}, token=token)
        self.assertEqual(status, 201, body)
        secret = body["secret"]
        self.assertRegex(secret, r"^[A-Z2-7]{32}$")
        uri = urllib.parse.urlsplit(body["uri"])
        self.assertEqual((uri.scheme, uri.netloc, uri.path), ("otpauth", "totp", f"/sked:{name}"))
        q = urllib.parse.parse_qs(uri.query)
        self.assertEqual((q["secret"], q["issuer"]), ([secret], ["sked"]))
        self.secrets.append(secret)
        return secret

    def confirm(self, name, token, secret):
        step = step_now()
        status, body = self.srv.api("POST", f"/api/v1/users/{name}/totp/confirm",
                                    {"code": totp(secret, step + 5)}, token=token)
        self.assertEqual((status, body["field"]), (400, "code"), body)
        code = totp(secret, step)
        status, body = self.srv.api("POST", f"/api/v1/users/{name}/totp/confirm", {"code": code}, token=token)
        self.assertEqual(status, 200, body)
        codes = body["recovery_codes"]
        self.assertEqual(len(codes), 10)
        self.assertEqual(len(set(codes)), 10)
        for c in codes:
            self.assertRegex(c, r"^[a-z2-7]{4}(-[a-z2-7]{4}){3}$")
        self.secrets += codes + [code]
        return step, codes

    def test_enrol_confirm_and_the_login_needs_a_code_good_once(self):
        tok = self.user("tess")
        secret = self.enrol("tess", tok)
        self.assertEqual(self.srv.api("GET", "/api/v1/users/tess")[1]["totp"], "pending")
        status, hdrs, body = self.login("tess")
        self.assertEqual(status, 201, "an unconfirmed secret is not a second factor yet")
        step, _ = self.confirm("tess", tok, secret)
        self.assertEqual(self.srv.api("GET", "/api/v1/users/tess")[1]["totp"], "on")
        # confirmed once: a second confirmation or enrolment is refused
        status, body = self.srv.api("POST", "/api/v1/users/tess/totp", {"current_password": GOOD}, token=tok)
        self.assertEqual(status, 409, body)

        status, hdrs, body = self.login("tess")
        self.assertEqual((status, body["field"]), (401, "code"), body)
        self.assertIsNone(hdrs.get("Set-Cookie"), "no session before the second step")
        status, hdrs, body = self.login("tess", code=totp(secret, step + 7))
        self.assertEqual((status, body["field"]), (401, "code"), "a wrong code")
        self.assertIsNone(hdrs.get("Set-Cookie"))
        status, _, body = self.login("tess", code=totp(secret, step))
        self.assertEqual((status, body["field"]), (401, "code"), "the confirmation's code again: a replay")
        status, _, body = self.login("tess", password="not the password", code=totp(secret, step + 1))
        self.assertEqual(status, 401, body)
        self.assertNotIn("field", body, "a wrong password is a wrong password, code or not")
        status, hdrs, body = self.login("tess", code=totp(secret, step + 1))
        self.assertEqual(status, 201, body)
        self.assertIn("sked_session=", hdrs["Set-Cookie"])
        status, _, body = self.login("tess", code=totp(secret, step + 1))
        self.assertEqual((status, body["field"]), (401, "code"), "a code is good once")
        self.assert_no_secret()

    def test_recovery_codes_good_once_and_regenerated(self):
        tok = self.user("rudi")
        secret = self.enrol("rudi", tok)
        step, codes = self.confirm("rudi", tok, secret)
        status, _, body = self.login("rudi", code=codes[0].upper().replace("-", ""))
        self.assertEqual(status, 201, "case and dashes do not matter")
        status, _, body = self.login("rudi", code=codes[0])
        self.assertEqual((status, body["field"]), (401, "code"), "a recovery code is good once")
        self.assertEqual(len(self.srv.rows("SELECT id FROM recovery_codes WHERE used_at IS NOT NULL")), 1)
        # new codes: password and a code first; the old ones stop working
        status, body = self.srv.api("POST", "/api/v1/users/rudi/totp/recovery-codes",
                                    {"current_password": GOOD, "code": "000000" if totp(secret, step + 1) != "000000"
                                     else "111111"}, token=tok)
        self.assertEqual((status, body["field"]), (403, "code"), body)
        status, body = self.srv.api("POST", "/api/v1/users/rudi/totp/recovery-codes",
                                    {"current_password": GOOD, "code": codes[1]}, token=tok)
        self.assertEqual(status, 200, body)
        fresh = body["recovery_codes"]
        self.secrets += fresh
        self.assertEqual(len(fresh), 10)
        self.assertFalse(set(fresh) & set(codes))
        status, _, body = self.login("rudi", code=codes[2])
        self.assertEqual(status, 401, "the old codes are gone")
        status, _, body = self.login("rudi", code=fresh[0])
        self.assertEqual(status, 201, body)
        # the store holds hashes
        rows = self.srv.rows("SELECT hash FROM recovery_codes")
        self.assertEqual(len(rows), 10)
        for r in rows:
            self.assertEqual(len(r["hash"]), 64)
            self.assertNotIn(r["hash"], [c.replace("-", "") for c in fresh])
        self.assert_no_secret()

    def test_disable_needs_password_and_code_or_an_admin(self):
        tok = self.user("dora")
        secret = self.enrol("dora", tok)
        step, codes = self.confirm("dora", tok, secret)
        status, body = self.srv.api("POST", "/api/v1/users/dora/totp/disable",
                                    {"current_password": GOOD}, token=tok)
        self.assertEqual((status, body["field"]), (400, "code"), body)
        status, body = self.srv.api("POST", "/api/v1/users/dora/totp/disable",
                                    {"current_password": "not it at all", "code": totp(secret, step + 1)}, token=tok)
        self.assertEqual((status, body["field"]), (403, "current_password"), body)
        status, body = self.srv.api("POST", "/api/v1/users/dora/totp/disable",
                                    {"current_password": GOOD, "code": totp(secret, step + 1)}, token=tok)
        self.assertEqual(status, 204, body)
        self.assertEqual(self.srv.api("GET", "/api/v1/users/dora")[1]["totp"], "off")
        self.assertEqual(self.login("dora")[0], 201, "no second step any more")
        # an admin removes another user's second factor (a lost device) without codes
        secret = self.enrol("dora", tok)
        self.confirm("dora", tok, secret)
        other = self.user("olga")
        status, body = self.srv.api("POST", "/api/v1/users/dora/totp/disable", None, token=other)
        self.assertEqual(status, 403, body)
        status, body = self.srv.api("POST", "/api/v1/users/dora/totp/disable")
        self.assertEqual(status, 204, body)
        self.assertEqual(self.srv.rows("SELECT count(*) AS n FROM recovery_codes")[0]["n"], 0)
        # and nobody enrols someone else
        status, body = self.srv.api("POST", "/api/v1/users/dora/totp", {"current_password": GOOD}, token=other)
        self.assertEqual(status, 403, body)

    def test_wrong_codes_count_in_the_login_throttle(self):
        tok = self.user("wendy")
        secret = self.enrol("wendy", tok)
        step, _ = self.confirm("wendy", tok, secret)
        good = {totp(secret, step + d) for d in (-1, 0, 1, 2)}
        wrong = [c for c in (f"{i:06d}" for i in range(100)) if c not in good][:5]
        # the enrolment's wrong password counted already: the fifth failure locks
        statuses = [self.login("wendy", code=c)[0] for c in wrong[:4]]
        self.assertEqual(statuses, [401] * 4)
        status, hdrs, body = self.login("wendy", code=totp(secret, step + 1))
        self.assertEqual(status, 429, "a good code while locked out")
        self.assertIn("Retry-After", hdrs)
        locked = self.srv.api("GET", "/api/v1/lockouts")[1]["items"]
        self.assertIn(("user", "wendy"), [(x["kind"], x["name"]) for x in locked])

    def session_of(self, name, code=None):
        status, hdrs, body = self.login(name, code=code)
        self.assertEqual(status, 201, body)
        (m,) = http.cookies.SimpleCookie(hdrs["Set-Cookie"]).values()
        return {"Cookie": f"{m.key}={m.value}", "X-CSRF-Token": body["csrf_token"]}

    def test_required_by_role_gates_sessions_to_enrolment(self):
        self.user("vic", role="viewer")
        optok = self.user("otto")
        status, body = self.srv.api("PUT", "/api/v1/totp-policy", {"required_roles": ["operator", "nobody"]})
        self.assertEqual((status, body["field"]), (400, "required_roles"), body)
        self.assertEqual(self.srv.api("GET", "/api/v1/totp-policy")[1], {"required_roles": []})
        status, body = self.srv.api("PUT", "/api/v1/totp-policy", {"required_roles": ["operator", "admin"]})
        self.assertEqual((status, body), (200, {"required_roles": ["operator", "admin"]}))
        status, body = self.srv.api("PUT", "/api/v1/totp-policy", {"required_roles": ["operator"]}, token=optok)
        self.assertEqual(status, 403, "admins only")

        s = self.session_of("otto")
        status, body = self.srv.api("GET", "/api/v1/series", headers=s, token=None)
        self.assertEqual(status, 403, body)
        self.assertIn("second factor", body["detail"])
        status, me = self.srv.api("GET", "/api/v1/session", headers=s, token=None)
        self.assertEqual((status, me["totp_enrolment_required"]), (200, True), me)
        # a viewer's role is not required
        v = self.session_of("vic")
        self.assertEqual(self.srv.api("GET", "/api/v1/series", headers=v, token=None)[0], 200)
        self.assertFalse(self.srv.api("GET", "/api/v1/session", headers=v, token=None)[1]["totp_enrolment_required"])
        # tokens are not sessions: not gated (machines have no authenticator app)
        self.assertEqual(self.srv.api("GET", "/api/v1/series", token=optok)[0], 200)
        # enrolment is open to the gated session
        status, body = self.srv.api("POST", "/api/v1/users/otto/totp", {"current_password": GOOD}, headers=s,
                                    token=None)
        self.assertEqual(status, 201, body)
        secret = body["secret"]
        self.secrets.append(secret)
        code = totp(secret, step_now())
        status, body = self.srv.api("POST", "/api/v1/users/otto/totp/confirm", {"code": code}, headers=s, token=None)
        self.assertEqual(status, 200, body)
        self.secrets += body["recovery_codes"]
        self.assertEqual(self.srv.api("GET", "/api/v1/series", headers=s, token=None)[0], 200, "enrolled: free")
        self.assert_no_secret()

    def test_codes_follow_the_servers_clock(self):
        """The window is one step either side of the server's now (its injectable
        clock, --clock-file), not of the real one."""
        clock = self.path("clock")
        with open(clock, "w") as f:
            f.write("0\n")
        self.srv.stop()
        self.srv = self.start_server("clocked", extra=("--clock-file", clock))
        tok = self.user("tim")
        secret = self.enrol("tim", tok)
        self.confirm("tim", tok, secret)
        # a probe of the server's clock: a token that expires 100 s from now
        status, probe = self.srv.api("POST", "/api/v1/tokens", {
            "name": "probe", "user": "tim", "expires_at": skedtest.utc_text(skedtest.now_us() + 100_000_000)})
        self.assertEqual(status, 201, probe)
        with open(clock, "w") as f:
            f.write("600\n")
        skedtest.wait_for(lambda: self.srv.api("GET", "/api/v1/series", token=probe["token"])[0] == 401, 10,
                          what="the server's clock 600 s ahead")
        real = step_now()
        status, _, body = self.login("tim", code=totp(secret, real + 1))
        self.assertEqual((status, body["field"]), (401, "code"), "a code of the real clock's next step is 19 off")
        status, _, body = self.login("tim", code=totp(secret, real + 20))
        self.assertEqual(status, 201, body)

    def cli_as(self, token, *args, stdin=""):
        env = dict(self.srv.cli_env(), SKED_TOKEN=token)
        p = subprocess.run([skedtest.SKED, *args], input=stdin, capture_output=True, text=True, env=env,
                           timeout=30 * skedtest.SLOW)
        return p.returncode, p.stdout, p.stderr

    def test_cli(self):
        tok = self.user("cleo")
        rc, out, err = self.cli_as(tok, "user", "totp", "enrol", "cleo", stdin="wrong password\n")
        self.assertNotEqual(rc, 0)
        self.assertIn("current_password", err)
        rc, out, err = self.cli_as(tok, "user", "totp", "enrol", "cleo", stdin=GOOD + "\n")
        self.assertEqual(rc, 0, err)
        secret = re.search(r"^secret: ([A-Z2-7]{32})$", out, re.M).group(1)
        self.assertIn(f"\nuri: otpauth://totp/sked:cleo?secret={secret}&issuer=sked&", out)
        self.assertIn("shown this once", err)
        self.secrets.append(secret)
        step = step_now()
        rc, out, err = self.cli_as(tok, "user", "totp", "confirm", "cleo", stdin=totp(secret, step) + "\n")
        self.assertEqual(rc, 0, err)
        codes = out.split()
        self.assertEqual(len(codes), 10, out)
        self.secrets += codes
        rc, out, err = self.cli_as(tok, "user", "totp", "recovery-codes", "cleo", stdin=f"{GOOD}\n{codes[0]}\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.split()), 10)
        self.secrets += out.split()
        rc, out, err = self.cli_as(tok, "user", "totp", "frobnicate", "cleo")
        self.assertNotEqual(rc, 0)
        self.assertIn("expected enrol, confirm, disable or recovery-codes", err)
        # the admins' requirement
        rc, out, err = self.srv.cli("user", "totp-require")
        self.assertEqual((rc, out), (0, "second factor required of: nobody\n"), err)
        rc, out, err = self.srv.cli("user", "totp-require", "admin", "operator")
        self.assertEqual((rc, out), (0, "second factor required of: operator, admin\n"), err)
        rc, out, err = self.cli_as(tok, "user", "totp-require", "--none")
        self.assertNotEqual(rc, 0, "admins only")
        rc, out, err = self.srv.cli("user", "totp-require", "--none")
        self.assertEqual((rc, out), (0, "second factor required of: nobody\n"), err)
        # an admin removes it (a lost device), nothing on stdin
        rc, out, err = self.srv.cli("user", "totp", "disable", "cleo")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.srv.api("GET", "/api/v1/users/cleo")[1]["totp"], "off")
        self.assert_no_secret()

    def assert_no_secret(self):
        """No secret, code or recovery code in the server's output, the audit log, or
        the replies that describe users."""
        audit = self.srv.api("GET", "/api/v1/audit?limit=1000")[1]
        texts = [self.srv.stdout(), self.srv.stderr(), str(audit), str(self.srv.api("GET", "/api/v1/users")[1])]
        for t in texts:
            for sec in self.secrets:
                self.assertNotIn(sec, t)
                self.assertNotIn(sec.replace("-", ""), t)
        paths = [e["path"] for e in audit["items"]]
        self.assertTrue(any(re.search(r"/totp/confirm$", p) for p in paths), paths)
