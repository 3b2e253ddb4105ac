"""The CLI as a new user meets it: one test per rough edge fixed (docs/cli.md), each
against a real `sked serve`, through `sked` itself."""
import datetime
import json
import os
import pty
import re
import struct
import subprocess
import fcntl
import termios
import time
import unittest
import zoneinfo

import skedtest
from skedtest import wait_for

LONG = "x" * 150 + " the end of a long message"


def utc(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


class Offline(unittest.TestCase):
    """Commands that need no server."""

    def run_sked(self, *args):
        p = subprocess.run([skedtest.SKED, *args], capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def test_version(self):
        for args in (["--version"], ["version"]):
            rc, out, err = self.run_sked(*args)
            self.assertEqual((rc, out), (0, "sked 0.1.0\n"), err)

    def test_preview_json(self):
        rc, out, err = self.run_sked("preview", "--json", "--tz", "Europe/Berlin", "--from",
                                     "2026-11-22T00:00:00Z", "--count", "2", "cron:0 9 * * 1-5")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), {
            "spec": "cron:0 9 * * 1-5", "tz": "Europe/Berlin",
            "items": [{"at": "2026-11-23T08:00:00Z", "local": "2026-11-23T09:00:00+01:00"},
                      {"at": "2026-11-24T08:00:00Z", "local": "2026-11-24T09:00:00+01:00"}]})

    def test_preview_from_today(self):
        rc, out, err = self.run_sked("preview", "--from", "today", "--count", "1", "every:1d")
        self.assertEqual(rc, 0, err)
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        self.assertTrue(out.startswith(today + "T00:00:00Z "), out)

    def test_unknown_verb_lists_the_verbs(self):
        rc, out, err = self.run_sked("series", "lst")
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn('sked series: unknown command "lst"', err)
        for verb in ("list", "show", "create", "edit", "occurrences", "occurrence"):
            self.assertIn(verb, err)
        rc, _, err = self.run_sked("runs", "lsit")
        self.assertEqual(rc, 2)
        self.assertIn('sked runs: unknown command "lsit" (list, show, messages, results, enqueue', err)


class Cli(skedtest.ServerTest):
    def setUp(self):
        super().setUp()
        self.srv = self.start_server(workers=2)
        self.srv.register_type({
            "name": "t.say",
            "handler": {"command": ["/bin/sh", "-c", f"echo '::info::{LONG}'"]},
        })

    def ok(self, *args):
        rc, out, err = self.srv.cli(*args)
        self.assertEqual(rc, 0, f"sked {' '.join(args)}: {err}")
        return out, err

    def one_run(self):
        reply = self.srv.post("/api/v1/runs", {"type": "t.say", "params": {}, "count": 1})
        return self.srv.wait_run(reply["ids"][0])

    def test_runs_list_after_pages_like_before(self):
        ids = self.srv.post("/api/v1/runs", {"type": "t.say", "params": {}, "count": 5})["ids"]
        out, _ = self.ok("runs", "list", "--limit", "2")
        self.assertIn(f"(more: --before {ids[3]})", out)
        for opt in ("--after", "--before"):
            out, _ = self.ok("runs", "list", "--limit", "2", opt, str(ids[3]))
            got = [int(line.split()[0]) for line in out.splitlines()[1:] if line[:1].isdigit()]
            self.assertEqual(got, [ids[2], ids[1]], out)
        rc, _, err = self.srv.cli("runs", "list", "--after", "x")
        self.assertEqual(rc, 2)
        self.assertIn('--after "x"', err)

    def test_type_register_names_the_manifest_file(self):
        path = self.path("ledger.yaml")
        with open(path, "w") as f:
            f.write("name: t.ledger\nkind: scheduled\ntitle: L\nhandler:\n  command: [/bin/true]\n"
                    "defaults:\n  timout: 1m\n")
        rc, _, err = self.srv.cli("type", "register", path)
        self.assertEqual(rc, 2, err)
        self.assertIn(f"{path}: defaults.timout: unknown key (expected one of: timeout", err)
        self.assertEqual(self.srv.api("GET", "/api/v1/types/t.ledger")[0], 404)

    def test_runs_list_every_state(self):
        for state in ("queued", "running", "succeeded", "failed", "lost", "cancelled", "canceled"):
            out, _ = self.ok("runs", "list", "--state", state)
            self.assertTrue(out.startswith("ID "), out)
        rc, _, err = self.srv.cli("runs", "list", "--state", "done")
        self.assertEqual(rc, 2)
        self.assertIn("cancelled", err)

    def test_messages_whole_text_when_piped_and_cut_to_terminal(self):
        run = self.one_run()
        out, _ = self.ok("runs", "messages", str(run["id"]))
        self.assertIn(LONG, out)  # not a terminal: never cut
        out, _ = self.ok("runs", "messages", str(run["id"]), "--full")
        self.assertIn(LONG, out)
        # on a 100-column terminal the text is cut to fit; with --full it is not
        for args, cut in (((), True), (("--full",), False)):
            text = self.on_terminal(100, "runs", "messages", str(run["id"]), *args)
            line = [l for l in text.splitlines() if "xxx" in l][0]
            if cut:
                self.assertEqual(len(line), 100, text)
                self.assertTrue(line.endswith("\u2026"), line)
            else:
                self.assertIn(LONG, line)

    def on_terminal(self, cols, *args):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
        env = self.srv.cli_env()
        env.pop("COLUMNS", None)
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
        self.assertEqual(p.returncode, 0, p.stderr.read())
        return b"".join(chunks).decode().replace("\r\n", "\n")

    def test_occurrences_today_tomorrow_and_relative(self):
        # today's occurrence must come after the series' creation (earlier computed ones
        # are left out): 23:59 is, unless the test starts in that very minute
        now = datetime.datetime.now(datetime.timezone.utc)
        if (now.hour, now.minute) >= (23, 58):
            time.sleep((60 - now.minute) * 60 - now.second + 5)
        s = self.srv.create_series(type="t.say", schedule="cron:59 23 * * *", tz="UTC")
        out, _ = self.ok("series", "occurrences", str(s["id"]), "--from", "today", "--to", "tomorrow")
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        self.assertIn(f"{today}T23:59:00Z", out)
        self.assertEqual(len([l for l in out.splitlines() if "T23:59:00Z" in l]), 1, out)
        reply = json.loads(self.ok("series", "occurrences", str(s["id"]), "--from", "+1d", "--to", "+3d",
                                   "--json")[0])
        self.assertEqual(len(reply["items"]), 2, reply)
        # midnight in --tz: Kiritimati is 14 hours ahead, so its "today" starts at 10:00Z the day before
        reply = json.loads(self.ok("series", "occurrences", str(s["id"]), "--from", "today", "--tz",
                                   "Pacific/Kiritimati", "--json")[0])
        self.assertTrue(reply["from"].endswith("T10:00:00Z"), reply["from"])
        rc, _, err = self.srv.cli("series", "occurrences", str(s["id"]), "--to", "later")
        self.assertEqual(rc, 2)
        self.assertIn('--to "later": expected', err)

    def test_occurrence_next_and_wall_clock_start(self):
        s = self.srv.create_series(type="t.say", schedule="cron:0 9 * * *", tz="Europe/Berlin")
        occ = self.srv.get(f"/api/v1/series/{s['id']}/occurrences?from="
                           + datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                           + "&limit=1")["items"][0]
        out = json.loads(self.ok("series", "occurrence", str(s["id"]), "next", "--start", "11:30", "--note",
                                 "later", "--json")[0])
        self.assertEqual(out["at"], occ["at"])
        self.assertEqual(out["change"], "moved")
        berlin = zoneinfo.ZoneInfo("Europe/Berlin")
        day = datetime.date.fromisoformat(occ["local"][:10])  # the occurrence's own day in its zone

        def wall(h, m):
            return datetime.datetime(day.year, day.month, day.day, h, m, tzinfo=berlin).astimezone(
                datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(out["start_at"], wall(11, 30))
        # the old forms still work: the nominal instant, and a full wall time
        out = json.loads(self.ok("series", "occurrence", str(s["id"]), occ["at"], "--start",
                                 occ["local"][:10] + "T12:15:00", "--json")[0])
        self.assertEqual(out["start_at"], wall(12, 15))
        out, _ = self.ok("series", "occurrence", str(s["id"]), "next", "--reset")
        self.assertIn(f"occurrence {occ['at']} of series {s['id']} follows its rule again", out)
        rc, _, err = self.srv.cli("series", "occurrence", str(s["id"]), "soon")
        self.assertEqual(rc, 2)
        self.assertIn("or next", err)

    def test_occurrences_say_when_cut(self):
        s = self.srv.create_series(type="t.say", schedule="every 1s", tz="UTC", enabled=False)
        rc, out, err = self.srv.cli("series", "occurrences", str(s["id"]), "--from", "now", "--to", "+3h")
        self.assertEqual(rc, 0, err)
        self.assertIn("sked: showing the first 10,000 occurrences; narrow --from/--to", err)
        self.assertEqual(len(out.splitlines()), 10001)
        rc, out, err = self.srv.cli("series", "occurrences", str(s["id"]), "--from", "now", "--to", "+1h")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("showing the first", err)

    def test_disabled_series_shows_no_next_due(self):
        out, _ = self.ok("series", "create", "--type", "t.say", "--schedule", "every 1h", "--disabled")
        m = re.fullmatch(r"created series (\d+) \(disabled, next due -\)\n", out)
        self.assertIsNotNone(m, out)
        sid = m.group(1)
        out, _ = self.ok("series", "show", sid)
        self.assertRegex(out, r"(?m)^next_due +-$")
        out, _ = self.ok("series", "list")
        row = [l for l in out.splitlines() if l.startswith(sid + " ")][0]
        self.assertNotRegex(row, r"\d{4}-\d\d-\d\dT")
        out, _ = self.ok("series", "create", "--type", "t.say", "--schedule", "every 1h")
        self.assertRegex(out, r"created series \d+ \(next due \d{4}-")


if __name__ == "__main__":
    unittest.main()
