"""Users, roles and API tokens (issue 14, docs/security.md): the first start's admin
and its password file, the data directory's token as the first admin's, roles on
every route, tokens shown once and stored as hashes, disabling a user, passwords
(length, common ones, re-authentication), the CLI's user and token commands, and a
data directory made before users existed keeping its token."""
import os
import stat
import subprocess

import skedtest
from skedtest import wait_for

GOOD = "correct horse battery staple"


class Users(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server()

    def add(self, name, role, password=GOOD, **kw):
        body = {"name": name, "role": role, **kw}
        if password:
            body["password"] = password
        status, reply = self.srv.api("POST", "/api/v1/users", body)
        self.assertEqual(status, 201, reply)
        return reply

    def token_of(self, user, name="t"):
        status, reply = self.srv.api("POST", "/api/v1/tokens", {"name": name, "user": user})
        self.assertEqual(status, 201, reply)
        return reply

    def test_first_start_creates_admin_with_a_password_file(self):
        srv = self.srv
        path = os.path.join(srv.data_dir, "admin.password")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(path) as f:
            pw = f.read().strip()
        self.assertGreaterEqual(len(pw), 20)
        self.assertIn(pw, srv.stderr(), "printed once at the first start")
        users = srv.get("/api/v1/users")["items"]
        self.assertEqual([(u["name"], u["role"], u["must_change_password"], u["has_password"]) for u in users],
                         [("admin", "admin", True, True)])
        tokens = srv.get("/api/v1/tokens")["items"]
        self.assertEqual([(t["user"], t["name"]) for t in tokens], [("admin", "admin token file")])
        # the use of the token is recorded (through the loop, after the request)
        skedtest.wait_for(lambda: srv.get("/api/v1/tokens")["items"][0]["last_used_at"] is not None, 10,
                          what="last_used_at of the token file's token")
        # the store holds a hash, not the token
        rows = srv.rows("SELECT hash FROM tokens")
        self.assertEqual(len(rows), 1)
        self.assertNotEqual(rows[0]["hash"], srv.token)
        self.assertEqual(len(rows[0]["hash"]), 64)
        # a restart creates nothing more and prints no password
        srv.stop()
        srv.start()
        self.assertEqual(len(srv.get("/api/v1/users")["items"]), 1)
        self.assertNotIn(pw, srv.stderr(), "the password is printed at the first start only")

    def test_roles_on_routes(self):
        srv = self.srv
        self.add("vic", "viewer")
        self.add("opal", "operator")
        viewer = self.token_of("vic")["token"]
        operator = self.token_of("opal")["token"]
        # a viewer reads and changes nothing
        for path in ("/api/v1/series", "/api/v1/runs", "/api/v1/features", "/api/v1/types"):
            status, body = srv.api("GET", path, token=viewer)
            self.assertEqual(status, 200, (path, body))
        status, body = srv.api("POST", "/api/v1/runs", {"type": "nope"}, token=viewer)
        self.assertEqual(status, 403, body)
        self.assertIn("needs the role operator", body["detail"])
        self.assertIn('"vic" is a viewer', body["detail"])
        status, body = srv.api("DELETE", "/api/v1/series/1", token=viewer)
        self.assertEqual(status, 403, body)
        # an operator manages series and runs (here: gets past the role check to the
        # handler's 404 / 400), but not types, features, users or the poller's init
        status, body = srv.api("DELETE", "/api/v1/series/999", token=operator)
        self.assertEqual(status, 404, body)
        for method, path, b in (("POST", "/api/v1/features/x/enable", None), ("POST", "/api/v1/poller/init", None),
                                ("GET", "/api/v1/users", None), ("POST", "/api/v1/types", {"name": "x"}),
                                ("POST", "/api/v1/users", {"name": "eve", "role": "admin"})):
            with self.subTest(path=path):
                status, body = srv.api(method, path, b, token=operator)
                self.assertEqual(status, 403, body)
                self.assertIn("needs the role admin", body["detail"])
        # refused requests changed nothing
        self.assertEqual([u["name"] for u in srv.get("/api/v1/users")["items"]], ["admin", "opal", "vic"])
        # users read themselves, not others
        self.assertEqual(srv.api("GET", "/api/v1/users/vic", token=viewer)[0], 200)
        self.assertEqual(srv.api("GET", "/api/v1/users/opal", token=viewer)[0], 403)
        # nobody but an admin changes a role
        status, body = srv.api("PATCH", "/api/v1/users/vic", {"role": "admin"}, token=viewer)
        self.assertEqual((status, body.get("field")), (403, "role"), body)
        status, body = srv.api("PATCH", "/api/v1/users/vic", {"display_name": "Vic V.", "tz": "Europe/Paris"},
                               token=viewer)
        self.assertEqual((status, body["display_name"], body["tz"], body["role"]), (200, "Vic V.", "Europe/Paris",
                                                                                     "viewer"), body)

    def test_tokens_shown_once_expire_and_revoke(self):
        srv = self.srv
        self.add("vic", "viewer")
        t = self.token_of("vic", "ci")
        self.assertEqual(len(t["token"]), 64)
        listed = srv.get("/api/v1/tokens?all=true")["items"]
        self.assertTrue(all("token" not in x for x in listed), listed)
        self.assertEqual(srv.api("GET", "/api/v1/series", token=t["token"])[0], 200)
        # the user lists their own tokens only; all=true is for admins
        mine = srv.api("GET", "/api/v1/tokens", token=t["token"])[1]["items"]
        self.assertEqual([x["id"] for x in mine], [t["id"]])
        self.assertEqual(srv.api("GET", "/api/v1/tokens?all=true", token=t["token"])[0], 403)
        # a user cannot revoke another's token
        self.assertEqual(srv.api("DELETE", "/api/v1/tokens/1", token=t["token"])[0], 404)
        # expiry: in the past is refused; bad instants named
        status, body = srv.api("POST", "/api/v1/tokens", {"name": "x", "user": "vic", "expires_at": "2000-01-01T00:00:00Z"})
        self.assertEqual((status, body.get("field")), (400, "expires_at"), body)
        status, body = srv.api("POST", "/api/v1/tokens", {"name": "x", "user": "vic", "expires_at": "soon"})
        self.assertEqual((status, body.get("field")), (400, "expires_at"), body)
        status, body = srv.api("POST", "/api/v1/tokens", {"user": "vic"})
        self.assertEqual((status, body.get("field")), (400, "name"), body)
        # a user revokes their own
        self.assertEqual(srv.api("DELETE", f"/api/v1/tokens/{t['id']}", token=t["token"])[0], 204)
        self.assertEqual(srv.api("GET", "/api/v1/series", token=t["token"])[0], 401)
        self.assertEqual(srv.api("DELETE", f"/api/v1/tokens/{t['id']}")[0], 404, "once only")
        revoked = srv.get("/api/v1/tokens?all=true&revoked=true")["items"]
        self.assertIsNotNone([x for x in revoked if x["id"] == t["id"]][0]["revoked_at"])

    def test_revoking_the_token_file_token_ends_it(self):
        srv = self.srv
        self.add("root2", "admin")
        other = self.token_of("root2")["token"]
        self.assertEqual(srv.api("DELETE", "/api/v1/tokens/1", token=other)[0], 204)
        self.assertEqual(srv.api("GET", "/api/v1/series")[0], 401)
        self.assertEqual(srv.api("GET", "/api/v1/series", token=other)[0], 200)

    def test_disable_ends_tokens_at_once(self):
        srv = self.srv
        self.add("opal", "operator")
        tok = self.token_of("opal")["token"]
        self.assertEqual(srv.api("GET", "/api/v1/series", token=tok)[0], 200)
        status, body = srv.api("POST", "/api/v1/users/opal/disable")
        self.assertEqual((status, body["disabled"]), (200, True), body)
        self.assertEqual(srv.api("GET", "/api/v1/series", token=tok)[0], 401)
        status, body = srv.api("POST", "/api/v1/users/opal/enable")
        self.assertEqual((status, body["disabled"]), (200, False), body)
        self.assertEqual(srv.api("GET", "/api/v1/series", token=tok)[0], 401, "revoked tokens stay revoked")
        status, body = srv.api("POST", "/api/v1/users/admin/disable")
        self.assertEqual((status, body.get("field")), (400, "name"), "one cannot disable oneself")
        status, body = srv.api("POST", "/api/v1/users/nobody/disable")
        self.assertEqual(status, 404, body)

    def test_bad_users_refused(self):
        srv = self.srv
        for body, field in (({"name": "Bad Name", "role": "viewer"}, "name"),
                            ({"name": "x", "role": "root"}, "role"),
                            ({"name": "x"}, "role"),
                            ({"name": "x", "role": "viewer", "tz": "Mars/Olympus"}, "tz"),
                            ({"name": "x", "role": "viewer", "password": "short"}, "password"),
                            ({"name": "x", "role": "viewer", "password": "x" * 129}, "password"),
                            ({"name": "x", "role": "viewer", "password": "Password123"}, "password"),
                            ({"name": "x", "role": "viewer", "password": "qwertyuiop"}, "password"),
                            ({"name": "x", "role": "viewer", "password": 12345678}, "password"),
                            ({"name": "x", "role": "viewer", "admin": True}, "admin")):
            with self.subTest(body=body):
                status, reply = srv.api("POST", "/api/v1/users", body)
                self.assertEqual((status, reply.get("field")), (400, field), reply)
        self.assertEqual(len(srv.get("/api/v1/users")["items"]), 1, "nothing was created")
        self.add("vic", "viewer")
        status, reply = srv.api("POST", "/api/v1/users", {"name": "vic", "role": "viewer"})
        self.assertEqual(status, 409, reply)

    def test_password_change_needs_the_current_one(self):
        srv = self.srv
        self.add("vic", "viewer")
        tok = self.token_of("vic")["token"]
        status, body = srv.api("POST", "/api/v1/users/vic/password", {"password": "another good passphrase"},
                               token=tok)
        self.assertEqual((status, body.get("field")), (403, "current_password"), body)
        status, body = srv.api("POST", "/api/v1/users/vic/password",
                               {"password": "another good passphrase", "current_password": "wrong one!"}, token=tok)
        self.assertEqual(status, 403, body)
        status, body = srv.api("POST", "/api/v1/users/vic/password",
                               {"password": "another good passphrase", "current_password": GOOD}, token=tok)
        self.assertEqual((status, body["must_change_password"]), (200, False), body)
        # an admin sets another's password: to be changed at the next login
        status, body = srv.api("POST", "/api/v1/users/vic/password", {"password": "a reset passphrase"})
        self.assertEqual((status, body["must_change_password"]), (200, True), body)
        # a viewer cannot set someone else's
        status, body = srv.api("POST", "/api/v1/users/admin/password", {"password": "a reset passphrase"}, token=tok)
        self.assertEqual(status, 403, body)

    def test_cli(self):
        srv = self.srv
        p = subprocess.run([skedtest.SKED, "user", "add", "opal", "--role", "operator", "--display-name", "Opal",
                            "--tz", "Europe/Paris", "--password-stdin"], input=GOOD + "\n", capture_output=True,
                           text=True, env=srv.cli_env(), timeout=30 * skedtest.SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("user opal added (operator)", p.stdout)
        users = srv.cli_json("user", "list")["items"]
        self.assertEqual([(u["name"], u["display_name"], u["tz"]) for u in users],
                         [("admin", None, None), ("opal", "Opal", "Europe/Paris")])
        rc, out, err = srv.cli("user", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("opal", out)
        rc, out, err = srv.cli("user", "set", "opal", "--tz", "UTC")
        self.assertEqual(rc, 0, err)
        rc, out, err = srv.cli("token", "create", "ci", "--user", "opal")
        self.assertEqual(rc, 0, err)
        token = out.strip()
        self.assertEqual(len(token), 64)
        self.assertIn("shown this once", err)
        self.assertEqual(srv.api("GET", "/api/v1/series", token=token)[0], 200)
        tokens = srv.cli_json("token", "list", "--all")["items"]
        tid = [t["id"] for t in tokens if t["user"] == "opal"][0]
        rc, out, err = srv.cli("user", "disable", "opal")
        self.assertEqual(rc, 0, err)
        self.assertEqual(srv.api("GET", "/api/v1/series", token=token)[0], 401)
        rc, out, err = srv.cli("user", "enable", "opal")
        self.assertEqual(rc, 0, err)
        rc, out, err = srv.cli("token", "revoke", str(tid))
        self.assertNotEqual(rc, 0, "revoked when the user was disabled")
        p = subprocess.run([skedtest.SKED, "user", "passwd", "opal", "--password-stdin"], input="password\n",
                           capture_output=True, text=True, env=srv.cli_env(), timeout=30 * skedtest.SLOW)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("most common", p.stderr)
        rc, out, err = srv.cli("user", "add", "x")
        self.assertNotEqual(rc, 0)
        self.assertIn("--role", err)


class Upgrade(skedtest.ServerTest):
    def test_data_dir_from_before_users_keeps_its_token(self):
        """A data directory as the previous sked left it (its store at schema
        version 6, its admin.token): the token goes on working as the admin's."""
        data = self.path("data")
        os.makedirs(data, mode=0o700)
        db = self.new_database()
        where = ["--db", db] if db else ["--data-dir", data]
        p = subprocess.run([skedtest.SKED, "migrate", *where, "--to", "6"], capture_output=True, text=True,
                           timeout=60 * skedtest.SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        old = "0123456789abcdef" * 4
        with open(os.path.join(data, "admin.token"), "w") as f:
            f.write(old + "\n")
        os.chmod(os.path.join(data, "admin.token"), 0o600)
        srv = self.new_server("data", db=db).start()
        self.assertEqual(srv.token, old)
        status, body = srv.api("GET", "/api/v1/tokens", token=old)
        self.assertEqual(status, 200, body)
        self.assertEqual([(t["user"], t["name"]) for t in body["items"]], [("admin", "admin token file")])
        self.assertEqual(srv.get("/api/v1/users")["items"][0]["role"], "admin")


class Ownership(skedtest.ServerTest):
    def test_operators_change_their_own_series(self):
        srv = self.start_server()
        srv.register_type(skedtest.command_type("bb.own", ["/bin/true"]))
        tokens = {}
        for name in ("opal", "oscar"):
            status, body = srv.api("POST", "/api/v1/users", {"name": name, "role": "operator"})
            self.assertEqual(status, 201, body)
            tokens[name] = srv.api("POST", "/api/v1/tokens", {"name": "t", "user": name})[1]["token"]
        base = {"type": "bb.own", "schedule": "cron:0 * * * *", "tz": "UTC", "title": "hourly"}
        status, mine = srv.api("POST", "/api/v1/series", base, token=tokens["opal"])
        self.assertEqual((status, mine["owner"]), (201, "opal"), mine)
        status, body = srv.api("POST", "/api/v1/series", {**base, "owner": "oscar"}, token=tokens["opal"])
        self.assertEqual((status, body.get("field")), (403, "owner"), body)
        status, body = srv.api("POST", "/api/v1/series", [base, {**base, "owner": "x"}], token=tokens["opal"])
        self.assertEqual((status, body.get("field")), (403, "owner"), body)
        admins = srv.create_series(**base)  # by the admin: no owner
        sid = mine["id"]
        # the owner manages it; another operator does not, nor the admin's
        self.assertEqual(srv.api("POST", f"/api/v1/series/{sid}/pause", {}, token=tokens["opal"])[0], 200)
        for who, target, want in (("oscar", sid, 403), ("opal", admins["id"], 403)):
            for method, path, body in (("POST", f"/api/v1/series/{target}/resume", None),
                                       ("PATCH", f"/api/v1/series/{target}", {"title": "mine now"}),
                                       ("POST", f"/api/v1/series/{target}/trigger", None),
                                       ("DELETE", f"/api/v1/series/{target}", None),
                                       ("DELETE", f"/api/v1/series/{target}/occurrences/2030-01-01T00:00:00Z", None)):
                with self.subTest(who=who, method=method, path=path):
                    status, reply = srv.api(method, path, body, token=tokens[who])
                    self.assertEqual(status, want, reply)
                    self.assertIn("not yours", reply["detail"])
        status, body = srv.api("PATCH", f"/api/v1/series/{sid}", {"owner": "oscar"}, token=tokens["opal"])
        self.assertEqual((status, body.get("field")), (403, "owner"), body)
        self.assertEqual(srv.api("PATCH", f"/api/v1/series/{sid}", {"title": "renamed"}, token=tokens["opal"])[0], 200)
        # an admin manages every series, and may give one to another operator
        status, body = srv.api("PATCH", f"/api/v1/series/{sid}", {"owner": "oscar"})
        self.assertEqual((status, body["owner"]), (200, "oscar"), body)
        self.assertEqual(srv.api("POST", f"/api/v1/series/{sid}/resume", token=tokens["oscar"])[0], 200)
        self.assertEqual(srv.get(f"/api/v1/series/{sid}")["title"], "renamed")

    def test_operators_steer_the_runs_of_their_own_series(self):
        srv = self.start_server()
        srv.register_type(skedtest.command_type("bb.own", ["/bin/true"]))
        tokens = {}
        for name in ("opal", "oscar"):
            self.assertEqual(srv.api("POST", "/api/v1/users", {"name": name, "role": "operator"})[0], 201)
            tokens[name] = srv.api("POST", "/api/v1/tokens", {"name": "t", "user": name})[1]["token"]
        base = {"type": "bb.own", "schedule": "cron:0 0 1 1 *", "tz": "UTC", "title": "yearly"}
        status, mine = srv.api("POST", "/api/v1/series", base, token=tokens["opal"])
        self.assertEqual(status, 201, mine)
        status, run = srv.api("POST", f"/api/v1/series/{mine['id']}/trigger", {}, token=tokens["opal"])
        self.assertIn(status, (200, 201, 202), run)
        wait_for(lambda: srv.get(f"/api/v1/runs/{run['id']}")["state"] == "succeeded", 20, 0.1, "the run to end")
        before = srv.get(f"/api/v1/runs/{run['id']}")
        for verb in ("cancel", "rerun", "retry"):
            with self.subTest(verb=verb):
                status, reply = srv.api("POST", f"/api/v1/runs/{run['id']}/{verb}", None if verb == "retry" else {},
                                        token=tokens["oscar"])
                self.assertEqual((status, reply.get("field")), (403, "id"), reply)
                self.assertIn("not yours", reply["detail"])
        after = srv.get(f"/api/v1/runs/{run['id']}")
        self.assertEqual((after["state"], after.get("reruns")), (before["state"], before.get("reruns")))
        # the owner may; so may an operator an admin granted the type
        status, reply = srv.api("POST", f"/api/v1/runs/{run['id']}/rerun", {}, token=tokens["opal"])
        self.assertEqual(status, 201, reply)
        self.assertEqual(srv.api("PUT", "/api/v1/users/oscar/grants", {"types": ["bb.own"]})[0], 200)
        status, reply = srv.api("POST", f"/api/v1/runs/{run['id']}/rerun", {}, token=tokens["oscar"])
        self.assertEqual(status, 201, reply)
        # a run of no series (enqueued) is any operator's
        self.assertEqual(srv.api("PUT", "/api/v1/users/oscar/grants", {"types": []})[0], 200)
        status, body = srv.api("POST", "/api/v1/runs", {"type": "bb.own", "params": {}}, token=tokens["opal"])
        self.assertEqual(status, 202, body)
        rid = body["ids"][0]
        wait_for(lambda: srv.get(f"/api/v1/runs/{rid}")["state"] == "succeeded", 20, 0.1, "the one-off run to end")
        status, reply = srv.api("POST", f"/api/v1/runs/{rid}/rerun", {}, token=tokens["oscar"])
        self.assertEqual(status, 201, reply)

    def test_admins_widen_an_operators_reach(self):
        srv = self.start_server()
        srv.register_type(skedtest.command_type("bb.one", ["/bin/true"]))
        srv.register_type(skedtest.command_type("bb.two", ["/bin/true"], feature="billing"))
        srv.register_type(skedtest.command_type("bb.three", ["/bin/true"]))
        tokens = {}
        for name, role in (("opal", "operator"), ("vic", "viewer")):
            self.assertEqual(srv.api("POST", "/api/v1/users", {"name": name, "role": role})[0], 201)
            tokens[name] = srv.api("POST", "/api/v1/tokens", {"name": "t", "user": name})[1]["token"]
        ids = {t: srv.create_series(type=t, schedule="cron:0 * * * *", tz="UTC", title=t)["id"]
               for t in ("bb.one", "bb.two", "bb.three")}  # the admin's: no owner

        def pause(t):
            return srv.api("POST", f"/api/v1/series/{ids[t]}/pause", {}, token=tokens["opal"])[0]

        self.assertEqual([pause(t) for t in ids], [403, 403, 403])
        self.assertEqual(srv.get("/api/v1/users/opal/grants"), {"types": [], "features": []})
        status, body = srv.api("PUT", "/api/v1/users/opal/grants", {"types": ["bb.one"], "features": ["billing"]})
        self.assertEqual((status, body), (200, {"types": ["bb.one"], "features": ["billing"]}), body)
        self.assertEqual([pause(t) for t in ids], [200, 200, 403], "a type, a feature's types, not the others")
        status, body = srv.api("PATCH", f"/api/v1/series/{ids['bb.one']}", {"title": "granted"},
                               token=tokens["opal"])
        self.assertEqual((status, body["title"]), (200, "granted"), body)
        rc, out, err = srv.cli("user", "grants", "opal")
        self.assertEqual(rc, 0, err)
        self.assertIn("types: bb.one", out)
        self.assertIn("features: billing", out)
        # bad input changes nothing and names the member
        for body, field in (({"types": ["nope"]}, "types"), ({"features": ["nope"]}, "features"),
                            ({"types": "bb.one"}, "types"), ({"types": ["bb.one", "bb.one"]}, "types"),
                            ({"types": [""]}, "types"), ({"types": ["x"] * 300}, "types"), ({"extra": []}, "extra")):
            with self.subTest(body=body):
                status, reply = srv.api("PUT", "/api/v1/users/opal/grants", body)
                self.assertEqual((status, reply.get("field")), (400, field), reply)
        self.assertEqual(srv.get("/api/v1/users/opal/grants"), {"types": ["bb.one"], "features": ["billing"]})
        status, reply = srv.api("PUT", "/api/v1/users/vic/grants", {"types": ["bb.one"]})
        self.assertEqual((status, reply.get("field")), (400, "name"), reply)
        self.assertEqual(srv.api("PUT", "/api/v1/users/nobody/grants", {"types": []})[0], 404)
        # admins only
        self.assertEqual(srv.api("GET", "/api/v1/users/opal/grants", token=tokens["opal"])[0], 403)
        self.assertEqual(srv.api("PUT", "/api/v1/users/opal/grants", {"types": ["bb.three"]},
                                 token=tokens["opal"])[0], 403)
        # the audit log shows what changed; taking them back ends the reach at once
        rc, out, err = srv.cli("user", "grants", "opal", "--none")
        self.assertEqual(rc, 0, err)
        entry = srv.get("/api/v1/audit?path=/api/v1/users/opal/grants")["items"][0]
        self.assertEqual((entry["before"], entry["after"]),
                         ({"types": ["bb.one"], "features": ["billing"]}, {"types": [], "features": []}))
        self.assertEqual([pause(t) for t in ids], [403, 403, 403])
