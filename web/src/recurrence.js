// recurrence: the wizard's recurrence editor as plain data, and the series' schedule
// members it stands for (docs/schedules.md).  Only text is built and read here (RRULE
// keys, "every:N"): which instants a schedule has is always the server's answer
// (POST /api/v1/preview, the scheduler of `sked preview`), never computed in the page.

export const DAYS = [
  ['MO', 'Monday', 'Mon'], ['TU', 'Tuesday', 'Tue'], ['WE', 'Wednesday', 'Wed'], ['TH', 'Thursday', 'Thu'],
  ['FR', 'Friday', 'Fri'], ['SA', 'Saturday', 'Sat'], ['SU', 'Sunday', 'Sun'],
];

export const FREQS = [
  ['once', 'Once'], ['minutes', 'Every N minutes'], ['hours', 'Every N hours'], ['daily', 'Daily'],
  ['weekly', 'Weekly'], ['monthly', 'Monthly'], ['yearly', 'Yearly'], ['custom', 'Custom (RRULE, cron or every)'],
];

export const NTH = [['1', 'first'], ['2', 'second'], ['3', 'third'], ['4', 'fourth'], ['-1', 'last']];

// A new series' recurrence: daily at 09:00 from `today` (YYYY-MM-DD) in zone tz.
export function defaultRecurrence(tz, today) {
  return {
    freq: 'daily', interval: '1', start: `${today}T09:00`, days: ['MO'], monthMode: 'day', monthDay: '1',
    nth: '1', weekday: 'MO', ends: 'never', count: '10', until: '', tz, custom: '',
  };
}

const isInt = (s, lo, hi) => /^\d+$/.test(String(s).trim()) && +s >= lo && +s <= hi;

// The editor's own checks, before the server's: {key: message} for the inputs whose
// value cannot make a schedule at all (the server checks everything again).
export function checkRecurrence(rec) {
  const e = {};
  if (rec.freq === 'custom') {
    if (!rec.custom.trim()) e.schedule = 'Enter a schedule, e.g. RRULE:FREQ=WEEKLY;BYDAY=MO or cron:0 9 * * 1-5';
  } else if (!rec.start) {
    e.start = 'Choose the date and time of the first occurrence';
  }
  if (['minutes', 'hours', 'daily', 'weekly', 'yearly'].includes(rec.freq) && !isInt(rec.interval, 1, 9999))
    e.interval = 'A whole number from 1 to 9999';
  if (rec.freq === 'weekly' && rec.days.length === 0) e.days = 'Choose at least one day';
  if (rec.freq === 'monthly' && rec.monthMode === 'day' && !isInt(rec.monthDay, 1, 31)) e.monthDay = 'A day from 1 to 31';
  if (rec.freq !== 'once') {
    if (rec.ends === 'after' && !isInt(rec.count, 1, 100000)) e.count = 'A whole number from 1 to 100000';
    if (rec.ends === 'on' && !/^\d{4}-\d\d-\d\d$/.test(rec.until)) e.end = 'Choose the last day';
  }
  if (!rec.tz.trim()) e.tz = 'Choose a time zone';
  return e;
}

// The series members (schedule, tz, start, count, end) of the editor's state.  "Ends on
// a date" is the end of that day as a wall time in tz, which the server resolves.
export function toMembers(rec) {
  const every = (n) => (n > 1 ? `;INTERVAL=${n}` : '');
  const n = Number(rec.interval) || 1;
  let schedule;
  switch (rec.freq) {
    case 'once': schedule = 'RRULE:FREQ=DAILY;COUNT=1'; break;
    case 'minutes': schedule = `every:${n}m`; break;
    case 'hours': schedule = `every:${n}h`; break;
    case 'daily': schedule = `RRULE:FREQ=DAILY${every(n)}`; break;
    case 'weekly': {
      const days = DAYS.map((d) => d[0]).filter((d) => rec.days.includes(d));
      schedule = `RRULE:FREQ=WEEKLY${every(n)};BYDAY=${days.join(',')}`;
      break;
    }
    case 'monthly':
      schedule = rec.monthMode === 'day' ? `RRULE:FREQ=MONTHLY;BYMONTHDAY=${Number(rec.monthDay)}`
        : `RRULE:FREQ=MONTHLY;BYDAY=${rec.nth}${rec.weekday}`;
      break;
    case 'yearly': schedule = `RRULE:FREQ=YEARLY${every(n)}`; break;
    default: schedule = rec.custom.trim();
  }
  const once = rec.freq === 'once';
  return {
    schedule, tz: rec.tz.trim(), start: rec.start ? `${rec.start}:00`.slice(0, 19) : null,
    count: !once && rec.ends === 'after' ? Number(rec.count) : null,
    end: !once && rec.ends === 'on' && rec.until ? `${rec.until}T23:59:59` : null,
  };
}

function rruleKeys(spec) {
  const m = spec.match(/^(?:RRULE:)?(FREQ=.*)$/i);
  if (!m) return null;
  const keys = {};
  for (const part of m[1].split(';')) {
    const [k, v] = part.split('=');
    if (!k || v === undefined || keys[k.toUpperCase()] !== undefined) return null;
    keys[k.toUpperCase()] = v.toUpperCase();
  }
  return keys;
}

// The editor's state for an existing series (the shapes the editor makes; anything
// else is "custom", its text as it is).  endDate(instant, tz) gives the local date
// of the series' end, for display.
export function fromSeries(s, fallback, endDate) {
  const rec = {...fallback, tz: s.tz, start: s.start ? s.start.slice(0, 16) : '', custom: s.schedule};
  const spec = s.schedule.trim();
  const every = spec.match(/^every[: ]\s*(\d+)\s*([mh])$/i);
  const k = rruleKeys(spec);
  const only = (...allowed) => Object.keys(k).every((x) => allowed.includes(x));
  const interval = k && k.INTERVAL ? k.INTERVAL : '1';
  if (every && rec.start) {
    rec.freq = every[2].toLowerCase() === 'm' ? 'minutes' : 'hours';
    rec.interval = every[1];
  } else if (!k || !rec.start) {
    rec.freq = 'custom';
  } else if (k.FREQ === 'DAILY' && k.COUNT === '1' && only('FREQ', 'COUNT')) {
    rec.freq = 'once';
  } else if (k.FREQ === 'DAILY' && only('FREQ', 'INTERVAL')) {
    rec.freq = 'daily';
    rec.interval = interval;
  } else if (k.FREQ === 'WEEKLY' && only('FREQ', 'INTERVAL', 'BYDAY') && k.BYDAY &&
             k.BYDAY.split(',').every((d) => DAYS.some((x) => x[0] === d))) {
    rec.freq = 'weekly';
    rec.interval = interval;
    rec.days = k.BYDAY.split(',');
  } else if (k.FREQ === 'MONTHLY' && only('FREQ', 'BYMONTHDAY') && /^\d+$/.test(k.BYMONTHDAY || '')) {
    rec.freq = 'monthly';
    rec.monthMode = 'day';
    rec.monthDay = k.BYMONTHDAY;
  } else if (k.FREQ === 'MONTHLY' && only('FREQ', 'BYDAY') && /^(-1|[1-4])(MO|TU|WE|TH|FR|SA|SU)$/.test(k.BYDAY || '')) {
    const m = k.BYDAY.match(/^(-1|[1-4])(\w\w)$/);
    rec.freq = 'monthly';
    rec.monthMode = 'weekday';
    rec.nth = m[1];
    rec.weekday = m[2];
  } else if (k.FREQ === 'YEARLY' && only('FREQ', 'INTERVAL')) {
    rec.freq = 'yearly';
    rec.interval = interval;
  } else {
    rec.freq = 'custom';
  }
  if (s.count) {
    rec.ends = 'after';
    rec.count = String(s.count);
  } else if (s.end) {
    rec.ends = 'on';
    rec.until = endDate(s.end, s.tz);
  }
  return rec;
}
