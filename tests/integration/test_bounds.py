"""Black-box tests of issue 16's hardening (h9): every piece of work one request can
cause is bounded, a refused request changes nothing, and a bad stored definition
never blocks the poller for the others.  Against a real `sked serve` (SQLite, or
PostgreSQL with SKED_TEST_PG)."""
import json
import threading
import time
import unittest

import skedtest
from skedtest import wait_for

# Rules whose parts never coincide: searched without a bound before, one request
# spun an HTTP thread and never answered.
NEVER = [
    "RRULE:FREQ=SECONDLY;BYMONTH=1;BYYEARDAY=100",
    "RRULE:FREQ=MINUTELY;BYMONTH=1;BYYEARDAY=200",
    "RRULE:FREQ=HOURLY;BYMONTH=2;BYYEARDAY=-1",
    "RRULE:FREQ=SECONDLY;INTERVAL=2;BYSECOND=1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,"
    "47,49,51,53,55,57,59",
    "RRULE:FREQ=DAILY;BYHOUR=9;BYSETPOS=2",
]
# A schedule that never fires during a test: runs come from `trigger` only.
MANUAL = "cron:0 0 1 1 *"


def bg_type(name, schedule, **extra):
    d = {"name": name, "kind": "background", "title": name, "handler": {"command": ["/bin/true"]},
         "series": {"schedule": schedule}}
    d.update(extra)
    return d


class ResultLimits(skedtest.ServerTest):
    def test_cut_keys_and_statuses_stay_within_their_limits(self):
        # 1024 bytes per key and 64 per status (docs/operations.md): the cut was made
        # at the limit and the ellipsis added after it, 3 bytes too long
        srv = self.start_server(workers=1)
        key = "é" * 700          # 1400 bytes
        status = "ö" * 40        # 80 bytes
        line = "::result::" + json.dumps({"key": key, "status": status}, ensure_ascii=False)
        short = "::result::" + json.dumps({"key": "é" * 512, "status": "ö" * 32}, ensure_ascii=False)
        srv.register_type(skedtest.command_type("bb.r", ["/bin/sh", "-c", f"cat >/dev/null; echo '{line}'; "
                                                                           f"echo '{short}'"]))
        s = srv.create_series(type="bb.r", schedule=MANUAL)
        run = srv.wait_run(srv.trigger(s["id"])["id"])
        self.assertEqual(run["state"], "succeeded", run)
        (cut, exact) = srv.results(run["id"])
        for text, limit, orig in ((cut["key"], 1024, key), (cut["status"], 64, status)):
            raw = text.encode()
            self.assertLessEqual(len(raw), limit, text)
            self.assertTrue(text.endswith("…"), text)
            self.assertTrue(orig.startswith(text[:-1]), text)
            self.assertGreater(len(raw) + 2, limit)  # nothing more would have fitted
        # exactly at the limit: kept whole, no mark
        self.assertEqual((exact["key"], exact["status"]), ("é" * 512, "ö" * 32))


if __name__ == "__main__":
    unittest.main()
