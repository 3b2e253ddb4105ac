// The new / edit series wizard (#/new, #/series/ID/edit): the type, its parameters
// (a form generated from the type's schema and its manifest's form hints: label,
// description as help, widget, unit, group, hidden), a query over the type's
// queryable fields, the recurrence with a live preview computed by the server
// (POST /api/v1/preview), then a review.  The page checks what it can see (required,
// numbers, bounds, lengths, shapes) and the server checks everything again: the
// `field` of its problem+json puts its message next to the input it names.
import {h} from 'preact';
import {useState, useEffect, useRef} from 'preact/hooks';
import htm from 'htm';
import {request} from './api.js';
import {browserZone, todayIn, zoneLabel} from './time.js';
import {DAYS, FREQS, NTH, defaultRecurrence, checkRecurrence, toMembers, fromSeries} from './recurrence.js';

const html = htm.bind(h);

// ---- the parameters form ----

function widgetOf(d) {
  if (d.widget) return d.widget;
  if (d.type === 'bool') return 'checkbox';
  if (d.values) return 'select';
  if (d.type === 'json') return 'textarea';
  if (d.type === 'int' || d.type === 'number') return 'number';
  return 'text';
}

const PLACEHOLDER = {date: 'YYYY-MM-DD', datetime: 'YYYY-MM-DDTHH:MM:SSZ (UTC)', json: 'JSON, e.g. {"a": 1}'};

// the form's text of a stored value, and back
function textOf(d, v) {
  if (v === undefined || v === null) return d.type === 'bool' ? false : '';
  if (d.type === 'bool') return v === true;
  if (d.type === 'json') return JSON.stringify(v);
  return String(v);
}

function checkParam(d, v) {
  if (d.type === 'bool') return null;
  const s = String(v).trim();
  if (s === '') return d.required ? 'Required' : null;
  if (d.type === 'int' && !/^-?\d+$/.test(s)) return 'A whole number';
  if (d.type === 'number' && !/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return 'A number';
  if ((d.type === 'int' || d.type === 'number') && d.min !== undefined && Number(s) < d.min) return `At least ${d.min}`;
  if ((d.type === 'int' || d.type === 'number') && d.max !== undefined && Number(s) > d.max) return `At most ${d.max}`;
  if (d.max_length !== undefined && [...s].length > d.max_length) return `At most ${d.max_length} characters`;
  if (d.type === 'date' && !/^\d{4}-\d\d-\d\d$/.test(s)) return 'A date YYYY-MM-DD';
  if (d.type === 'datetime' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(s)) return 'A UTC time YYYY-MM-DDTHH:MM:SSZ';
  if (d.type === 'json') {
    try { JSON.parse(s); } catch { return 'Not valid JSON'; }
  }
  return null;
}

// the params member: what was filled in (empty: left to the default), as the API
// takes it (strings for numbers: the server converts and checks them)
function paramsOf(defs, values) {
  const out = {};
  for (const d of defs) {
    const v = values[d.name];
    if (d.type === 'bool') out[d.name] = !!v;
    else if (String(v ?? '').trim() === '') continue;
    else if (d.type === 'json') out[d.name] = JSON.parse(v);
    else out[d.name] = String(v).trim();
  }
  return out;
}

// An input's label, control, help and error, tied by ids for assistive technology.
function Field({id, label, help, error, required, children, wide}) {
  const described = [help && `${id}-help`, error && `${id}-err`].filter(Boolean).join(' ') || undefined;
  return html`<div class=${`field ${wide ? 'field-wide' : ''} ${error ? 'has-error' : ''}`}>
    <label for=${id}>${label}${required && html`<span class="req" aria-hidden="true"> *</span>`}</label>
    ${children(described)}
    ${help && html`<p class="help" id=${`${id}-help`}>${help}</p>`}
    ${error && html`<p class="field-error" id=${`${id}-err`}>${error}</p>`}
  </div>`;
}

function ParamInput({d, value, error, onChange}) {
  const id = `p-${d.name}`;
  const w = widgetOf(d);
  const common = {id, name: d.name, 'data-field': `params.${d.name}`, 'aria-invalid': error ? 'true' : undefined};
  const label = d.label || d.name;
  if (w === 'checkbox') {
    return html`<div class=${`field field-check ${error ? 'has-error' : ''}`}>
      <label class="check"><input type="checkbox" ...${common} checked=${!!value}
        aria-describedby=${d.description ? `${id}-help` : undefined}
        onChange=${(e) => onChange(e.target.checked)} /> ${label}</label>
      ${d.description && html`<p class="help" id=${`${id}-help`}>${d.description}</p>`}
      ${error && html`<p class="field-error">${error}</p>`}
    </div>`;
  }
  if (w === 'radio') {
    return html`<fieldset class=${`field field-radio ${error ? 'has-error' : ''}`} data-field=${`params.${d.name}`}
      aria-describedby=${[d.description && `${id}-help`, error && `${id}-err`].filter(Boolean).join(' ') || undefined}>
      <legend>${label}${d.required && html`<span class="req" aria-hidden="true"> *</span>`}</legend>
      ${d.values.map((v, i) => html`<label class="check"><input type="radio" name=${d.name} id=${i === 0 ? id : undefined}
        value=${String(v)} checked=${String(value) === String(v)} onChange=${() => onChange(String(v))} /> ${String(v)}</label>`)}
      ${d.description && html`<p class="help" id=${`${id}-help`}>${d.description}</p>`}
      ${error && html`<p class="field-error" id=${`${id}-err`}>${error}</p>`}
    </fieldset>`;
  }
  const help = d.description || (d.default !== undefined ? `Default: ${textOf(d, d.default)}` : null);
  return html`<${Field} id=${id} label=${label} help=${help} error=${error} required=${d.required}
    wide=${w === 'textarea'}>${(described) => {
    const props = {...common, 'aria-describedby': described, 'aria-required': d.required ? 'true' : undefined};
    if (w === 'textarea')
      return html`<textarea ...${props} rows="4" value=${value} placeholder=${PLACEHOLDER[d.type]}
        onInput=${(e) => onChange(e.target.value)} />`;
    if (w === 'select')
      return html`<select ...${props} value=${value} onChange=${(e) => onChange(e.target.value)}>
        <option value="">${d.required ? 'Choose…' : d.default !== undefined ? `Default (${textOf(d, d.default)})` : '—'}</option>
        ${d.values.map((v) => html`<option value=${String(v)}>${String(v)}</option>`)}
      </select>`;
    const input = html`<input ...${props} type=${w === 'date' ? 'date' : 'text'}
      inputmode=${w === 'number' ? (d.type === 'int' ? 'numeric' : 'decimal') : undefined}
      maxlength=${d.max_length} placeholder=${w === 'date' ? undefined : PLACEHOLDER[d.type]}
      value=${value} onInput=${(e) => onChange(e.target.value)} />`;
    return d.unit ? html`<div class="with-unit">${input}<span class="unit">${d.unit}</span></div>` : input;
  }}<//>`;
}

// consecutive parameters of one group under its heading
function groups(defs) {
  const out = [];
  for (const d of defs) {
    const last = out[out.length - 1];
    if (last && last.name === (d.group || null)) last.defs.push(d);
    else out.push({name: d.group || null, defs: [d]});
  }
  return out;
}

// ---- the query builder ----

const OPS = {
  string: ['=', '!=', 'contains', 'in', '<', '<=', '>', '>=', 'between'],
  int: ['=', '!=', '<', '<=', '>', '>=', 'in', 'between'],
  number: ['=', '!=', '<', '<=', '>', '>=', 'in', 'between'],
  date: ['=', '!=', '<', '<=', '>', '>=', 'in', 'between'],
  datetime: ['=', '!=', '<', '<=', '>', '>=', 'in', 'between'],
  enum: ['=', '!=', 'in'],
  bool: ['=', '!='],
};

function condValue(f, op, text) {
  const one = (s) => {
    s = s.trim();
    if (f.type === 'int' || f.type === 'number') return s === '' || isNaN(Number(s)) ? s : Number(s);
    if (f.type === 'bool') return s === 'true';
    return s;
  };
  if (op === 'in' || op === 'between') return text.split(',').map(one);
  return one(text);
}

// the query member of the builder's conditions: null, one condition, or an and / or
function queryOf(fields, q) {
  if (q.raw !== null) return q.raw.trim() === '' ? null : q.raw.trim();
  const conds = q.conds.filter((c) => c.field).map((c) => {
    const f = fields.find((x) => x.name === c.field);
    return {field: c.field, op: c.op, value: condValue(f, c.op, c.value)};
  });
  if (conds.length === 0) return null;
  if (conds.length === 1) return conds[0];
  return {[q.join]: conds};
}

// the builder's state of a stored query (its JSON form); one it cannot show is raw text
function queryState(stored) {
  const empty = {join: 'and', conds: [], raw: null};
  if (!stored) return empty;
  const q = typeof stored === 'string' ? JSON.parse(stored) : stored;
  const cond = (c) => c && c.field && !Array.isArray(c.value) ? {field: c.field, op: c.op, value: String(c.value)}
    : c && c.field ? {field: c.field, op: c.op, value: c.value.map(String).join(', ')} : null;
  const list = q.and || q.or;
  const conds = list ? list.map(cond) : [cond(q)];
  if (conds.some((c) => !c)) return {...empty, raw: JSON.stringify(q)};
  return {join: q.or ? 'or' : 'and', conds, raw: null};
}

function QueryBuilder({fields, q, setQ, error}) {
  const set = (i, patch) => setQ({...q, conds: q.conds.map((c, j) => (j === i ? {...c, ...patch} : c))});
  if (q.raw !== null)
    return html`<${Field} id="q-raw" label="Query" error=${error} wide
      help="A query in text or JSON form (docs: queries), e.g. region = &quot;eu&quot;">${(described) =>
      html`<textarea id="q-raw" data-field="query" rows="3" aria-describedby=${described} value=${q.raw}
        onInput=${(e) => setQ({...q, raw: e.target.value})} />`}<//>`;
  return html`<fieldset class="query" data-field="query" aria-describedby=${error ? 'q-err' : undefined}>
    <legend>Query <span class="muted small">which items each run processes</span></legend>
    ${q.conds.length > 1 && html`<label class="inline" for="q-join">Match
      <select id="q-join" value=${q.join} onChange=${(e) => setQ({...q, join: e.target.value})}>
        <option value="and">all of these</option><option value="or">any of these</option>
      </select></label>`}
    ${q.conds.length === 0 && html`<p class="muted">No condition: every item.</p>`}
    ${q.conds.map((c, i) => {
      const f = fields.find((x) => x.name === c.field) || fields[0];
      const ops = OPS[f.type] || OPS.string;
      return html`<div class="cond" key=${i}>
        <select aria-label=${`Condition ${i + 1}: field`} value=${c.field}
          onChange=${(e) => set(i, {field: e.target.value, op: '=', value: ''})}>
          ${fields.map((x) => html`<option value=${x.name}>${x.name}</option>`)}
        </select>
        <select aria-label=${`Condition ${i + 1}: operator`} value=${c.op} onChange=${(e) => set(i, {op: e.target.value})}>
          ${ops.map((o) => html`<option value=${o}>${o}</option>`)}
        </select>
        ${f.values && (c.op === '=' || c.op === '!=')
          ? html`<select aria-label=${`Condition ${i + 1}: value`} value=${c.value} onChange=${(e) => set(i, {value: e.target.value})}>
              <option value="">Choose…</option>${f.values.map((v) => html`<option value=${String(v)}>${String(v)}</option>`)}</select>`
          : html`<input aria-label=${`Condition ${i + 1}: value`} value=${c.value}
              placeholder=${c.op === 'in' ? 'a, b, c' : c.op === 'between' ? 'low, high' : f.type}
              onInput=${(e) => set(i, {value: e.target.value})} />`}
        <button type="button" class="btn btn-small btn-ghost" aria-label=${`Remove condition ${i + 1}`}
          onClick=${() => setQ({...q, conds: q.conds.filter((_, j) => j !== i)})}>Remove</button>
      </div>`;
    })}
    <div class="row-actions">
      <button type="button" class="btn btn-small"
        onClick=${() => setQ({...q, conds: [...q.conds, {field: fields[0].name, op: '=', value: ''}]})}>Add condition</button>
      <button type="button" class="linkish small" onClick=${() => setQ({...q, raw: JSON.stringify(queryOf(fields, q) || '')
        .replace(/^""$/, '')})}>Edit as text</button>
    </div>
    ${error && html`<p class="field-error" id="q-err">${error}</p>`}
  </fieldset>`;
}

// ---- the recurrence editor and its preview ----

let zones = null;
function zoneList() {
  if (!zones) {
    zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    if (!zones.includes('UTC')) zones = ['UTC', ...zones];
  }
  return zones;
}

function RecurrenceEditor({rec, setRec, errors}) {
  const set = (patch) => setRec({...rec, ...patch});
  const err = (k) => errors[k];
  const num = (key, label, unit) => html`<${Field} id=${`r-${key}`} label=${label} error=${err(key)}>${(described) =>
    html`<div class="with-unit"><input id=${`r-${key}`} data-field=${key} inputmode="numeric" class="narrow"
      aria-describedby=${described} aria-invalid=${err(key) ? 'true' : undefined} value=${rec[key]}
      onInput=${(e) => set({[key]: e.target.value})} />${unit && html`<span class="unit">${unit}</span>`}</div>`}<//>`;
  const unit = {minutes: 'minutes', hours: 'hours', daily: 'days', weekly: 'weeks', yearly: 'years'}[rec.freq];
  return html`<div class="rec">
    <${Field} id="r-freq" label="Repeats" error=${err('schedule') && rec.freq !== 'custom' ? err('schedule') : null}>${(described) =>
      html`<select id="r-freq" data-field=${rec.freq === 'custom' ? undefined : 'schedule'} aria-describedby=${described}
        value=${rec.freq} onChange=${(e) => set({freq: e.target.value})}>
        ${FREQS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>`}<//>
    ${rec.freq === 'custom' && html`<${Field} id="r-custom" label="Schedule" error=${err('schedule')} wide
      help="RRULE:FREQ=…, cron:<5 or 6 fields> or every:<duration> (docs: schedules)">${(described) =>
      html`<input id="r-custom" data-field="schedule" class="mono" aria-describedby=${described}
        aria-invalid=${err('schedule') ? 'true' : undefined} value=${rec.custom} spellcheck="false"
        onInput=${(e) => set({custom: e.target.value})} />`}<//>`}
    ${unit && num('interval', 'Every', unit)}
    <${Field} id="r-start" label=${rec.freq === 'once' ? 'At' : rec.freq === 'minutes' || rec.freq === 'hours' ? 'Starting at'
      : rec.freq === 'custom' ? 'Start (optional)' : 'First time'} error=${err('start')}
      help=${rec.freq === 'custom' ? 'DTSTART of an RRULE, earliest time of a cron, anchor of an interval' :
        ['daily', 'weekly', 'monthly', 'yearly'].includes(rec.freq) ? 'Its time of day is the time of every occurrence' : null}>${(described) =>
      html`<input id="r-start" data-field="start" type="datetime-local" aria-describedby=${described}
        aria-invalid=${err('start') ? 'true' : undefined} value=${rec.start} onInput=${(e) => set({start: e.target.value})} />`}<//>
    ${rec.freq === 'weekly' && html`<fieldset class="field field-wide days" data-field="days"
      aria-describedby=${err('days') ? 'r-days-err' : undefined}>
      <legend>On</legend>
      <div class="day-chips">${DAYS.map(([v, long, short]) => html`<label class="day">
        <input type="checkbox" checked=${rec.days.includes(v)} aria-label=${long}
          onChange=${(e) => set({days: e.target.checked ? [...rec.days, v] : rec.days.filter((d) => d !== v)})} />
        <span aria-hidden="true">${short}</span></label>`)}</div>
      ${err('days') && html`<p class="field-error" id="r-days-err">${err('days')}</p>`}
    </fieldset>`}
    ${rec.freq === 'monthly' && html`<fieldset class="field field-wide">
      <legend>On</legend>
      <label class="check"><input type="radio" name="r-month" checked=${rec.monthMode === 'day'}
        onChange=${() => set({monthMode: 'day'})} /> Day of the month</label>
      ${rec.monthMode === 'day' && num('monthDay', 'Day', null)}
      <label class="check"><input type="radio" name="r-month" checked=${rec.monthMode === 'weekday'}
        onChange=${() => set({monthMode: 'weekday'})} /> A weekday of the month</label>
      ${rec.monthMode === 'weekday' && html`<div class="inline-row">
        <select aria-label="Which" value=${rec.nth} onChange=${(e) => set({nth: e.target.value})}>
          ${NTH.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>
        <select aria-label="Weekday" value=${rec.weekday} onChange=${(e) => set({weekday: e.target.value})}>
          ${DAYS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>
      </div>`}
    </fieldset>`}
    ${rec.freq === 'yearly' && html`<p class="help field-wide">Every year on the day and at the time of the first time.</p>`}
    ${rec.freq !== 'once' && html`<fieldset class="field field-wide ends">
      <legend>Ends</legend>
      ${[['never', 'Never'], ['after', 'After a number of times'], ['on', 'On a date']].map(([v, l]) =>
        html`<label class="check"><input type="radio" name="r-ends" value=${v} checked=${rec.ends === v}
          onChange=${() => set({ends: v})} /> ${l}</label>`)}
      ${rec.ends === 'after' && num('count', 'Times', 'occurrences')}
      ${rec.ends === 'on' && html`<${Field} id="r-end" label="Last day" error=${err('end')}
        help=${`Through the end of that day in ${rec.tz || 'the zone'}`}>${(described) =>
        html`<input id="r-end" data-field="end" type="date" aria-describedby=${described}
          aria-invalid=${err('end') ? 'true' : undefined} value=${rec.until} onInput=${(e) => set({until: e.target.value})} />`}<//>`}
      ${err('count') && rec.ends !== 'after' && html`<p class="field-error">${err('count')}</p>`}
    </fieldset>`}
    <${Field} id="r-tz" label="Time zone" error=${err('tz')} help="IANA name, e.g. Europe/Paris">${(described) =>
      html`<input id="r-tz" data-field="tz" list="r-zones" autocomplete="off" spellcheck="false"
        aria-describedby=${described} aria-invalid=${err('tz') ? 'true' : undefined} value=${rec.tz}
        onInput=${(e) => set({tz: e.target.value})} />
      <datalist id="r-zones">${zoneList().map((z) => html`<option value=${z} />`)}</datalist>`}<//>
  </div>`;
}

const weekday = new Intl.DateTimeFormat(undefined, {weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
  timeZone: 'UTC'});

// "2027-03-25T09:00:00+01:00" (the server's wall time in the series' zone) as
// ["Thu 25 Mar 2027", "09:00", "+01:00"]: text only, no zone arithmetic here
function wall(local) {
  const m = local.match(/^(\d{4})-(\d\d)-(\d\d)T(\d\d:\d\d)(:\d\d)?([+-]\d\d:\d\d(?::\d\d)?)$/);
  if (!m) return [local, '', ''];
  return [weekday.format(new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]))), m[4], m[6]];
}

function Preview({state}) {
  return html`<section class="preview card" aria-labelledby="pv-h" aria-live="polite" aria-busy=${state.busy ? 'true' : 'false'}>
    <h3 id="pv-h">Next occurrences</h3>
    ${state.text && html`<p class="pv-text">${state.text}</p>`}
    ${state.error && html`<p class="muted">${state.error}</p>`}
    ${state.items && state.items.length === 0 && html`<p class="muted">None: the schedule has no occurrence from now on.</p>`}
    ${state.items && state.items.length > 0 && html`<ol class="pv-list">
      ${state.items.map((it) => {
        const [d, t, off] = wall(it.local);
        return html`<li><span class="pv-day">${d}</span><span class="pv-time">${t}</span>
          <span class="muted small">UTC${off === '+00:00' ? '' : off}</span></li>`;
      })}
    </ol>`}
    <p class="muted small">Computed by the server, in ${zoneLabel(state.tz || 'UTC')}.</p>
  </section>`;
}

// ---- the wizard ----

const SCHEDULE_FIELDS = ['schedule', 'tz', 'start', 'end', 'count', 'policy'];

function stepOfField(field) {
  if (!field) return null;
  if (field === 'type') return 'type';
  if (field === 'title' || field.startsWith('params') || field.startsWith('query')) return 'params';
  if (SCHEDULE_FIELDS.some((f) => field === f || field.startsWith(`${f}.`))) return 'schedule';
  return null;
}

// the server's message without the field it names, which the input's label says
function bare(field, msg) {
  return msg.startsWith(`${field}: `) ? msg.slice(field.length + 2) : msg;
}

function endDate(instant, tz) {
  const p = new Intl.DateTimeFormat('en-CA', {timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit'})
    .formatToParts(new Date(instant));
  const g = (t) => p.find((x) => x.type === t).value;
  return `${g('year')}-${g('month')}-${g('day')}`;
}

export function Wizard({id, go, toast}) {
  const editing = !!id;
  const steps = editing ? ['params', 'schedule', 'review'] : ['type', 'params', 'schedule', 'review'];
  const LABEL = {type: 'Type', params: 'Parameters', schedule: 'Schedule', review: 'Review'};
  const [step, setStep] = useState(steps[0]);
  const [types, setTypes] = useState(null);
  const [typeName, setTypeName] = useState('');
  const [type, setType] = useState(null);
  const [series, setSeries] = useState(null);
  const [title, setTitle] = useState('');
  const [values, setValues] = useState({});
  const [q, setQ] = useState({join: 'and', conds: [], raw: null});
  const [rec, setRec] = useState(() => defaultRecurrence(browserZone(), todayIn(browserZone())));
  const [errors, setErrors] = useState({});
  const [banner, setBanner] = useState(null);
  const [preview, setPreview] = useState({});
  const [busy, setBusy] = useState(false);
  const [moved, setMoved] = useState(0);
  const heading = useRef(null);
  const focusField = useRef(null);

  // load: the scheduled types (new) or the series and its type (edit)
  useEffect(() => {
    (async () => {
      try {
        if (editing) {
          const s = await request('GET', `/api/v1/series/${id}`);
          const t = await request('GET', `/api/v1/types/${encodeURIComponent(s.type)}`);
          setSeries(s);
          setTypeName(s.type);
          setType(t);
          setTitle(s.title || '');
          setValues(Object.fromEntries(t.params.map((d) => [d.name, textOf(d, s.params[d.name])])));
          setQ(queryState(s.query));
          setRec(fromSeries(s, defaultRecurrence(s.tz, todayIn(browserZone())), endDate));
        } else {
          const all = await request('GET', '/api/v1/types');
          setTypes(all.items.filter((t) => t.kind !== 'background'));
        }
      } catch (e) {
        setBanner(e.message);
      }
    })();
  }, [id]);

  // a new type: its form, empty (defaults are shown, sent only when changed)
  const chooseType = (name) => {
    const t = types.find((x) => x.name === name);
    setTypeName(name);
    setType(t);
    setValues(Object.fromEntries(t.params.map((d) => [d.name, d.type === 'bool' ? d.default === true : ''])));
    setQ({join: 'and', conds: [], raw: null});
    setErrors({});
  };

  // the live preview: debounced, the members as they would be sent
  useEffect(() => {
    if (step !== 'schedule' && step !== 'review') return;
    const local = checkRecurrence(rec);
    const members = toMembers(rec);
    if (Object.keys(local).length) {
      setPreview({tz: members.tz, error: 'Complete the schedule to see its occurrences.'});
      return;
    }
    let live = true;
    setPreview((p) => ({...p, busy: true}));
    const t = setTimeout(async () => {
      try {
        const r = await request('POST', '/api/v1/preview', {body: {...members, type: typeName || null, limit: 8}});
        if (!live) return;
        setPreview({tz: r.tz, text: r.schedule_text, items: r.items});
        setErrors((e) => Object.fromEntries(Object.entries(e).filter(([k]) => stepOfField(k) !== 'schedule')));
      } catch (e) {
        if (!live) return;
        if (stepOfField(e.field) === 'schedule') {
          setErrors((x) => ({...x, [e.field.split('.')[0]]: bare(e.field, e.message)}));
          setPreview({tz: members.tz, error: 'The schedule has a problem: see above.'});
        } else {
          setPreview({tz: members.tz, error: e.message});
        }
      }
    }, 350);
    return () => { live = false; clearTimeout(t); };
  }, [rec, step, typeName]);

  // after goStep (not while typing): the focus to the error to fix, else to the step's heading
  useEffect(() => {
    if (!moved) return;
    const f = focusField.current;
    focusField.current = null;
    const el = f && (document.querySelector(`[data-field="${CSS.escape(f)}"]`) ||
      document.querySelector(`[data-field="${CSS.escape(f.split('.')[0])}"]`));
    if (el) (el.matches('fieldset') ? el.querySelector('input,select,textarea,button') || el : el).focus();
    else heading.current?.focus();
  }, [moved]);

  const defs = type ? type.params.filter((d) => !d.hidden) : [];
  const fields = type ? type.query_fields || [] : [];

  const checkStep = (s) => {
    const e = {};
    if (s === 'type' && !typeName) e.type = 'Choose the type of process';
    if (s === 'params') {
      if ([...title].length > 200) e.title = 'At most 200 characters';
      for (const d of defs) {
        const m = checkParam(d, values[d.name] ?? '');
        if (m) e[`params.${d.name}`] = m;
      }
    }
    if (s === 'schedule') Object.assign(e, checkRecurrence(rec));
    return e;
  };

  const goStep = (s, err = {}) => {
    const first = Object.keys(err)[0];
    focusField.current = first || null;
    setErrors(err);
    setStep(s);
    setMoved((n) => n + 1);
  };

  const next = (e) => {
    e.preventDefault();
    const err = checkStep(step);
    if (Object.keys(err).length) {
      goStep(step, err);
      return;
    }
    // a schedule the server refused keeps the step open
    const kept = Object.fromEntries(Object.entries(errors).filter(([k]) => stepOfField(k) === step));
    if (step === 'schedule' && Object.keys(kept).length) {
      goStep(step, kept);
      return;
    }
    goStep(steps[steps.indexOf(step) + 1]);
  };

  const body = () => {
    const b = {title: title.trim() || null, params: paramsOf(defs, values), ...toMembers(rec)};
    const query = fields.length ? queryOf(fields, q) : null;
    if (fields.length || (series && series.query)) b.query = query;
    return b;
  };

  const save = async (e) => {
    e.preventDefault();
    for (const s of steps.slice(0, -1)) {
      const err = checkStep(s);
      if (Object.keys(err).length) return goStep(s, err);
    }
    setBusy(true);
    setBanner(null);
    try {
      if (editing) {
        // the version read is the edit's base (the body's alternative to If-Match):
        // a change made meanwhile answers 412 rather than being overwritten
        const s = await request('PATCH', `/api/v1/series/${id}`, {body: {...body(), version: series.version}});
        toast({text: `Saved “${s.title}”.`});
        go('/', {series: s.id});
      } else {
        const s = await request('POST', '/api/v1/series', {body: {type: typeName, ...body()}});
        toast({text: `Created “${s.title}”.`});
        go('/', {series: s.id});
      }
    } catch (err) {
      const where = stepOfField(err.field);
      if (where) goStep(where, {[err.field]: bare(err.field, err.message)});
      else setBanner(err.status === 412 ? 'The series was changed meanwhile: reload it and edit again.' : err.message);
    } finally {
      setBusy(false);
    }
  };

  const idx = steps.indexOf(step);
  const last = step === 'review';
  return html`<main class="page page-wizard">
    <div class="crumbs"><a href="#/">Process automation</a> / ${editing ? `Edit series #${id}` : 'New series'}</div>
    <h1>${editing ? `Edit “${series ? series.title : '…'}”` : 'New series'}</h1>
    <nav aria-label="Steps"><ol class="steps">
      ${steps.map((s, i) => html`<li class=${s === step ? 'current' : i < idx ? 'done' : ''}>
        <button type="button" class="step" aria-current=${s === step ? 'step' : undefined} disabled=${i > idx}
          onClick=${() => goStep(s)}><span class="num" aria-hidden="true">${i + 1}</span>${LABEL[s]}</button></li>`)}
    </ol></nav>
    ${banner && html`<p class="banner banner-error" role="alert">${banner}</p>`}
    <form class="card wizard-step" onSubmit=${last ? save : next} noValidate>
      <h2 ref=${heading} tabIndex="-1">${LABEL[step]}${typeName && step !== 'type' ? html` <span class="muted small type">${typeName}</span>` : ''}</h2>
      ${step === 'type' && html`${!types && !banner && html`<p class="muted">Loading…</p>`}
        ${types && html`<fieldset class="types" data-field="type" aria-describedby=${errors.type ? 'type-err' : undefined}>
          <legend class="sr-only">Process type</legend>
          ${types.map((t) => html`<label class=${`type-card ${t.name === typeName ? 'chosen' : ''}`}>
            <input type="radio" name="type" value=${t.name} checked=${t.name === typeName} onChange=${() => chooseType(t.name)} />
            <span class="tc-title">${t.title}</span><span class="tc-name type">${t.name}</span>
            ${t.description && html`<span class="tc-desc muted">${t.description}</span>`}
          </label>`)}
          ${types.length === 0 && html`<p class="muted">No scheduled process type is registered.</p>`}
          ${errors.type && html`<p class="field-error" id="type-err">${errors.type}</p>`}
        </fieldset>`}`}
      ${step === 'params' && type && html`<div class="form-grid">
        <${Field} id="s-title" label="Title" error=${errors.title} help=${`Default: ${type.title}`}>${(described) =>
          html`<input id="s-title" data-field="title" maxlength="200" aria-describedby=${described} value=${title}
            placeholder=${type.title} onInput=${(e) => setTitle(e.target.value)} />`}<//>
        ${groups(defs).map((g) => g.name ? html`<fieldset class="group field-wide"><legend>${g.name}</legend>
          <div class="form-grid">${g.defs.map((d) => html`<${ParamInput} key=${d.name} d=${d} value=${values[d.name] ?? ''}
            error=${errors[`params.${d.name}`]} onChange=${(v) => setValues({...values, [d.name]: v})} />`)}</div></fieldset>`
          : g.defs.map((d) => html`<${ParamInput} key=${d.name} d=${d} value=${values[d.name] ?? ''}
            error=${errors[`params.${d.name}`]} onChange=${(v) => setValues({...values, [d.name]: v})} />`))}
        ${defs.length === 0 && html`<p class="muted field-wide">This type takes no parameters.</p>`}
        ${errors.params && html`<p class="field-error field-wide" data-field="params">${errors.params}</p>`}
        ${fields.length > 0 && html`<div class="field-wide"><${QueryBuilder} fields=${fields} q=${q} setQ=${setQ}
          error=${Object.entries(errors).find(([k]) => k.startsWith('query'))?.[1]} /></div>`}
      </div>`}
      ${step === 'schedule' && html`<div class="sched-grid">
        <${RecurrenceEditor} rec=${rec} setRec=${setRec} errors=${errors} />
        <${Preview} state=${preview} />
      </div>`}
      ${step === 'review' && html`<div class="sched-grid">
        <dl class="kv review">
          <dt>Type</dt><dd>${type ? type.title : ''} <span class="muted type">${typeName}</span></dd>
          <dt>Title</dt><dd>${title.trim() || (type && type.title)}</dd>
          <dt>Parameters</dt><dd>${defs.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="plain">
            ${defs.map((d) => html`<li><span class="muted">${d.label || d.name}:</span> ${String(values[d.name] ?? '') === ''
              ? html`<span class="muted">${d.default !== undefined ? `default (${textOf(d, d.default)})` : '—'}</span>`
              : `${textOf(d, values[d.name])}${d.unit ? ` ${d.unit}` : ''}`}</li>`)}</ul>`}</dd>
          ${fields.length > 0 && html`<dt>Query</dt><dd><code>${JSON.stringify(queryOf(fields, q)) ?? 'every item'}</code></dd>`}
          <dt>Schedule</dt><dd>${preview.text || toMembers(rec).schedule}<div class="sub"><code>${toMembers(rec).schedule}</code></div></dd>
          <dt>Time zone</dt><dd>${rec.tz}</dd>
        </dl>
        <${Preview} state=${preview} />
      </div>`}
      <div class="wizard-actions">
        <a class="btn btn-ghost" href=${editing ? `#/?series=${id}` : '#/'}>Cancel</a>
        <span class="spacer"></span>
        ${idx > 0 && html`<button type="button" class="btn" onClick=${() => goStep(steps[idx - 1])}>Back</button>`}
        <button type="submit" class="btn btn-primary" disabled=${busy || (step === 'params' && !type)}>
          ${last ? (editing ? 'Save changes' : 'Create series') : 'Next'}</button>
      </div>
    </form>
  </main>`;
}
