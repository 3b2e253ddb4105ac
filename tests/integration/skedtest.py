"""Harness for the black-box tests: starts a real `sked serve` ($SKED_BIN) on a free
port with a temporary data directory, talks to it over HTTP (urllib) and through the
CLI, and always cleans up.  Standard library only.

Backends: by default every server uses SQLite in its data directory.  With
SKED_TEST_PG=postgres://USER@HOST:PORT/DB (a throwaway cluster, see scripts/pgtmp)
every server gets a fresh database of its own on that cluster (created here, dropped
when the test ends) and `--db` pointing at it; the nodes of one cluster test share
one (ServerTest.start_cluster).  Server.rows(sql) reads the store directly, whichever
the backend, as a second witness next to the API.

Typical use:

    class T(skedtest.ServerTest):          # one server per test, killed in tearDown
        def test_x(self):
            srv = self.start_server(workers=2)
            status, body = srv.api("GET", "/api/v1/types")
            rc, out, err = srv.cli("runs", "list", "--json")
"""
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import openapi

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

# ---- PostgreSQL mode ----

PG = os.environ.get("SKED_TEST_PG", "")


def pg_bin(name):
    """A PostgreSQL client program (psql, pg_ctl, ...) from Debian's newest version."""
    import glob
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    return shutil.which(name) or name


def pg_uri_with_db(uri, dbname):
    """The URI `uri` (postgres://USER@HOST:PORT/DB[?...]) with another database."""
    head, _, rest = uri.partition("://")
    authority, slash, path = rest.partition("/")
    _, q, query = path.partition("?")
    return f"{head}://{authority}/{dbname}" + (q + query if q else "")


def psql(uri, sql, timeout=60):
    """Runs SQL with psql (unaligned, tuples only); returns stdout.  Fails loudly."""
    p = subprocess.run([pg_bin("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql],
                       capture_output=True, text=True, timeout=timeout * SLOW)
    if p.returncode != 0:
        raise AssertionError(f"psql {sql!r}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def pg_rows(uri, sql):
    """The rows of a SELECT as a list of dicts (through json_agg: types survive)."""
    out = psql(uri, f"SELECT coalesce(json_agg(t), '[]'::json) FROM ({sql}) t")
    return json.loads(out)


_db_seq = itertools.count(1)


def pg_create_db():
    """A fresh, empty database on the test cluster; returns its URI."""
    name = f"skedt_{os.getpid()}_{next(_db_seq)}"
    psql(PG, f'CREATE DATABASE "{name}"')
    return pg_uri_with_db(PG, name)


def pg_drop_db(uri):
    name = uri.rsplit("/", 1)[1].split("?")[0]
    try:
        psql(PG, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as e:  # cleanup: report, never mask the test's outcome
        sys.stderr.write(f"\nskedtest: cannot drop database {name}: {e}\n")


def sqlite_rows(path, sql):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


def fixture(*parts):
    return os.path.join(FIXTURES, *parts)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


US = 1_000_000


def now_us():
    """The real clock in microseconds since the epoch (sked's instants)."""
    return time.time_ns() // 1000


def local_text(us):
    """A UTC instant as the wall time of a series in UTC (its `start`)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // US))


def sleep_until(us):
    d = (us - now_us()) / US
    if d > 0:
        time.sleep(d)


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
                 env=None, db=None, node=None, token_file=None):
        self.db = db                    # a postgres:// URI, or None: SQLite in the data dir
        self.node = node
        self.token_file = token_file
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
        self.cacert = None              # HTTPS (--tls-cert): the CA file requests and the CLI trust

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
        if self.db:
            a += ["--db", self.db]
        if self.node:
            a += ["--node", self.node]
        if self.token_file:
            a += ["--token-file", self.token_file]
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
                if line.startswith(("sked: listening on http://", "sked: listening on https://")):
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

    def token_path(self):
        return self.token_file or os.path.join(self.data_dir, "admin.token")

    def read_token(self):
        with open(self.token_path()) as f:
            return f.read().strip()

    # ---- the store, read directly (a second witness) ----

    @property
    def postgres(self):
        return bool(self.db)

    def exec_sql(self, sqlite_sql, pg_sql):
        """Runs statements on this server's store with a connection of the test's own
        (to set up what the API cannot, e.g. a trigger), in the backend's dialect."""
        if self.postgres:
            psql(self.db, pg_sql)
            return
        con = sqlite3.connect(os.path.join(self.data_dir, "sked.db"), timeout=30)
        try:
            con.executescript(sqlite_sql)
            con.commit()
        finally:
            con.close()

    def rows(self, sql):
        """The rows of a SELECT on this server's store, as dicts.  SQLite: read-only,
        best while no server runs; PostgreSQL: any time.  Write SQL both accept."""
        if self.db:
            return pg_rows(self.db, sql)
        return sqlite_rows(os.path.join(self.data_dir, "sked.db"), sql)

    @contextlib.contextmanager
    def writes_blocked(self):
        """Blocks every write to the store (the poller cannot fire: occurrences
        cannot be inserted) while reads go on, for the duration of the block."""
        if not self.db:
            con = sqlite3.connect(os.path.join(self.data_dir, "sked.db"), isolation_level=None, timeout=30)
            try:
                con.execute("BEGIN IMMEDIATE")
                yield
            finally:
                con.execute("ROLLBACK")
                con.close()
            return
        p = subprocess.Popen([pg_bin("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.db],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # EXCLUSIVE admits plain SELECTs only; 'locked' confirms it is held
            p.stdin.write("BEGIN;\nLOCK TABLE occurrences, runs IN EXCLUSIVE MODE;\nSELECT 'locked';\n")
            p.stdin.flush()
            line = p.stdout.readline().strip()
            if line != "locked":
                raise AssertionError(f"psql could not lock: {line!r} {p.stderr.read() if p.poll() is not None else ''}")
            yield
        finally:
            try:
                p.stdin.write("ROLLBACK;\n")
                p.stdin.close()
            except OSError:
                pass
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

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

    def request(self, method, path, body=None, headers=None, token=True, raw=None, timeout=30, contract="full"):
        """Returns (status, headers, body bytes).  token=True uses the admin token,
        a string uses that string, None sends no Authorization header.  Every reply is
        checked against docs/openapi.yaml (openapi.check; SKED_TEST_OPENAPI=0 turns it
        off): every HTTP call of the suite comes through here, except the raw-socket
        ones of test_validation.Bodies and test_openapi.Statuses, which call
        openapi.check themselves, and the CLI's (its own client, libcurl).

        contract="reply-only" is for a request malformed on purpose, to see it refused
        (test_http_strict: an argument the route does not take, one that is not text):
        the query arguments sent need not be documented while the server refuses the
        request, and everything else is checked as always: the reply's status must be
        one the operation documents, its body the problem it describes, and a request
        the server accepted is held in full.  Only such tests pass it; the default,
        "full", holds the request to the document too (openapi.py)."""
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
            ctx = ssl.create_default_context(cafile=self.cacert) if self.cacert else None
            with urllib.request.urlopen(req, timeout=timeout * SLOW, context=ctx) as resp:
                status, rh, reply = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, rh, reply = e.code, e.headers, e.read()
        # every reply against docs/openapi.yaml: an undocumented route, status, header
        # or member fails the test here (tests/integration/openapi.py)
        openapi.check(method, path, data, status, rh, reply, contract=contract)
        return status, rh, reply

    def api(self, method, path, body=None, headers=None, token=True, raw=None, contract="full"):
        """Returns (status, parsed JSON body or None); contract as for request."""
        status, _, data = self.request(method, path, body, headers, token, raw, contract=contract)
        return status, (json.loads(data) if data else None)

    def api_full(self, method, path, body=None, headers=None, token=True, raw=None, contract="full"):
        """Returns (status, headers, parsed JSON body or None); contract as for request."""
        status, hdrs, data = self.request(method, path, body, headers, token, raw, contract=contract)
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
        if self.cacert:
            env["SKED_CACERT"] = self.cacert
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
        self.databases = []
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
        for uri in self.databases:
            if keep and failed:
                sys.stderr.write(f"\nskedtest: kept database {uri}\n")
            else:
                pg_drop_db(uri)
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

    def new_database(self):
        """PostgreSQL mode: a fresh database, dropped when the test ends.  SQLite
        mode: None (each server's store is in its data directory)."""
        if not PG:
            return None
        uri = pg_create_db()
        self.databases.append(uri)
        return uri

    def new_server(self, name="data", **kw):
        """A server with its own data directory and, in PostgreSQL mode, its own
        fresh database (unless db= names one)."""
        data = self.path(name)
        logs = self.path(name + "-logs")
        os.makedirs(logs, exist_ok=True)
        if "db" not in kw:
            kw["db"] = self.new_database()
        s = Server(data, logs, **kw)
        self.servers.append(s)
        return s

    def start_server(self, name="data", **kw):
        return self.new_server(name, **kw).start()

    def new_cluster(self, n, db=None, **kw):
        """n nodes (node1..nodeN) on one database with one shared token file;
        not started."""
        db = db or self.new_database()
        token = self.path("cluster.token")
        return [self.new_server(f"node{i}", db=db, node=f"node{i}", token_file=token, **kw)
                for i in range(1, n + 1)]

    def start_cluster(self, n, db=None, **kw):
        nodes = self.new_cluster(n, db, **kw)
        nodes[0].start()   # the first start creates the token file; the others read it
        for s in nodes[1:]:
            s.start()
        return nodes

    def assertProblem(self, status, body, want_status, field=None):
        self.assertEqual(status, want_status, f"reply: {body}")
        self.assertIsInstance(body, dict, "problem+json body")
        self.assertEqual(body.get("status"), want_status, body)
        self.assertTrue(body.get("title"), body)
        self.assertTrue(body.get("detail"), body)
        if field is not None:
            self.assertEqual(body.get("field"), field, body)
