// time: showing instants in a zone with the browser's Intl (display only: every
// instant comes from the server, already computed).
const cache = new Map();

function formatter(tz, seconds, short) {
  const key = `${tz}|${seconds}|${short}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, {
      timeZone: tz, year: short ? undefined : 'numeric', weekday: short ? 'short' : undefined, month: 'short',
      day: 'numeric', hour: '2-digit', minute: '2-digit', second: seconds ? '2-digit' : undefined, hourCycle: 'h23',
    });
    cache.set(key, f);
  }
  return f;
}

export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

// "2 Dec 2026, 17:30" (short: "Wed 2 Dec, 17:30") for an instant ("...Z" text or
// microseconds) in zone tz
export function fmtTime(instant, tz, seconds = false, short = false) {
  const d = typeof instant === 'number' ? new Date(instant / 1000) : new Date(instant);
  return formatter(tz, seconds, short).format(d);
}

export function zoneLabel(tz) {
  return tz === 'UTC' ? 'UTC' : tz.replace(/_/g, ' ');
}

// The Monday (YYYY-MM-DD) of the week that holds the day `day` (YYYY-MM-DD), moved by
// `weeks`: plain calendar arithmetic on dates, no zone involved.
export function mondayOf(day, weeks = 0) {
  const [y, m, d] = day.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d));
  const dow = (t.getUTCDay() + 6) % 7;
  t.setUTCDate(t.getUTCDate() - dow + 7 * weeks);
  return t.toISOString().slice(0, 10);
}

// Today's date (YYYY-MM-DD) in zone tz
export function todayIn(tz) {
  const parts = new Intl.DateTimeFormat('en-CA', {timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit'})
    .formatToParts(new Date());
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}
