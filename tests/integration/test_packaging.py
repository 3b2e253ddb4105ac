"""Packaging and conventions (issue 13): the configuration file and its precedence,
`sked serve --print-config`, `make install` into a DESTDIR, the systemd unit under
`systemd-analyze verify` and `security --offline`, READY=1 and WATCHDOG=1 on a
NOTIFY_SOCKET, the shell completions, colour and NO_COLOR, relative times and
--wide.  Everything runs the real binary, the real Makefile and the real systemd
tools.  (The .deb in a fresh Debian root is scripts/test's, as root: deb_root.)"""
import fcntl
import json
import os
import pty
import re
import shutil
import signal
import socket
import struct
import subprocess
import termios
import time
import unittest

import skedtest
from skedtest import wait_for

REPO = os.path.abspath(os.path.join(skedtest.HERE, "..", ".."))
BASH_COMPLETION = os.path.join(REPO, "packaging", "completion", "sked.bash")
ZSH_COMPLETION = os.path.join(REPO, "packaging", "completion", "_sked")
ESC = "\x1b["


def sked(*args, env=None, timeout=30):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("SKED_") and k not in ("SKED_BIN", "SKED_BUILD"):
            del e[k]  # the test's own environment must not leak into the options
    e.update(env or {})
    p = subprocess.run([skedtest.SKED, *args], capture_output=True, text=True, env=e,
                       timeout=timeout * skedtest.SLOW)
    return p.returncode, p.stdout, p.stderr


def print_config(*args, env=None):
    """`sked serve ... --print-config` as {key: (value, origin)}; the output is YAML
    with one `key: value  # origin` line per option."""
    rc, out, err = sked("serve", *args, "--print-config", env=env)
    if rc != 0:
        raise AssertionError(f"--print-config: exit {rc}: {err}")
    got = {}
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-z-]+): (.*?)\s+# (.*)", line)
        if not m:
            raise AssertionError(f"not a `key: value  # origin` line: {line!r}\n{out}")
        got[m.group(1)] = (json.loads(m.group(2)), m.group(3))
    return got, out


class Config(unittest.TestCase):
    def setUp(self):
        self.tmp = self.enterContext(skedtest_tmp())

    def conf(self, text, name="sked.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_precedence_flag_env_file_default(self):
        path = self.conf("# a comment\n"
                         "data-dir: /srv/sked\n"
                         "workers: 8\n"
                         "grace: 9\n"
                         "lookahead: 500\n"
                         "plugin: [/opt/a.so, /opt/b.so]\n"
                         "demo: true\n")
        got, out = print_config("--config", path, "--grace", "7",
                                env={"SKED_WORKERS": "6", "SKED_LOOKAHEAD": "250", "SKED_LOG_LEVEL": ""})
        self.assertEqual(got["grace"], (7, "flag --grace"), out)              # flag over env and file
        self.assertEqual(got["workers"], (6, "env SKED_WORKERS"), out)         # env over file
        self.assertEqual(got["lookahead"], (250, "env SKED_LOOKAHEAD"), out)
        self.assertEqual(got["data-dir"], ("/srv/sked", f"{path}:2"), out)     # the file, with its line
        self.assertEqual(got["plugin"], (["/opt/a.so", "/opt/b.so"], f"{path}:6"), out)
        self.assertEqual(got["demo"], (True, f"{path}:7"), out)
        self.assertEqual(got["listen"], ("127.0.0.1:8080", "default"), out)    # nothing above the default
        self.assertEqual(got["log-level"], ("info", "default"), out)           # an empty variable is unset
        self.assertEqual(got["db"], (None, "default: sqlite:/srv/sked/sked.db"), out)
        self.assertIn(f"# config file: {path} (flag --config)", out)
        # SKED_CONFIG names the file when --config does not; the flag wins over it
        got, out = print_config(env={"SKED_CONFIG": path})
        self.assertEqual(got["workers"], (8, f"{path}:3"), out)
        self.assertIn("(env SKED_CONFIG)", out)
        other = self.conf("workers: 2\n", "other.conf")
        got, _ = print_config("--config", other, env={"SKED_CONFIG": path})
        self.assertEqual(got["workers"], (2, f"{other}:1"))
        # a list from a higher source replaces the lower one's
        got, _ = print_config("--config", path, "--plugin", "/x.so", env={"SKED_PLUGIN": "/e1.so:/e2.so"})
        self.assertEqual(got["plugin"], (["/x.so"], "flag --plugin"))
        got, _ = print_config("--config", path, env={"SKED_PLUGIN": "/e1.so:/e2.so"})
        self.assertEqual(got["plugin"], (["/e1.so", "/e2.so"], "env SKED_PLUGIN"))

    def test_every_option_is_a_key_a_variable_and_in_the_help(self):
        rc, usage, err = sked("serve", "--help")
        self.assertEqual(rc, 0, err)
        flags = set(re.findall(r"^  --([a-z-]+)", usage, re.M)) - {"config", "print-config"}
        got, out = print_config()
        self.assertEqual(flags, set(got), out)
        for key in got:
            self.assertEqual(got[key][1].split(":")[0], "default", out)

    def test_print_config_reads_back_and_hides_secrets(self):
        token = "s3cr3t-token-value-0123456789"
        data = os.path.join(self.tmp, "data")
        os.makedirs(data, mode=0o700)
        with open(os.path.join(data, "admin.token"), "w") as f:
            f.write(token + "\n")
        os.chmod(os.path.join(data, "admin.token"), 0o600)
        path = self.conf(f"data-dir: {data}\n"
                         "db: 'postgres://sked:hunter2@db.example:5432/sked?sslmode=require&password=hunter3'\n"
                         "http-threads: 3\n")
        got, out = print_config("--config", path, "--node", "n1", env={"SKED_LOG_FORMAT": "json"})
        for secret in ("hunter2", "hunter3", token):
            self.assertNotIn(secret, out)
        self.assertEqual(got["db"][0], "postgres://sked:***@db.example:5432/sked?sslmode=require&password=***")
        self.assertEqual(got["token-file"], (None, f"default: {data}/admin.token"), out)
        # the output is a configuration file: read back, the same values (now all from it)
        saved = self.conf(out.replace(got["db"][0], "sqlite:/tmp/x.db"), "saved.conf")
        again, out2 = print_config("--config", saved)
        for key, (value, _) in got.items():
            want = "sqlite:/tmp/x.db" if key == "db" else value
            self.assertEqual(again[key][0], want, (key, out2))

    def test_refused_with_the_key_and_what_was_expected(self):
        cases = [
            ("wokers: 3\n", None, ":1: wokers: unknown key (expected one of: data-dir, listen, tls-cert, tls-key, workers"),
            ("workers: many\n", None, ':1: workers: "many": expected 1..1024'),
            ("data-dir: x\nworkers: [1, 2]\n", None, ":2: workers: expected 1..1024"),
            ("listen: localhost:8080\n", None, ':1: listen: "localhost:8080": expected HOST:PORT'),
            ("demo: maybe\n", None, ':1: demo: "maybe": expected true or false'),
            ("workers: 3\nworkers: 4\n", None, ":2:1: duplicate key"),
            ("- workers\n", None, "expected NAME: VALUE lines"),
            ("log-level: debug\n", {"SKED_LOG_LEVEL": "loud"},
             'SKED_LOG_LEVEL: "loud": expected debug, info, warning or error'),
            ("", {"SKED_GRACE": "-1"}, 'SKED_GRACE: "-1": expected seconds 0..86400'),
        ]
        for text, env, want in cases:
            with self.subTest(text=text, env=env):
                data = os.path.join(self.tmp, "never")
                path = self.conf(f"{text}")
                rc, out, err = sked("serve", "--config", path, "--data-dir", data, "--listen", "127.0.0.1:0",
                                    env=env)
                self.assertEqual(rc, 2, err)
                self.assertIn(want, err)
                self.assertTrue(err.startswith("sked serve: "), err)
                self.assertFalse(os.path.exists(data), "refused, yet the data directory was made")
        rc, _, err = sked("serve", "--config", os.path.join(self.tmp, "missing.conf"))
        self.assertEqual(rc, 2)
        self.assertIn("missing.conf: No such file or directory", err)
        rc, _, err = sked("serve", "--workers", "0")
        self.assertEqual((rc, err), (2, 'sked serve: --workers: "0": expected 1..1024\n'))


class skedtest_tmp:
    """A temporary directory as a context (removed at the end)."""

    def __enter__(self):
        import tempfile
        self.path = tempfile.mkdtemp(prefix="sked-pkg-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


class ServeWithConfig(skedtest.ServerTest):
    def test_the_server_runs_what_the_file_and_environment_say(self):
        conf = self.path("sked.conf")
        with open(conf, "w") as f:
            f.write("workers: 3\nlog-format: json\n")
        srv = self.start_server(extra=["--config", conf])
        self.assertEqual(srv.get("/api/v1/poller")["workers"], 3)
        line = [l for l in srv.stderr().splitlines() if "ready" in l][0]
        self.assertEqual(json.loads(line)["level"], "info")  # log-format: json from the file
        srv.stop()
        srv = self.start_server("data2", extra=["--config", conf], env={"SKED_WORKERS": "2"})
        self.assertEqual(srv.get("/api/v1/poller")["workers"], 2)


class Notify(skedtest.ServerTest):
    """Type=notify as systemd speaks it: a datagram socket named by NOTIFY_SOCKET."""

    def listen(self):
        path = self.path("notify.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        self.addCleanup(s.close)
        return s, path

    def messages(self, s, seconds):
        """(monotonic time, text) of every datagram within `seconds`."""
        got, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                got.append((time.monotonic(), s.recv(4096).decode()))
            except socket.timeout:
                break
        return got

    def test_ready_watchdog_from_the_loop_and_stopping(self):
        s, path = self.listen()
        srv = self.new_server(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
        srv.start()
        first = self.messages(s, 3 * skedtest.SLOW)
        texts = [t for _, t in first]
        ready = [t for t in texts if t.startswith("READY=1")]
        self.assertEqual(len(ready), 1, texts)
        self.assertIn(f"STATUS=listening on http://127.0.0.1:{srv.port}", ready[0])
        # every half of WATCHDOG_USEC: about 6 in 3 s; at least 2 on a loaded machine
        self.assertGreaterEqual(texts.count("WATCHDOG=1"), 2, texts)
        if not srv.postgres:
            # the pings come from the loop's turn: a loop that cannot take the store's
            # write lock makes no turn, and sends none
            with srv.writes_blocked():
                time.sleep(0.8 * skedtest.SLOW)  # a turn that began before the lock may still end
                t0 = time.monotonic()
                blocked = self.messages(s, 3)
            # a turn slowed by a loaded machine may still end in the first second
            late = [(round(t - t0, 2), x) for t, x in blocked if x == "WATCHDOG=1" and t - t0 > 1.0]
            self.assertEqual(late, [], blocked)
            after = self.messages(s, 2 * skedtest.SLOW)
            self.assertIn("WATCHDOG=1", [t for _, t in after])
        srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(60), 0)
        rest = [t for _, t in self.messages(s, 1)]
        self.assertTrue(any(t.startswith("STOPPING=1") for t in rest), rest)

    def test_no_watchdog_without_watchdog_usec_and_none_for_another_pid(self):
        s, path = self.listen()
        srv = self.new_server(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
        srv.start()
        texts = [t for _, t in self.messages(s, 2)]
        self.assertTrue(any(t.startswith("READY=1") for t in texts), texts)
        self.assertNotIn("WATCHDOG=1", texts)

    def test_abstract_socket(self):
        name = f"sked-test-{os.getpid()}-{time.monotonic_ns()}"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind("\0" + name)
        self.addCleanup(s.close)
        srv = self.new_server(env={"NOTIFY_SOCKET": "@" + name})
        srv.start()
        texts = [t for _, t in self.messages(s, 2)]
        self.assertTrue(any(t.startswith("READY=1") for t in texts), texts)


def build_prefix():
    out = subprocess.run(["meson", "introspect", skedtest.BUILD, "--buildoptions"], capture_output=True,
                         text=True, check=True).stdout
    opts = {o["name"]: o["value"] for o in json.loads(out)}
    return opts["prefix"], opts["sysconfdir"], opts["mandir"], opts["datadir"]


@unittest.skipUnless(skedtest.BUILD, "needs SKED_BUILD, the build directory to install from")
@unittest.skipUnless(shutil.which("scdoc") and shutil.which("systemd-analyze"),
                     "needs scdoc and systemd-analyze (scripts/install-deps --test)")
class Install(unittest.TestCase):
    """`make install` into a DESTDIR, and the unit it installs under systemd's tools."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dest = tempfile.mkdtemp(prefix="sked-destdir-")
        cls.prefix, sysconf, mandir, datadir = build_prefix()
        cls.sysconfdir = sysconf if sysconf.startswith("/") else os.path.join(cls.prefix, sysconf)
        cls.mandir = os.path.join(cls.prefix, mandir)
        cls.datadir = os.path.join(cls.prefix, datadir)
        p = subprocess.run(["make", "-C", REPO, "install", f"BUILD={os.path.abspath(skedtest.BUILD)}",
                            f"DESTDIR={cls.dest}", f"prefix={cls.prefix}"], capture_output=True, text=True,
                           timeout=1200)
        cls.make = p

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def under(self, path):
        return self.dest + path

    def unit(self):
        return self.under(os.path.join(self.prefix, "lib", "systemd", "system", "sked.service"))

    def test_make_install_puts_every_file_in_destdir(self):
        self.assertEqual(self.make.returncode, 0, self.make.stdout[-3000:] + self.make.stderr[-3000:])
        want = [os.path.join(self.prefix, "bin", "sked"),
                os.path.join(self.mandir, "man1", "sked.1"),
                os.path.join(self.mandir, "man5", "sked.conf.5"),
                os.path.join(self.mandir, "man5", "sked-manifest.5"),
                os.path.join(self.prefix, "lib", "systemd", "system", "sked.service"),
                os.path.join(self.sysconfdir, "sked", "sked.conf"),
                os.path.join(self.datadir, "bash-completion", "completions", "sked"),
                os.path.join(self.datadir, "zsh", "vendor-completions", "_sked"),
                os.path.join(self.datadir, "doc", "sked", "README.md"),
                os.path.join(self.datadir, "doc", "sked", "docs", "operations.md"),
                os.path.join(self.datadir, "doc", "sked", "docs", "cli.md")]
        installed = set()
        for d, _, files in os.walk(self.dest):
            for f in files:
                installed.add(os.path.join(d, f)[len(self.dest):])
        for path in want:
            self.assertIn(path, installed, sorted(installed))
        # nothing outside the prefix but the configuration file (sysconfdir may be /etc)
        for path in installed:
            self.assertTrue(path.startswith(self.prefix + "/") or path.startswith(self.sysconfdir + "/"), path)
        rc = subprocess.run([self.under(want[0]), "--version"], capture_output=True, text=True)
        self.assertEqual(rc.stdout, "sked 0.1.0\n")
        page = subprocess.run(["man", "-l", "-P", "cat", self.under(want[1])], capture_output=True, text=True,
                              env=dict(os.environ, MANWIDTH="100"))
        self.assertEqual(page.returncode, 0, page.stderr)
        rc, usage, _ = sked("--help")
        for noun in re.findall(r"^  ([a-z]+) ", usage, re.M):  # every command in sked(1)
            self.assertRegex(page.stdout, rf"(?m)^\s+{noun}\b", noun)

    def test_reinstall_keeps_the_operators_configuration(self):
        conf = self.under(os.path.join(self.sysconfdir, "sked", "sked.conf"))
        with open(conf, "a") as f:
            f.write("workers: 12\n")
        p = subprocess.run(["make", "-C", REPO, "install", f"BUILD={os.path.abspath(skedtest.BUILD)}",
                            f"DESTDIR={self.dest}", f"prefix={self.prefix}"], capture_output=True, text=True,
                           timeout=1200)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        with open(conf) as f:
            self.assertTrue(f.read().endswith("workers: 12\n"))
        # and the installed file is a configuration the installed binary takes
        got, out = print_config("--config", conf)
        self.assertEqual(got["workers"], (12, f"{conf}:{len(open(conf).read().splitlines())}"), out)
        self.assertEqual(got["data-dir"][0], "/var/lib/sked")

    def test_unit_passes_systemd_analyze_verify(self):
        unit = self.unit()
        with open(unit) as f:
            text = f.read()
        for line in ("Type=notify", "DynamicUser=yes", "StateDirectory=sked", "KillMode=mixed",
                     f"ExecStart={self.prefix}/bin/sked serve --config {self.sysconfdir}/sked/sked.conf"):
            self.assertIn(line + "\n", text)
        self.assertRegex(text, r"(?m)^WatchdogSec=\d+s$")
        # verify under the DESTDIR as root: ExecStart's binary and the man pages of
        # Documentation= must be the installed ones; systemd's own units come along
        root = os.path.join(self.dest)
        if not os.path.isdir(os.path.join(root, "lib", "systemd", "system", "sysinit.target.wants")):
            shutil.copytree("/lib/systemd/system", os.path.join(root, "lib", "systemd", "system"),
                            symlinks=True, dirs_exist_ok=True)
        env = dict(os.environ, MANPATH=self.under(self.mandir))
        p = subprocess.run(["systemd-analyze", "verify", f"--root={root}", unit], capture_output=True, text=True,
                           env=env)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        # it can fail: an unknown key is reported (as a warning, hence the empty output above)
        bad = os.path.join(os.path.dirname(unit), "sked-typo.service")
        with open(bad, "w") as f:
            f.write(text.replace("ProtectHome=", "ProtectHom="))
        self.addCleanup(os.unlink, bad)
        p = subprocess.run(["systemd-analyze", "verify", f"--root={root}", bad], capture_output=True, text=True,
                           env=env)
        self.assertIn("Unknown key 'ProtectHom'", p.stderr)

    def test_unit_exposure_is_ok_or_better(self):
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=49", self.unit()],
                           capture_output=True, text=True)
        m = re.search(r"Overall exposure level for sked\.service: (\d+\.\d) (\w+)", p.stdout)
        self.assertIsNotNone(m, p.stdout[-2000:] + p.stderr)
        self.assertLessEqual(float(m.group(1)), 4.9, m.group(0))
        self.assertIn(m.group(2), ("OK", "SAFE", "PERFECT"))
        self.assertEqual(p.returncode, 0, m.group(0))
        # and the threshold bites: the same unit without its hardening is refused
        bare = os.path.join(self.dest, "bare.service")
        with open(self.unit()) as f:
            lines = [l for l in f if not re.match(r"(Protect|Private|Restrict|SystemCall|Capability|NoNew|Lock|"
                                                  r"Remove|UMask|Dynamic|Ambient)", l)]
        with open(bare, "w") as f:
            f.writelines(lines)
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=49", bare],
                           capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0, p.stdout[-300:])


def bash_complete(line, env=None, script=BASH_COMPLETION):
    """The completions bash offers for `line` (the word at the cursor is the last
    one, "" after a trailing space), through the installed _sked function."""
    words = line.split()
    if line.endswith(" "):
        words.append("")
    words[0] = skedtest.SKED if words[0] == "sked" else words[0]
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    prog = (f"source '{script}'; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _sked; "
            "printf '%s\\n' \"${COMPREPLY[@]}\"")
    p = subprocess.run(["bash", "--norc", "-c", prog], capture_output=True, text=True, env=env,
                       timeout=30 * skedtest.SLOW)
    if p.returncode != 0:
        raise AssertionError(f"bash: {p.stderr}")
    return [w for w in p.stdout.splitlines() if w], p.stderr


def zsh_complete(line, env=None):
    """The candidates the zsh function hands compadd (or "FILES" for _files), with
    compsys' functions stubbed: zsh itself filters by the prefix."""
    words = line.split()
    if line.endswith(" "):
        words.append("")
    words[0] = skedtest.SKED if words[0] == "sked" else words[0]
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    prog = ("compadd() { while [[ $1 == -* && $1 != -- ]]; do shift; done; [[ $1 == -- ]] && shift; "
            "print -rl -- \"$@\"; }; compset() { cur=${cur#*=}; }; _files() { print FILES; }; "
            "_directories() { print DIRS; }; _time_zone() { print ZONES; }; "
            f"source '{ZSH_COMPLETION}'; words=({quoted}); CURRENT={len(words)}; _sked")
    p = subprocess.run(["zsh", "-f", "-c", prog], capture_output=True, text=True, env=env,
                       timeout=30 * skedtest.SLOW)
    if p.returncode != 0:
        raise AssertionError(f"zsh: {p.stderr}")
    return [w for w in p.stdout.splitlines() if w]


class Completion(skedtest.ServerTest):
    def nouns_and_verbs(self):
        rc, usage, _ = sked("--help")
        nouns = re.findall(r"^  ([a-z]+) ", usage, re.M)
        self.assertIn("series", nouns)
        verbs = {}
        for noun in ("type", "series", "runs", "poller", "features"):
            rc, text, _ = sked(noun, "--help")
            found = set(re.findall(rf"sked {noun} ([a-z]+)", text))
            found |= set(re.findall(r"\| ([a-z]+) ", text)) & {"show", "register", "init", "resume", "trigger",
                                                                "results"}
            verbs[noun] = found
        return nouns, verbs

    def test_bash_commands_verbs_and_options(self):
        self.assertEqual(bash_complete("sked ser")[0], ["serve", "series"])
        nouns, verbs = self.nouns_and_verbs()
        self.assertLessEqual(set(nouns), set(bash_complete("sked ")[0]))
        for noun, vs in verbs.items():
            with self.subTest(noun=noun):
                self.assertLessEqual(vs, set(bash_complete(f"sked {noun} ")[0]))
        rc, usage, _ = sked("serve", "--help")
        serve_opts = set(re.findall(r"^  (--[a-z-]+)", usage, re.M)) | {"--help"}
        self.assertEqual(serve_opts, set(bash_complete("sked serve --")[0]))
        self.assertEqual(bash_complete("sked serve --log-l")[0], ["--log-level"])
        self.assertEqual(bash_complete("sked serve --log-level w")[0], ["warning"])
        self.assertEqual(bash_complete("sked runs list --state f")[0], ["failed"])
        self.assertIn("--wide", bash_complete("sked runs list --")[0])
        self.assertEqual(bash_complete("sked runs list --color=n")[0], ["--color=never"])
        self.assertEqual(bash_complete("sked calendar --tz Europe/Berl")[0], ["Europe/Berlin"])
        # `sked runs --state failed --`: the default verb's options
        self.assertIn("--before", bash_complete("sked runs --state failed --")[0])
        self.assertEqual(bash_complete("sked user totp ")[0], ["enrol", "confirm", "disable", "recovery-codes"])
        self.assertEqual(bash_complete("sked user totp-require op")[0], ["operator"])

    def test_bash_asks_the_server_quietly(self):
        srv = self.start_server()
        srv.register_type(skedtest.command_type("pkg.alpha", ["/bin/true"], feature="billing"))
        srv.register_type(skedtest.command_type("pkg.beta", ["/bin/true"]))
        a = srv.create_series(type="pkg.alpha", schedule="every 1h")
        b = srv.create_series(type="pkg.beta", schedule="every 1h")
        env = srv.cli_env()
        self.assertEqual(bash_complete("sked type show pkg.", env)[0], ["pkg.alpha", "pkg.beta"])
        self.assertEqual(bash_complete("sked runs list --type pkg.b", env)[0], ["pkg.beta"])
        self.assertEqual(sorted(bash_complete("sked series show ", env)[0]), sorted([str(a["id"]), str(b["id"])]))
        self.assertEqual(bash_complete("sked features disable ", env)[0], ["billing"])
        # the connection options on the line are used: a wrong token there finds nothing
        got, err = bash_complete("sked type show --token wrongwrongwrongwrong pkg.", env)
        self.assertEqual((got, err), ([], ""))
        # no server: nothing, and nothing on the terminal
        dead = dict(env, SKED_URL="http://127.0.0.1:1")
        self.assertEqual(bash_complete("sked series show ", dead), ([], ""))

    @unittest.skipUnless(shutil.which("zsh"), "needs zsh (scripts/install-deps --test)")
    def test_zsh(self):
        self.assertEqual(subprocess.run(["zsh", "-n", ZSH_COMPLETION]).returncode, 0)
        nouns, verbs = self.nouns_and_verbs()
        self.assertLessEqual(set(nouns), set(zsh_complete("sked ")))
        for noun, vs in verbs.items():
            self.assertLessEqual(vs, set(zsh_complete(f"sked {noun} ")), noun)
        rc, usage, _ = sked("serve", "--help")
        serve_opts = set(re.findall(r"^  (--[a-z-]+)", usage, re.M)) | {"--help"}
        self.assertEqual(serve_opts, set(zsh_complete("sked serve --")))
        self.assertEqual(zsh_complete("sked type register "), ["FILES"])
        self.assertEqual(zsh_complete("sked user totp "), ["enrol", "confirm", "disable", "recovery-codes"])
        self.assertEqual(zsh_complete("sked runs list --color=a"), ["auto", "always", "never"])
        srv = self.start_server()
        srv.register_type(skedtest.command_type("pkg.gamma", ["/bin/true"], feature="reports"))
        s = srv.create_series(type="pkg.gamma", schedule="every 1h")
        env = srv.cli_env()
        self.assertEqual(zsh_complete("sked type show ", env), ["pkg.gamma"])
        self.assertEqual(zsh_complete("sked series pause ", env), [str(s["id"])])
        self.assertEqual(zsh_complete("sked features enable ", env), ["reports"])


def on_terminal(args, env, cols=200):
    """Runs sked with stdout on a pseudo-terminal; returns its output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    p = subprocess.Popen([skedtest.SKED, *args], stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=30)
    os.close(master)
    if p.returncode != 0:
        raise AssertionError(f"sked {args}: exit {p.returncode}: {p.stderr.read()}")
    return b"".join(chunks).decode().replace("\r\n", "\n")


TITLE = "A series whose title is longer than sixty characters, to see it cut"


class Terminal(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server()
        self.srv.register_type(skedtest.command_type("pkg.t", ["/bin/true"]))
        self.series = self.srv.create_series(type="pkg.t", schedule="every 1h", title=TITLE)
        env = self.srv.cli_env()
        for k in ("NO_COLOR", "COLUMNS", "SKED_NOW"):
            env.pop(k, None)
        env["TERM"] = "xterm"
        self.env = env

    def test_colour_on_a_terminal_only_and_no_color(self):
        out = on_terminal(["series", "list"], self.env)
        self.assertIn(ESC + "1mID" + ESC + "0m", out)  # a bold header
        self.assertNotIn(ESC, on_terminal(["series", "list"], dict(self.env, NO_COLOR="1")))
        self.assertIn(ESC, on_terminal(["series", "list"], dict(self.env, NO_COLOR="")))  # empty: unset
        self.assertNotIn(ESC, on_terminal(["series", "list"], dict(self.env, TERM="dumb")))
        self.assertNotIn(ESC, on_terminal(["series", "list", "--color=never"], self.env))
        self.assertIn(ESC, on_terminal(["series", "list", "--color", "always"], dict(self.env, NO_COLOR="1")))
        rc, out, err = self.srv.cli("series", "list")  # a pipe
        self.assertEqual(rc, 0, err)
        self.assertNotIn(ESC, out)
        rc, out, _ = self.srv.cli("series", "list", "--color=always")
        self.assertIn(ESC, out)
        rc, _, err = self.srv.cli("series", "list", "--color=sometimes")
        self.assertEqual((rc, err), (2, 'sked: --color "sometimes": expected auto, always or never\n'))
        # a run's state in its colour, the calendar's cells too
        run = self.srv.trigger(self.series["id"])
        self.srv.wait_run(run.get("run_id") or run.get("id"))
        rc, out, _ = self.srv.cli("runs", "list", "--color=always")
        self.assertIn(ESC + "32msucceeded" + ESC + "0m", out)
        rc, out, _ = self.srv.cli("calendar", "--color=always", "--tz", "UTC")
        self.assertIn(ESC + "1m", out)  # today's label
        rc, out, _ = self.srv.cli("calendar", "--tz", "UTC")
        self.assertNotIn(ESC, out)

    def test_relative_times_from_a_fixed_clock_and_json_unchanged(self):
        reply = self.srv.get("/api/v1/series")
        due = reply["items"][0]["next_due"]
        t = skedtest.parse_utc(due)
        for now, rel in ((t - 180 * skedtest.US, "in 3 min"), (t + 2 * 3600 * skedtest.US + 5, "2 h ago"),
                         (t, "now"), (t - 3 * 86400 * skedtest.US, "in 3 d")):
            env = dict(self.env, SKED_NOW=skedtest.utc_text(now))
            p = subprocess.run([skedtest.SKED, "series", "list"], capture_output=True, text=True, env=env)
            self.assertIn(f"{due} ({rel})", p.stdout)
        p = subprocess.run([skedtest.SKED, "series", "list", "--json"], capture_output=True, text=True,
                           env=dict(self.env, SKED_NOW=skedtest.utc_text(t)))
        self.assertEqual(json.loads(p.stdout), self.srv.get("/api/v1/series"))
        self.assertNotIn("(in ", p.stdout)
        p = subprocess.run([skedtest.SKED, "series", "list"], capture_output=True, text=True,
                           env=dict(self.env, SKED_NOW="soon"))
        self.assertIn('sked: SKED_NOW "soon": expected YYYY-MM-DDTHH:MM:SSZ', p.stderr)

    def test_wide_cuts_no_column(self):
        rc, out, _ = self.srv.cli("series", "list")
        self.assertNotIn(TITLE, out)
        self.assertIn(TITLE[:59] + "\u2026", out)
        rc, out, _ = self.srv.cli("series", "list", "--wide")
        self.assertIn(TITLE, out)
        # the last column on a terminal: cut to its width, whole with --wide
        long_error = "x" * 300
        self.srv.register_type(skedtest.command_type("pkg.fail", ["/bin/sh", "-c", f"echo {long_error}; exit 3"]))
        r = self.srv.post("/api/v1/runs", {"type": "pkg.fail"})
        run_id = r["ids"][0]
        self.srv.wait_run(run_id)
        cut = on_terminal(["runs", "messages", str(run_id)], self.env, cols=100)
        self.assertNotIn(long_error, cut)
        whole = on_terminal(["runs", "messages", str(run_id), "--wide"], self.env, cols=100)
        self.assertIn(long_error, whole)


if __name__ == "__main__":
    unittest.main()
