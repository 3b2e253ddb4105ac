"""An independent oracle for `sked preview`: dateutil expands RRULEs in floating
time, a small cron matcher written here expands cron, and zoneinfo (fold=0)
resolves wall times to instants, as DESIGN.md specifies."""
import calendar
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil import rrule as du_rrule

UTC = timezone.utc


def resolve(wall, zone):
    """Wall time -> UTC instant, zoneinfo fold=0: gap uses the offset before it,
    a repeated time is its first instant."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def fmt(instant, zone):
    local = instant.astimezone(zone)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ") + " " + local.isoformat()


def _finish(instants, frm, count, zone):
    out = sorted({i for i in instants if i >= frm})
    return [fmt(i, zone) for i in out[:count]]


def rrule_lines(rule, tz, start, frm, count, horizon_days=50000):
    zone = ZoneInfo(tz)
    dtstart = datetime.fromisoformat(start)
    text = rule[len("RRULE:"):] if rule.startswith("RRULE:") else rule
    until_utc = None
    parts = []
    for p in text.split(";"):
        if p.startswith("UNTIL=") and p.endswith("Z"):
            until_utc = datetime.strptime(p[6:], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            continue
        parts.append(p)
    r = du_rrule.rrulestr(";".join(parts), dtstart=dtstart)
    lo = (frm - timedelta(days=2)).replace(tzinfo=None)
    hi = lo + timedelta(days=horizon_days)
    instants = []
    after = 0  # instants at or after frm: the walls between lo and frm do not count
    for wall in r:
        if wall > hi:
            break
        if wall < lo:
            continue
        inst = resolve(wall, zone)
        if until_utc is not None and inst > until_utc:
            continue
        instants.append(inst)
        after += inst >= frm
        if after > count + 10 and wall > frm.replace(tzinfo=None) + timedelta(days=2):
            break
    return _finish(instants, frm, count, zone)


MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _field(text, lo, hi, names=None, base=0):
    vals = set()
    for item in text.split(","):
        step = 1
        if "/" in item:
            item, s = item.split("/")
            step = int(s)
        if item in ("*", "?"):
            a, b = lo, hi
        else:
            def val(x):
                if names and x.upper() in names:
                    return names.index(x.upper()) + base
                return int(x)
            if "-" in item:
                a, b = (val(x) for x in item.split("-"))
            else:
                a = val(item)
                b = hi if step > 1 else a
        vals.update(range(a, b + 1, step))
    return vals


class Cron:
    def __init__(self, text):
        f = text.split()
        if len(f) == 5:
            f = ["0"] + f
        self.sec = _field(f[0], 0, 59)
        self.min = _field(f[1], 0, 59)
        self.hour = _field(f[2], 0, 23)
        self.last = "L" in f[3].split(",")
        dom_text = ",".join(x for x in f[3].split(",") if x != "L") or "99"
        self.dom = _field(dom_text, 1, 31) if dom_text != "99" else set()
        self.mon = _field(f[4], 1, 12, MONTHS, 1)
        self.dow = {d % 7 for d in _field(f[5], 0, 7, DAYS, 0)}
        self.dom_star = f[3][0] in "*?"
        self.dow_star = f[5][0] in "*?"
        self.all_hours = self.hour == set(range(24))

    def day(self, d):
        if d.month not in self.mon:
            return False
        dom = d.day in self.dom or (self.last and d.day == calendar.monthrange(d.year, d.month)[1])
        dow = (d.isoweekday() % 7) in self.dow
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def match(self, w):
        return (w.second in self.sec and w.minute in self.min and w.hour in self.hour
                and self.day(w))


def cron_lines(fields, tz, frm, count, step_seconds=60, horizon_days=3000):
    """Brute force: walk wall times (restricted hours) or instants (every hour)."""
    zone = ZoneInfo(tz)
    c = Cron(fields)
    out = []
    if c.all_hours:
        t = frm
        end = frm + timedelta(days=horizon_days)
        while len(out) < count and t < end:
            w = t.astimezone(zone).replace(tzinfo=None)
            if c.day(w) and c.match(w):
                out.append(t)
            t += timedelta(seconds=step_seconds)
        return [fmt(i, zone) for i in out]
    day = (frm - timedelta(days=2)).replace(tzinfo=None, hour=0, minute=0, second=0)
    instants = []
    for _ in range(horizon_days):
        if c.day(day):
            for h in sorted(c.hour):
                for m in sorted(c.min):
                    for s in sorted(c.sec):
                        instants.append(resolve(day.replace(hour=h, minute=m, second=s), zone))
        day += timedelta(days=1)
        if len([i for i in instants if i >= frm]) > count and day.replace(tzinfo=UTC) > frm + timedelta(days=3):
            break
    return _finish(instants, frm, count, zone)
