#!/usr/bin/env python3
"""Reads sked's iCalendar feeds with an independent parser.

Usage: ics_check.py TEST_ICS   (the test-ics binary; it writes the samples)

`test-ics --samples DIR` writes DIR/<name>.ics and DIR/<name>.expect: the UTC start of
every event each series must have in the window, computed in C with schedule_list and
the exceptions.  Here each feed is parsed with python3-icalendar; RRULE masters are
expanded with dateutil in wall time, each wall time resolved with zoneinfo (fold=0,
which is RFC 5545's reading of skipped and repeated wall times), EXDATEs removed and
RECURRENCE-ID overrides applied; the starts in the window must equal the C side's.
Every VTIMEZONE must give zoneinfo's offset at every instant of its span, and every
time written in a zone must fall inside that span.  The raw text is checked for CRLF,
75-octet lines and folds that keep UTF-8 sequences whole.

Exit status: 0 pass, 1 fail, 77 skip (icalendar or dateutil missing)."""
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone

try:
    import icalendar
    from dateutil import rrule as du_rrule
    from zoneinfo import ZoneInfo
except ImportError as e:
    print("SKIP: %s (Debian: python3-icalendar python3-dateutil)" % e)
    sys.exit(77)

UTC = timezone.utc
failures = []


def fail(msg):
    failures.append(msg)


def fmt(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_text(name, data):
    if not data.endswith(b"\r\n"):
        fail("%s: does not end in CRLF" % name)
    lines = data[:-2].split(b"\r\n")
    for i, line in enumerate(lines):
        where = "%s: line %d" % (name, i + 1)
        if len(line) > 75:
            fail("%s: %d octets" % (where, len(line)))
        if b"\r" in line or b"\n" in line:
            fail("%s: bare CR or LF" % where)
        try:
            line.decode("utf-8")  # a fold inside a UTF-8 sequence breaks both halves
        except UnicodeDecodeError:
            fail("%s: not UTF-8 on its own: %r" % (where, line))
        if i == 0 and line != b"BEGIN:VCALENDAR":
            fail("%s: starts with %r" % (name, line))
    unfolded = data.replace(b"\r\n ", b"").decode("utf-8").split("\r\n")
    for prop in ("VERSION:2.0", "PRODID:-//sked//sked//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH"):
        if prop not in unfolded:
            fail("%s: no %s" % (name, prop))
    if not any(line.startswith("X-WR-CALNAME:") for line in unfolded):
        fail("%s: no X-WR-CALNAME" % name)


class VTimezone:
    """A zone as its VTIMEZONE describes it: onsets (UTC) and the offsets from then on."""

    def __init__(self, comp):
        self.tzid = str(comp["TZID"])
        obs = []
        for sub in comp.subcomponents:
            if sub.name not in ("STANDARD", "DAYLIGHT"):
                fail("%s: unexpected %s" % (self.tzid, sub.name))
                continue
            onset = sub["DTSTART"].dt
            if onset.tzinfo is not None:
                fail("%s: observance DTSTART not local" % self.tzid)
            frm = sub["TZOFFSETFROM"].td
            to = sub["TZOFFSETTO"].td
            obs.append((onset - frm, frm, to, sub.name, onset))
        obs.sort()
        if not obs:
            fail("%s: no observances" % self.tzid)
        self.obs = obs
        self.start = obs[0][0].replace(tzinfo=UTC) if obs else None

    def offset(self, u):
        """Offset in force at UTC instant u (aware)."""
        naive = u.astimezone(UTC).replace(tzinfo=None)
        cur = None
        for at, _, to, _, _ in self.obs:
            if at <= naive:
                cur = to
        return cur

    def check_against_zoneinfo(self, end):
        zone = ZoneInfo(self.tzid)
        probes = []
        t = self.start
        while t <= end:
            probes.append(t)
            t += timedelta(hours=5)
        for at, _, _, _, _ in self.obs:
            at = at.replace(tzinfo=UTC)
            probes += [at - timedelta(seconds=1), at, at + timedelta(seconds=1)]
        bad = 0
        for u in probes:
            if u < self.start:
                continue
            want = u.astimezone(zone).utcoffset()
            got = self.offset(u)
            if got != want and bad < 5:
                fail("%s: VTIMEZONE offset at %s is %s, zoneinfo %s" % (self.tzid, fmt(u), got, want))
                bad += 1
        for _, frm, to, kind, onset in self.obs:
            if kind == "DAYLIGHT" and to <= frm and self.obs[0][4] != onset:
                fail("%s: DAYLIGHT at %s lowers the offset" % (self.tzid, onset))


class Resolver:
    """Date-time property values -> UTC instants, noting each time written per zone."""

    def __init__(self, name, zones):
        self.name = name
        self.zones = zones
        self.written = []  # (tzid, instant)

    def utc(self, dt, params):
        tzid = params.get("TZID")
        if tzid is None:
            if dt.tzinfo is None or dt.utcoffset() != timedelta(0):
                fail("%s: a time neither UTC nor with TZID: %r" % (self.name, dt))
            return dt.astimezone(UTC)
        wall = dt.replace(tzinfo=None)
        u = wall.replace(tzinfo=ZoneInfo(tzid), fold=0).astimezone(UTC)
        if tzid not in self.zones:
            fail("%s: TZID %s has no VTIMEZONE" % (self.name, tzid))
        self.written.append((tzid, u))
        return u


def values(comp, prop):
    """(datetime, params) of every value of a property that may repeat (EXDATE)."""
    v = comp.get(prop)
    if v is None:
        return []
    out = []
    for one in v if isinstance(v, list) else [v]:
        for d in one.dts:
            out.append((d.dt, one.params))
    return out


ESCAPE = re.compile(r"\\([\\;,nN])")


def unescape(value):
    """RFC 5545 TEXT, checked (no bare ';' ',' or lone backslash) and decoded."""
    if re.search(r"(^|[^\\])(\\\\)*[;,]", value) or re.search(r"\\[^\\;,nN]|\\$", ESCAPE.sub("", value)):
        fail("TEXT not escaped: %r" % value)
    return ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def event_texts(data):
    """SUMMARY and DESCRIPTION of each VEVENT in order, from the raw text.  icalendar
    4.0.3 (Debian 12) cannot give them back intact: its content-line splitter turns
    "\\\\" into "\\" before the value is decoded, and its TEXT decoder is a chain of
    replaces, so the escaped backslash of "C:\\\\new" comes back as a line break.
    Neither property has parameters in sked's feeds: the value follows the first ':'."""
    out, cur = [], None
    for line in data.decode("utf-8").replace("\r\n ", "").split("\r\n"):
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            cur = {}
        elif line == "END:VEVENT":
            out.append(cur)
            cur = None
        elif cur is not None and name in ("SUMMARY", "DESCRIPTION"):
            cur[name] = unescape(value)
    return out


def series_of(uid):
    if not uid.startswith("series-") or not uid.endswith("@sked"):
        fail("bad UID %s" % uid)
        return None
    return int(uid[len("series-"):-len("@sked")].split("-")[0])


def check_feed(path, expect_path):
    name = os.path.basename(path)
    data = open(path, "rb").read()
    check_text(name, data)
    cal = icalendar.Calendar.from_ical(data)
    for comp in cal.walk():
        if comp.errors:
            fail("%s: %s: parse errors %s" % (name, comp.name, comp.errors))

    lines = open(expect_path).read().split("\n")
    _, frm, to = lines[0].split()
    frm = datetime.strptime(frm, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    to = datetime.strptime(to, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    want, summaries, notes = {}, {}, {}
    for line in lines[1:]:
        if line.startswith("summary "):
            _, sid, text = line.split(" ")
            summaries[int(sid)] = bytes.fromhex(text).decode("utf-8")
        elif line.startswith("note "):
            _, sid, text = line.split(" ")
            notes.setdefault(int(sid), []).append(bytes.fromhex(text).decode("utf-8"))
        elif line:
            sid, t = line.split()
            want.setdefault(int(sid), []).append(t)

    zones = {}
    for comp in cal.walk("VTIMEZONE"):
        z = VTimezone(comp)
        if z.tzid in zones:
            fail("%s: two VTIMEZONEs for %s" % (name, z.tzid))
        zones[z.tzid] = z
        z.check_against_zoneinfo(to + timedelta(days=365))

    res = Resolver(name, zones)
    masters, overrides, got = {}, {}, {}
    texts_found = set()
    texts = event_texts(data)
    for i, ev in enumerate(cal.walk("VEVENT")):
        uid = str(ev["UID"])
        for prop in ("DTSTAMP", "DTSTART", "DURATION", "SUMMARY", "UID"):
            if prop not in ev:
                fail("%s: %s without %s" % (name, uid, prop))
        sid = series_of(uid)
        start = res.utc(ev["DTSTART"].dt, ev["DTSTART"].params)
        summary = texts[i].get("SUMMARY")
        if sid in summaries and summary != summaries[sid]:
            fail("%s: %s: SUMMARY %r, expected %r" % (name, uid, summary, summaries[sid]))
        desc = texts[i].get("DESCRIPTION", "")
        for note in notes.get(sid, []):
            if "Note: " + note.replace("\r\n", "\n") in desc:
                texts_found.add((sid, note))
        if "RRULE" in ev:
            masters[uid] = (sid, ev)
        elif "RECURRENCE-ID" in ev:
            rid = res.utc(ev["RECURRENCE-ID"].dt, ev["RECURRENCE-ID"].params)
            overrides.setdefault(uid, {})[rid] = start
        else:
            if not (frm <= start < to):
                fail("%s: %s starts %s, outside the window" % (name, uid, fmt(start)))
            got.setdefault(sid, []).append(start)

    for uid, (sid, ev) in masters.items():
        dt, params = ev["DTSTART"].dt, ev["DTSTART"].params
        tzid = params.get("TZID")
        zone = ZoneInfo(tzid) if tzid else UTC
        wall0 = dt.replace(tzinfo=None) if tzid else dt.astimezone(UTC).replace(tzinfo=None)
        rule = ev["RRULE"].to_ical().decode()
        walls = du_rrule.rrulestr(rule, dtstart=wall0)
        horizon = (to + timedelta(days=60)).replace(tzinfo=None)
        nominal = set()
        for w in walls:
            if w > horizon:
                break
            nominal.add(w.replace(tzinfo=zone, fold=0).astimezone(UTC))
        for d, p in values(ev, "EXDATE"):
            x = res.utc(d, p)
            if x not in nominal:
                fail("%s: %s: EXDATE %s is no occurrence" % (name, uid, fmt(x)))
            nominal.discard(x)
        starts = set(nominal)
        for rid, start in overrides.pop(uid, {}).items():
            if rid not in nominal:
                fail("%s: %s: RECURRENCE-ID %s is no occurrence" % (name, uid, fmt(rid)))
            starts.discard(rid)
            starts.add(start)
        got.setdefault(sid, []).extend(t for t in starts if frm <= t < to)
    for uid in overrides:
        fail("%s: overrides of %s without a master" % (name, uid))

    for sid in sorted(set(want) | set(got)):
        w = want.get(sid, [])
        g = sorted(fmt(t) for t in got.get(sid, []))
        if g != w:
            missing = sorted(set(w) - set(g))[:5]
            extra = sorted(set(g) - set(w))[:5]
            fail("%s: series %d: %d events, expected %d; missing %s, extra %s"
                 % (name, sid, len(g), len(w), missing, extra))
        else:
            print("%s: series %d: %d events agree" % (name, sid, len(g)))

    for sid, ns in notes.items():
        for note in ns:
            if (sid, note) not in texts_found:
                fail("%s: series %d: note %r not in any DESCRIPTION" % (name, sid, note))

    for tzid, u in res.written:
        z = zones.get(tzid)
        if z and z.start and u < z.start:
            fail("%s: %s written at %s, before its VTIMEZONE starts" % (name, tzid, fmt(u)))
        if z and z.offset(u) != u.astimezone(ZoneInfo(tzid)).utcoffset():
            fail("%s: %s at %s: VTIMEZONE and zoneinfo disagree" % (name, tzid, fmt(u)))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.argv[1], "--samples", d], check=True)
        names = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".ics"))
        if not names:
            fail("no samples written")
        for n in names:
            check_feed(os.path.join(d, n + ".ics"), os.path.join(d, n + ".expect"))
    for f in failures:
        print("FAIL:", f)
    print("%d feeds, %d failures" % (len(names), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
