"""Harness for the black-box tests: starts a real `sked serve` ($SKED_BIN) on a free
port with a temporary data directory, talks to it over HTTP (urllib) and through the
CLI, and always cleans up.  Standard library only.

Typical use:

    class T(skedtest.ServerTest):          # one server per test, killed in tearDown
        def test_x(self):
            srv = self.start_server(workers=2)
            status, body = srv.api("GET", "/api/v1/types")
            rc, out, err = srv.cli("runs", "list", "--json")
"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

SKED = os.environ.get("SKED_BIN", "sked")
BUILD = os.environ.get("SKED_BUILD", "")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
PLUGIN = os.path.join(BUILD, "examples", "sked-example-plugin.so") if BUILD else ""

# Deadlines only bound how long a failing test waits; they are not assertions about
# speed.  SKED_TEST_SLOW (a factor, e.g. 3 under ASan) stretches them.
def _slow_factor():
    v = os.environ.get("SKED_TEST_SLOW")
    if v:
        return float(v)
    try:  # a sanitizer build is 2-3x slower: give it room
        with open(SKED if os.path.sep in SKED else shutil.which(SKED) or SKED, "rb") as f:
            if b"libasan" in f.read():
                return 3.0
    except OSError:
        pass
    return 1.0


SLOW = _slow_factor()

TERMINAL = ("succeeded", "failed", "lost")


def fixture(*parts):
    return os.path.join(FIXTURES, *parts)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, interval=0.1, what="condition"):
    """Polls cond() until it returns something truthy (returned) or the deadline
    passes (AssertionError naming `what`, with the last value seen)."""
    deadline = time.monotonic() + timeout * SLOW
    last = None
    while True:
        last = cond()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout * SLOW:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def ensure_executable(path):
    """Fixture scripts must be executable (the server runs them without a shell);
    a checkout may lose the bit, so set it."""
    mode = os.stat(path).st_mode
    if not mode & stat.S_IXUSR:
        os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def pid_gone(pid):
    """True when pid no longer runs (a zombie counts as gone: it runs nothing, and
    in a container PID 1 may never reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


class ServerError(Exception):
    pass


class Server:
    """One `sked serve` process.  stdout and stderr go to files in the log dir, so
    the server can never block on a full pipe."""

    def __init__(self, data_dir, log_dir, workers=None, plugins=(), demo=False, grace=None, extra=(),
                 env=None):
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.workers = workers
        self.plugins = list(plugins)
        self.demo = demo
        self.grace = grace
        self.extra = list(extra)
        self.env = env
        self.proc = None
        self.port = None
        self.url = None
        self.token = None
        self.generation = 0
        self.returncode = None

    # ---- life cycle ----

    def argv(self, port):
        a = [SKED, "serve", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{port}"]
        if self.workers:
            a += ["--workers", str(self.workers)]
        for p in self.plugins:
            a += ["--plugin", p]
        if self.demo:
            a.append("--demo")
        if self.grace is not None:
            a += ["--grace", str(self.grace)]
        return a + self.extra

    def spawn(self, port=None):
        """Starts the process without waiting for it to be ready; returns it."""
        self.generation += 1
        self.port = port or free_port()
        self.stdout_path = os.path.join(self.log_dir, f"serve{self.generation}.out")
        self.stderr_path = os.path.join(self.log_dir, f"serve{self.generation}.err")
        env = dict(os.environ)
        for k in ("SKED_URL", "SKED_TOKEN", "SKED_DATA_DIR"):
            env.pop(k, None)
        if self.env:
            env.update(self.env)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv(self.port), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env)
        self.returncode = None
        return self.proc

    def start(self, timeout=20):
        """Starts the server and waits for its 'listening' line.  Retries on another
        port if the chosen one was taken meanwhile."""
        for attempt in range(3):
            self.spawn()
            try:
                self.wait_ready(timeout)
                return self
            except ServerError:
                if self.proc.poll() is not None and "--listen" in self.stderr() and attempt < 2:
                    continue
                raise
        return self

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            out = self.stdout()
            for line in out.splitlines():
                if line.startswith("sked: listening on http://"):
                    url = line.split()[3]
                    self.url = url
                    self.port = int(url.rsplit(":", 1)[1])
                    self.token = self.read_token()
                    return line
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise ServerError(f"sked serve exited with {self.proc.returncode} before it was ready:\n"
                                  f"{self.stderr()[-3000:]}")
            time.sleep(0.02)
        raise ServerError(f"sked serve not ready after {timeout * SLOW:.0f}s:\n{self.stderr()[-3000:]}")

    def read_token(self):
        with open(os.path.join(self.data_dir, "admin.token")) as f:
            return f.read().strip()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = None
                return None
        self.returncode = self.proc.returncode
        return self.returncode

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.returncode = self.proc.returncode if self.proc else None

    def stdout(self):
        try:
            with open(self.stdout_path, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    # ---- HTTP ----

    def request(self, method, path, body=None, headers=None, token=True, raw=None, timeout=30):
        """Returns (status, headers, body bytes).  token=True uses the admin token,
        a string uses that string, None sends no Authorization header."""
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif raw is not None:
            hdrs.setdefault("Content-Type", "application/json")
        if token is True:
            hdrs["Authorization"] = f"Bearer {self.token}"
        elif isinstance(token, str):
            hdrs["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout * SLOW) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def api(self, method, path, body=None, headers=None, token=True, raw=None):
        """Returns (status, parsed JSON body or None)."""
        status, _, data = self.request(method, path, body, headers, token, raw)
        return status, (json.loads(data) if data else None)

    def api_full(self, method, path, body=None, headers=None, token=True, raw=None):
        """Returns (status, headers, parsed JSON body or None)."""
        status, hdrs, data = self.request(method, path, body, headers, token, raw)
        return status, hdrs, (json.loads(data) if data else None)

    def get(self, path):
        status, body = self.api("GET", path)
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {body}")
        return body

    def post(self, path, body=None, expect=(200, 201, 202)):
        status, reply = self.api("POST", path, body if body is not None else {})
        if status not in expect:
            raise AssertionError(f"POST {path} {body}: {status} {reply}")
        return reply

    # ---- CLI ----

    def cli_env(self):
        env = dict(os.environ)
        for k in ("SKED_URL", "SKED_TOKEN", "SKED_DATA_DIR"):
            env.pop(k, None)
        env["SKED_URL"] = self.url
        env["SKED_TOKEN"] = self.token
        return env

    def cli(self, *args, timeout=30):
        """Runs `sked ARGS` against this server; returns (rc, stdout, stderr)."""
        p = subprocess.run([SKED, *args], capture_output=True, text=True, env=self.cli_env(),
                           timeout=timeout * SLOW)
        return p.returncode, p.stdout, p.stderr

    def cli_json(self, *args):
        rc, out, err = self.cli(*args, "--json")
        if rc != 0:
            raise AssertionError(f"sked {' '.join(args)} --json: exit {rc}: {err}")
        return json.loads(out)

    # ---- domain helpers ----

    def register_type(self, definition):
        status, body = self.api("POST", "/api/v1/types", definition)
        if status != 201:
            raise AssertionError(f"register type: {status} {body}")
        return body

    def create_series(self, **fields):
        status, body = self.api("POST", "/api/v1/series", fields)
        if status != 201:
            raise AssertionError(f"create series {fields}: {status} {body}")
        return body

    def runs(self, **query):
        q = dict(limit=1000)
        q.update(query)
        qs = "&".join(f"{k}={v}" for k, v in q.items())
        items = []
        before = None
        while True:
            page = self.get(f"/api/v1/runs?{qs}" + (f"&before={before}" if before else ""))
            items.extend(page["items"])
            if page.get("next") is None:
                return items
            before = page["next"]

    def run(self, run_id):
        return self.get(f"/api/v1/runs/{run_id}")

    def wait_run(self, run_id, states=TERMINAL, timeout=30):
        return wait_for(lambda: (lambda r: r if r["state"] in states else None)(self.run(run_id)), timeout,
                        what=f"run {run_id} in {states}")

    def messages(self, run_id):
        return self.get(f"/api/v1/runs/{run_id}/messages")["items"]

    def results(self, run_id):
        return self.get(f"/api/v1/runs/{run_id}/results")["items"]

    def trigger(self, series_id):
        status, body = self.api("POST", f"/api/v1/series/{series_id}/trigger", {})
        if status != 202:
            raise AssertionError(f"trigger {series_id}: {status} {body}")
        return body

    def occurrences(self, series_id, frm, to):
        return self.get(f"/api/v1/series/{series_id}/occurrences?from={frm}&to={to}&limit=10000")["items"]


def command_type(name, argv, **extra):
    d = {"name": name, "kind": "scheduled", "title": name, "handler": {"command": list(argv)}}
    d.update(extra)
    return d


def utc_text(us):
    """Microseconds since the epoch -> YYYY-MM-DDTHH:MM:SSZ (floor)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us // 1_000_000))


def utc_text_ceil(us):
    return utc_text(-(-us // 1_000_000) * 1_000_000)


def parse_utc(text):
    """YYYY-MM-DDTHH:MM:SSZ (optionally with fractional seconds) -> microseconds."""
    import calendar
    base, _, frac = text.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    us = int((frac + "000000")[:6]) if frac else 0
    return secs * 1_000_000 + us


def parse_key(key):
    """An idempotency key SERIES:NOMINAL:ATTEMPT -> (series id, nominal in µs,
    attempt).  NOMINAL may be microseconds or UTC text (it contains colons)."""
    series, rest = key.split(":", 1)
    nominal, attempt = rest.rsplit(":", 1)
    nominal_us = int(nominal) if nominal.isdigit() else parse_utc(nominal)
    return int(series), nominal_us, int(attempt)


class ServerTest(unittest.TestCase):
    """Gives each test a temp dir and kills every server it started when the test
    ends, pass or fail (keeping the files of failing tests under $SKED_TEST_KEEP if
    set).  This is a cleanup registered first, so cleanups a test adds run before it,
    while the temp dir still exists."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sked-bb-")
        self.servers = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for s in self.servers:
            try:
                if s.alive():
                    s.proc.kill()
                    s.proc.wait(10)
            except Exception:
                pass
        keep = os.environ.get("SKED_TEST_KEEP")
        failed = self._outcome_failed()
        if failed and os.environ.get("SKED_TEST_VERBOSE"):
            for s in self.servers:
                sys.stderr.write(f"\n--- server log ({s.data_dir}) ---\n{s.stderr()[-4000:]}\n")
        if keep and failed:
            dst = os.path.join(keep, self.id())
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(self.tmp, dst, symlinks=True, ignore_dangling_symlinks=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _outcome_failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        result = getattr(outcome, "result", None)
        if result is not None:
            # Python 3.11+: failures/errors recorded on the result as they happen
            for test, _ in list(result.failures) + list(result.errors):
                if test is self:
                    return True
            return False
        errors = getattr(outcome, "errors", [])
        return any(exc for _, exc in errors)

    def path(self, *parts):
        p = os.path.join(self.tmp, *parts)
        return p

    def new_server(self, name="data", **kw):
        data = self.path(name)
        logs = self.path(name + "-logs")
        os.makedirs(logs, exist_ok=True)
        s = Server(data, logs, **kw)
        self.servers.append(s)
        return s

    def start_server(self, name="data", **kw):
        return self.new_server(name, **kw).start()

    def assertProblem(self, status, body, want_status, field=None):
        self.assertEqual(status, want_status, f"reply: {body}")
        self.assertIsInstance(body, dict, "problem+json body")
        self.assertEqual(body.get("status"), want_status, body)
        self.assertTrue(body.get("title"), body)
        self.assertTrue(body.get("detail"), body)
        if field is not None:
            self.assertEqual(body.get("field"), field, body)
