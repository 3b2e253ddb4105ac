// The web UI: a hash-routed single page (Preact with htm, no compile step but
// esbuild's bundling).  Every credential goes through api.js; every time is shown
// in the zone chosen in the header and labelled with it; no recurrence logic here:
// the server computes schedules, next runs and the calendar.
import {h, render} from 'preact';
import {useState, useEffect, useRef, useCallback} from 'preact/hooks';
import htm from 'htm';
import {request, currentSession, logOut} from './api.js';
import {SignIn, ForcedPasswordChange, ForcedTotp, ProfilePage} from './account.js';
import {WeekCalendar} from './calendar.js';
import {Wizard} from './wizard.js';
import {fmtTime, browserZone, zoneLabel} from './time.js';

const html = htm.bind(h);

// ---- the URL: #/path?query, so that a view, its filters and week can be linked ----

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return {path: path || '/', params: Object.fromEntries(new URLSearchParams(qs || ''))};
}

function hashOf(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return `#${path}${s ? '?' + s : ''}`;
}

function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const go = useCallback((path, params, replace) => {
    const next = hashOf(path, params || {});
    if (replace) history.replaceState(null, '', next);
    else history.pushState(null, '', next);
    setRoute(parseHash());
  }, []);
  return [route, go];
}

// ---- preferences: theme (system, light, dark) and zone (browser, UTC, series) ----

const media = window.matchMedia('(prefers-color-scheme: dark)');

function applyTheme(pref) {
  const dark = pref === 'dark' || (pref !== 'light' && media.matches);
  document.documentElement.setAttribute('data-color-scheme', dark ? 'dark' : 'light');
}

function usePref(key, initial) {
  const [v, setV] = useState(localStorage.getItem(key) || initial);
  const set = (x) => {
    localStorage.setItem(key, x);
    setV(x);
  };
  return [v, set];
}

// ---- small pieces ----

const STATE_LABEL = {
  succeeded: 'Succeeded', failed: 'Failed', running: 'Running', queued: 'Queued', lost: 'Lost',
  cancelled: 'Cancelled',
};

function Badge({state, children}) {
  return html`<span class=${`badge badge-${state}`}>${children || STATE_LABEL[state] || state}</span>`;
}

// a <dialog>'s ref, shown as a modal while `open`
function useModal(open) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return ref;
}

function Confirm({open, title, body, action, danger, onConfirm, onCancel}) {
  const ref = useModal(open);
  return html`<dialog ref=${ref} class="dialog" onCancel=${(e) => { e.preventDefault(); onCancel(); }}>
    <h2>${title}</h2>
    <p>${body}</p>
    <div class="dialog-actions">
      <button type="button" class="btn" onClick=${onCancel}>Cancel</button>
      <button type="button" class=${danger ? 'btn btn-danger' : 'btn btn-primary'} onClick=${onConfirm}>${action}</button>
    </div>
  </dialog>`;
}

function Toast({msg, onDone}) {
  useEffect(() => {
    if (!msg) return;
    const t = setTimeout(onDone, 4000);
    return () => clearTimeout(t);
  }, [msg]);
  if (!msg) return null;
  return html`<div class=${`toast ${msg.error ? 'toast-error' : ''}`} role="status">${msg.text}</div>`;
}

// ---- keyboard: `?` lists the shortcuts; none of them while typing or in a dialog ----

function typing(e) {
  const el = document.activeElement;
  const tag = el ? el.tagName : '';
  return e.ctrlKey || e.metaKey || e.altKey || tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' ||
    (el && el.isContentEditable) || !!document.querySelector('dialog[open]');
}

const SHORTCUTS = [
  ['?', 'Show this list'],
  ['/', 'Search the series'],
  ['j', 'Next series in the list (its week on the calendar)'],
  ['k', 'Previous series in the list'],
  ['Esc', 'Clear the selection'],
  ['n', 'New series'],
  ['g then r', 'Go to the runs'],
  ['g then p', 'Go to the process automation page'],
];

function Shortcuts({open, onClose}) {
  const ref = useModal(open);
  return html`<dialog ref=${ref} class="dialog" aria-labelledby="keys-h"
    onCancel=${(e) => { e.preventDefault(); onClose(); }}>
    <h2 id="keys-h">Keyboard shortcuts</h2>
    <dl class="kv keys">${SHORTCUTS.map(([k, what]) => html`<dt><kbd>${k}</kbd></dt><dd>${what}</dd>`)}</dl>
    <div class="dialog-actions"><button type="button" class="btn btn-primary" onClick=${onClose}>Close</button></div>
  </dialog>`;
}

// on: signed in and past the forced pages; edit: may create series
function useShortcuts(go, on, edit) {
  const [help, setHelp] = useState(false);
  const flags = useRef(null);
  flags.current = {on, edit};
  useEffect(() => {
    let g = false;
    const onKey = (e) => {
      if (!flags.current.on || typing(e)) return;
      if (g) {
        g = false;
        if (e.key === 'r') { e.preventDefault(); go('/runs', {}); }
        if (e.key === 'p') { e.preventDefault(); go('/', {}); }
        return;
      }
      if (e.key === '?') { e.preventDefault(); setHelp(true); }
      else if (e.key === 'g') g = true;
      else if (e.key === 'n' && flags.current.edit) { e.preventDefault(); go('/new', {}); }
    };
    const show = () => setHelp(true);
    window.addEventListener('keydown', onKey);
    window.addEventListener('sked-shortcuts', show);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('sked-shortcuts', show);
    };
  }, []);
  return html`<${Shortcuts} open=${help} onClose=${() => setHelp(false)} />`;
}

// ---- header ----

function Header({me, zone, setZone, theme, setTheme, route, onSignOut}) {
  const nextTheme = {system: 'light', light: 'dark', dark: 'system'}[theme] || 'system';
  const onList = route.path === '/';
  return html`<header class="topbar">
    <a class="brand" href="#/"><span class="logo" aria-hidden="true"></span>sked</a>
    <nav class="nav" aria-label="Main">
      <a href="#/" class=${onList ? 'active' : ''} aria-current=${onList ? 'page' : undefined}>Process automation</a>
      <a href="#/runs" class=${route.path.startsWith('/runs') ? 'active' : ''}>Runs</a>
    </nav>
    <div class="topbar-right">
      <label class="zone-switch">
        <span class="sr-only">Time zone</span>
        <select aria-label="Time zone" value=${zone} onChange=${(e) => setZone(e.target.value)}>
          <option value="browser">My zone (${browserZone()})</option>
          <option value="UTC">UTC</option>
          <option value="series">Series' zone</option>
        </select>
      </label>
      <button type="button" class="btn btn-ghost" title=${`Theme: ${theme} (click for ${nextTheme})`}
        aria-label=${`Theme: ${theme}`} onClick=${() => setTheme(nextTheme)}>
        <span class=${`theme-icon theme-${theme}`} aria-hidden="true"></span>
      </button>
      <button type="button" class="btn btn-ghost keys-btn" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts"
        onClick=${() => window.dispatchEvent(new Event('sked-shortcuts'))}>?</button>
      <a class=${`who ${route.path === '/profile' ? 'active' : ''}`} href="#/profile" title="Your profile">
        <span class="who-name">${me.user && me.user.display_name ? me.user.display_name : me.name}</span>
        <span class="role">${me.role}</span></a>
      <button type="button" class="btn btn-ghost" onClick=${onSignOut}>Sign out</button>
    </div>
  </header>`;
}

// ---- the process automation page: the series list beside the week calendar ----

// the schedule in words (the server's schedule_text) and its zone on a line of its own
function schedule(s) {
  const text = s.schedule_text || s.schedule;
  const tail = `, ${s.tz}`;
  return text.endsWith(tail) ? [text.slice(0, -tail.length), s.tz] : [text, s.background ? 'elapsed time' : s.tz];
}

function SeriesRow({s, last, selected, zone, canEdit, onSelect, onAction, picked, onPick}) {
  const tz = zone === 'series' ? s.tz : zone === 'UTC' ? 'UTC' : browserZone();
  const state = !s.feature_on ? 'feature-off' : s.enabled ? 'active' : 'paused';
  const [words, where] = schedule(s);
  return html`<tr class=${selected ? 'selected' : ''} data-series=${s.id} onClick=${() => onSelect(s.id)}>
    ${canEdit && html`<td class="pick" onClick=${(e) => e.stopPropagation()}>
      <input type="checkbox" aria-label=${`Select ${s.title}`} checked=${picked}
        onChange=${(e) => onPick(s.id, e.target.checked)} /></td>`}
    <td>
      <button type="button" class="linkish title" onClick=${(e) => { e.stopPropagation(); onSelect(s.id); }}>${s.title}</button>
      <div class="sub"><span class="type">${s.type}</span>${s.background ? html` · background` : ''}</div>
    </td>
    <td class="sched"><div>${words}</div><div class="sub">${where}</div></td>
    <td class="when">${s.next_due ? html`<time datetime=${s.next_due}>${fmtTime(s.next_due, tz, false, true)}</time>
        <div class="sub">${zoneLabel(tz)}</div>` : html`<span class="muted">—</span>`}</td>
    <td>${last ? html`<a href=${`#/runs/${last.id}`} onClick=${(e) => e.stopPropagation()}><${Badge} state=${last.state} /></a>`
        : html`<span class="muted">never ran</span>`}
      <div class="sub"><span class=${`state state-${state}`}>${{active: 'Active', paused: 'Paused', 'feature-off': 'Feature off'}[state]}</span></div></td>
    ${canEdit && html`<td class="actions" onClick=${(e) => e.stopPropagation()}>
      ${!s.background && html`<a class="btn btn-small" href=${`#/series/${s.id}/edit`} aria-label=${`Edit ${s.title}`}>Edit</a>`}
      <button type="button" class="btn btn-small" onClick=${() => onAction('trigger', s)} title="Queue one run now">Run now</button>
      <button type="button" class="btn btn-small" onClick=${() => onAction(s.enabled ? 'pause' : 'resume', s)}>${s.enabled ? 'Disable' : 'Enable'}</button>
      <button type="button" class="btn btn-small btn-danger-ghost" onClick=${() => onAction('delete', s)} aria-label=${`Delete ${s.title}`}>Delete</button>
    </td>`}
  </tr>`;
}

function matches(s, params) {
  const q = (params.q || '').toLowerCase();
  if (q && !`${s.id} ${s.title} ${s.type} ${s.schedule} ${s.owner || ''}`.toLowerCase().includes(q)) return false;
  if (params.type && s.type !== params.type) return false;
  if (params.state === 'active' && !(s.enabled && s.feature_on)) return false;
  if (params.state === 'paused' && s.enabled) return false;
  return true;
}

async function allSeries() {
  const out = [];
  let after = 0;
  for (let i = 0; i < 50; i++) {
    const page = await request('GET', '/api/v1/series', {query: {after, limit: 1000}});
    out.push(...page.items);
    if (!page.next) break;
    after = page.next;
  }
  return out;
}

async function lastRuns() {
  const page = await request('GET', '/api/v1/runs', {query: {limit: 1000}});
  const by = {};
  for (const r of page.items) if (r.series_id !== null && !by[r.series_id]) by[r.series_id] = r;
  return by;
}

// the bulk actions, by the route's verb, as their buttons say them
const BULK_VERBS = {pause: 'Disable', resume: 'Enable', trigger: 'Run now', delete: 'Delete'};

function SeriesPage({route, go, zone, toast, canEdit}) {
  const {params} = route;
  const [series, setSeries] = useState(null);
  const [last, setLast] = useState({});
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [tick, setTick] = useState(0);
  const search = useRef(null);

  useEffect(() => {
    let live = true;
    Promise.all([allSeries(), lastRuns()]).then(([s, l]) => {
      if (!live) return;
      setSeries(s);
      setLast(l);
    }).catch((e) => live && setError(e.message));
    return () => { live = false; };
  }, [tick]);

  const set = (k, v) => go('/', {...params, [k]: v}, true);
  const selected = params.series ? Number(params.series) : null;
  const selectedSeries = series && series.find((s) => s.id === selected);
  const shown = series ? series.filter((s) => matches(s, params)) : [];

  // `/` searches; j and k move the selection through the rows shown, Esc clears it
  const keys = useRef(null);
  keys.current = {shown, selected, set};
  useEffect(() => {
    const onKey = (e) => {
      if (typing(e)) return;
      const {shown: rows, selected: at, set: put} = keys.current;
      if (e.key === '/') {
        e.preventDefault();
        search.current?.focus();
      } else if ((e.key === 'j' || e.key === 'k') && rows.length) {
        e.preventDefault();
        const i = rows.findIndex((s) => s.id === at);
        const next = i < 0 ? (e.key === 'j' ? 0 : rows.length - 1)
          : Math.min(rows.length - 1, Math.max(0, i + (e.key === 'j' ? 1 : -1)));
        put('series', rows[next].id);
        document.querySelector(`tr[data-series="${rows[next].id}"]`)?.scrollIntoView({block: 'nearest'});
      } else if (e.key === 'Escape' && at) {
        put('series', '');
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  const types = series ? [...new Set(series.map((s) => s.type))].sort() : [];
  const calZone = zone === 'UTC' ? 'UTC' : zone === 'series' && selectedSeries ? selectedSeries.tz : browserZone();

  // bulk actions: on the rows picked, or on every series the filters match
  const [picked, setPicked] = useState(() => new Set());
  const [bulkBusy, setBulkBusy] = useState(false);
  const pick = (id, on) => setPicked((p) => {
    const n = new Set(p);
    if (on) n.add(id); else n.delete(id);
    return n;
  });
  const pickedShown = shown.filter((s) => picked.has(s.id));
  const allPicked = shown.length > 0 && pickedShown.length === shown.length;
  const bulk = (what, targets) => {
    const verb = BULK_VERBS[what];
    const done = {pause: 'Disabled', resume: 'Enabled', trigger: 'Queued a run of', delete: 'Deleted'}[what];
    setConfirm({
      title: `${verb}: ${targets.length} series?`, action: `${verb} ${targets.length}`, danger: what === 'delete',
      body: what === 'delete'
        ? 'Their plans, one-off changes and queued runs go; finished runs stay as history. This cannot be undone.'
        : `${targets.slice(0, 5).map((t) => `“${t.title}”`).join(', ')}${targets.length > 5 ? ` and ${targets.length - 5} more` : ''}.`,
      run: async () => {
        setBulkBusy(true);
        const failed = [];
        let ok = 0;
        const queue = [...targets];
        const one = async () => {
          for (let t = queue.shift(); t; t = queue.shift()) {
            try {
              if (what === 'delete') await request('DELETE', `/api/v1/series/${t.id}`);
              else await request('POST', `/api/v1/series/${t.id}/${what}`);
              ok++;
            } catch (e) {
              failed.push(`${t.title}: ${e.message}`);
            }
          }
        };
        await Promise.all([one(), one(), one(), one()]); // four at a time
        setBulkBusy(false);
        setPicked(new Set());
        toast({text: `${done} ${ok} of ${targets.length} series.${failed.length ? ` Refused: ${failed.slice(0, 3).join('; ')}${failed.length > 3 ? ` and ${failed.length - 3} more` : ''}` : ''}`,
          error: failed.length > 0});
      },
    });
  };

  const act = async (what, s) => {
    if (what === 'delete') {
      setConfirm({
        title: `Delete “${s.title}”?`, action: 'Delete series', danger: true,
        body: 'Its plan, one-off changes and queued runs go; finished runs stay as history. This cannot be undone.',
        run: async () => {
          await request('DELETE', `/api/v1/series/${s.id}`);
          toast({text: `Deleted “${s.title}”.`});
          if (selected === s.id) set('series', '');
        },
      });
      return;
    }
    try {
      if (what === 'trigger') {
        const run = await request('POST', `/api/v1/series/${s.id}/trigger`);
        toast({text: `Queued run ${run.id} of “${s.title}”.`});
      } else {
        await request('POST', `/api/v1/series/${s.id}/${what}`);
        toast({text: `${what === 'pause' ? 'Disabled' : 'Enabled'} “${s.title}”.`});
      }
      setTick(tick + 1);
    } catch (e) {
      toast({text: e.message, error: true});
    }
  };

  return html`<main class="page page-split">
    <section class="pane pane-list" aria-labelledby="series-h">
      <div class="pane-head">
        <h1 id="series-h">Process automation</h1>
        <span class="count">${series ? `${shown.length} of ${series.length} series` : ''}</span>
        ${canEdit && html`<a class="btn btn-primary btn-small new-series" href="#/new">New series</a>`}
      </div>
      <div class="filters" role="search">
        <input ref=${search} type="search" class="search" placeholder="Search series  ( / )" aria-label="Search series"
          value=${params.q || ''} onInput=${(e) => set('q', e.target.value)} />
        <select aria-label="Type" value=${params.type || ''} onChange=${(e) => set('type', e.target.value)}>
          <option value="">All types</option>
          ${types.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
        <select aria-label="State" value=${params.state || ''} onChange=${(e) => set('state', e.target.value)}>
          <option value="">Any state</option>
          <option value="active">Active</option>
          <option value="paused">Paused</option>
        </select>
      </div>
      ${canEdit && series && html`<div class="bulk" role="toolbar" aria-label="Bulk actions">
        <span class="muted">${pickedShown.length ? `${pickedShown.length} selected` : `All ${shown.length} shown`}</span>
        ${Object.keys(BULK_VERBS).map((w) => html`<button type="button"
          class=${`btn btn-small ${w === 'delete' ? 'btn-danger-ghost' : ''}`} disabled=${bulkBusy || shown.length === 0}
          onClick=${() => bulk(w, pickedShown.length ? pickedShown : shown)}>${BULK_VERBS[w]}</button>`)}
        ${pickedShown.length > 0 && html`<button type="button" class="linkish" onClick=${() => setPicked(new Set())}>Clear the selection</button>`}
      </div>`}
      ${error && html`<p class="banner banner-error" role="alert">${error}</p>`}
      ${!series && !error && html`<p class="muted pad">Loading…</p>`}
      ${series && html`<div class="table-wrap"><table class="table" aria-label="Series">
        <thead><tr>${canEdit && html`<th class="pick"><input type="checkbox" aria-label="Select every series shown"
          checked=${allPicked} onChange=${(e) => setPicked(e.target.checked ? new Set(shown.map((s) => s.id)) : new Set())} /></th>`}<th>Series</th><th>Schedule</th><th>Next run</th><th>Last result</th>
          ${canEdit && html`<th><span class="sr-only">Actions</span></th>`}</tr></thead>
        <tbody>
          ${shown.map((s) => html`<${SeriesRow} key=${s.id} s=${s} last=${last[s.id]} zone=${zone}
            canEdit=${canEdit} picked=${picked.has(s.id)} onPick=${pick} selected=${s.id === selected} onSelect=${(id) => set('series', id === selected ? '' : id)} onAction=${act} />`)}
        </tbody>
      </table>
      ${shown.length === 0 && html`<p class="empty">No series match. <button type="button" class="linkish"
        onClick=${() => go('/', {series: params.series, week: params.week}, true)}>Clear the filters</button></p>`}
      </div>`}
    </section>
    <section class="pane pane-cal" aria-label="Week calendar">
      <${WeekCalendar} week=${params.week} setWeek=${(w) => set('week', w)} zone=${calZone}
        series=${selectedSeries} scheduled=${series ? series.filter((s) => !s.background).map((s) => s.id) : null}
        toast=${toast} reload=${tick} canEdit=${canEdit} />
    </section>
    <${Confirm} open=${!!confirm} ...${confirm || {}} onCancel=${() => setConfirm(null)}
      onConfirm=${async () => {
        const c = confirm;
        setConfirm(null);
        try { await c.run(); setTick(tick + 1); } catch (e) { toast({text: e.message, error: true}); }
      }} />
  </main>`;
}

// ---- runs ----

function RunsPage({zone, route}) {
  const only = route.params.series;
  const [runs, setRuns] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    request('GET', '/api/v1/runs', {query: {limit: 100, series: only}}).then((p) => setRuns(p.items))
      .catch((e) => setError(e.message));
  }, [only]);
  const tz = zone === 'UTC' ? 'UTC' : browserZone();
  return html`<main class="page">
    <section class="pane">
      <div class="pane-head"><h1>Runs${only ? ` of series ${only}` : ''}</h1><span class="count">newest first · ${zoneLabel(tz)}</span></div>
      ${error && html`<p class="banner banner-error" role="alert">${error}</p>`}
      ${runs && html`<div class="table-wrap"><table class="table" aria-label="Runs">
        <thead><tr><th>Run</th><th>Type</th><th>Trigger</th><th>State</th><th>Started</th><th>Duration</th></tr></thead>
        <tbody>${runs.map((r) => html`<tr key=${r.id}>
          <td><a href=${`#/runs/${r.id}`}>#${r.id}</a>${r.series_id !== null ? html`<div class="sub">series ${r.series_id}</div>` : ''}</td>
          <td class="type">${r.type}</td><td>${r.trigger}${r.attempt > 1 ? ` · attempt ${r.attempt}` : ''}</td>
          <td><${Badge} state=${r.state} /></td>
          <td>${r.started_at ? fmtTime(r.started_at, tz) : html`<span class="muted">—</span>`}</td>
          <td>${r.duration_ms !== null ? fmtDuration(r.duration_ms) : html`<span class="muted">—</span>`}</td>
        </tr>`)}</tbody></table>
        ${runs.length === 0 && html`<p class="empty">No runs yet.</p>`}</div>`}
    </section>
  </main>`;
}

function fmtDuration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60000);
  return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
}

const LEVELS = ['info', 'warning', 'error'];

const FINISHED = ['succeeded', 'failed', 'lost', 'cancelled'];

// cancel (queued or running), re-run (finished), start now (waiting for a retry's backoff)
function RunActions({run, go, toast, reload}) {
  const [confirm, setConfirm] = useState(false);
  const post = async (verb, body) => {
    try {
      const r = await request('POST', `/api/v1/runs/${run.id}/${verb}`, body === undefined ? {} : {body});
      if (verb === 'rerun') {
        toast({text: `Queued run ${r.id}, a re-run of run ${run.id}.`});
        go(`/runs/${r.id}`, {});
      } else {
        toast({text: verb === 'cancel' ? (r.state === 'running' ? `Asked run ${run.id} to stop.`
          : `Cancelled run ${run.id}.`) : `Run ${run.id} starts now.`});
        reload();
      }
    } catch (e) {
      toast({text: e.message, error: true});
    }
  };
  const waiting = run.state === 'queued' && run.not_before && Date.parse(run.not_before) > Date.now();
  const stoppable = (run.state === 'queued' || run.state === 'running') && !run.cancel_requested;
  return html`<div class="run-actions">
    ${waiting && html`<button type="button" class="btn btn-small" onClick=${() => post('retry')}>Start now</button>`}
    ${stoppable && html`<button type="button" class="btn btn-small btn-danger-ghost" onClick=${() => setConfirm(true)}>Cancel run</button>`}
    ${FINISHED.includes(run.state) && html`<button type="button" class="btn btn-small" onClick=${() => post('rerun')}>Re-run</button>`}
    <${Confirm} open=${confirm} title=${`Cancel run #${run.id}?`} action="Cancel run" danger=${true}
      body=${run.state === 'running' ? 'Its handler is asked to stop (a command gets SIGTERM, then SIGKILL after its grace). It ends cancelled and is not retried.'
        : 'It will not run. It ends cancelled and is not retried.'}
      onCancel=${() => setConfirm(false)} onConfirm=${() => { setConfirm(false); post('cancel', {reason: 'cancelled in the web UI'}); }} />
  </div>`;
}

function RunPage({id, route, go, zone, canEdit, toast}) {
  const [run, setRun] = useState(null);
  const [msgs, setMsgs] = useState([]);
  const [results, setResults] = useState([]);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  const levels = (route.params.levels || LEVELS.join(',')).split(',');
  // While it is queued or running the page follows the run's live events (GET
  // /api/v1/events?run=ID): opened first, then the run, its messages and results read,
  // and events whose seq is already shown dropped (docs/api.md "Live events").  A stream
  // refused or lost for good: polled every 2 s instead.
  const follow = useRef(false); // the log's end was in view: keep it there
  useEffect(() => {
    let live = true;
    let timer = null;
    let stream = null;
    const ended = (r) => r.state !== 'queued' && r.state !== 'running';
    const load = async () => {
      try {
        const r = await request('GET', `/api/v1/runs/${id}`);
        const m = await request('GET', `/api/v1/runs/${id}/messages`, {query: {limit: 10000}});
        const res = await request('GET', `/api/v1/runs/${id}/results`, {query: {limit: 10000}});
        if (!live) return;
        setRun(r);
        setMsgs(m.items);
        setResults(res.items);
        if (ended(r)) {
          if (stream) stream.close();
          stream = null;
        } else if (!stream && !polling && typeof EventSource === 'function') {
          listen();
        } else if (!stream) {
          timer = setTimeout(load, 2000);
        }
      } catch (e) {
        if (live) setError(e.message);
      }
    };
    const atEnd = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 48;
    const data = (e) => { try { return JSON.parse(e.data); } catch (x) { return null; } };
    let polling = false; // the stream was refused: read every 2 s instead
    // opened only for a run not yet ended (a finished run's page needs none), then read
    // again once it is open: what was committed in between is in that read
    const listen = () => {
      stream = new EventSource(`/api/v1/events?run=${encodeURIComponent(id)}`);
      stream.onopen = () => load();
      stream.addEventListener('gap', () => load());
      stream.addEventListener('message', (e) => {
        const m = data(e);
        if (!m) return;
        follow.current = atEnd();
        setMsgs((have) => (have.some((x) => x.seq === m.seq) ? have
          : [...have, {seq: m.seq, at: m.at, level: m.level, text: m.text}]));
      });
      stream.addEventListener('result', (e) => {
        const x = data(e);
        if (x) setResults((have) => (have.some((y) => y.seq === x.seq) ? have
          : [...have, {seq: x.seq, key: x.key, status: x.status, data: x.data}]));
      });
      stream.addEventListener('progress', (e) => {
        const x = data(e);
        if (x) setRun((r) => (r ? {...r, progress: x.progress} : r));
      });
      stream.addEventListener('run', (e) => {
        const x = data(e);
        if (x) load(); // timings, counts and the outcome as the server has them
      });
      stream.onerror = () => {
        // EventSource reconnects by itself (with Last-Event-ID) unless the server refused it
        if (stream && stream.readyState === EventSource.CLOSED) {
          stream = null;
          polling = true;
          if (live) load();
        }
      };
    };
    load();
    return () => {
      live = false;
      clearTimeout(timer);
      if (stream) stream.close();
    };
  }, [id, tick]);
  useEffect(() => {
    if (!follow.current) return;
    follow.current = false;
    window.scrollTo(0, document.documentElement.scrollHeight);
  }, [msgs.length]);
  const tz = zone === 'UTC' ? 'UTC' : browserZone();
  const t = (x) => (x ? fmtTime(x, tz, true) : html`<span class="muted">—</span>`);
  const toggle = (l) => {
    const next = levels.includes(l) ? levels.filter((x) => x !== l) : [...levels, l];
    go(route.path, {...route.params, levels: next.join(',') || 'none'}, true);
  };
  if (error) return html`<main class="page"><p class="banner banner-error" role="alert">${error}</p></main>`;
  if (!run) return html`<main class="page"><p class="muted pad">Loading…</p></main>`;
  // the run's counts as read, or the messages shown since (live), whichever is more
  const count = (l) => Math.max(run.counts[l] || 0, msgs.filter((m) => m.level === l).length);
  return html`<main class="page page-run">
    <div class="crumbs"><a href="#/runs">Runs</a> / Run #${run.id}</div>
    <div class="run-head">
      <h1>Run #${run.id} <span class="muted">· ${run.type}</span></h1>
      <${Badge} state=${run.state} />
      ${run.cancel_requested && run.state === 'running' && html`<span class="muted">stopping…</span>`}
      ${canEdit && html`<${RunActions} run=${run} go=${go} toast=${toast} reload=${() => setTick((x) => x + 1)} />`}
    </div>
    ${run.error && html`<p class="banner banner-error">${run.error}</p>`}
    <div class="cards">
      <div class="card"><h2>Timings <span class="muted small">${zoneLabel(tz)}</span></h2><dl class="kv">
        <dt>Occurrence</dt><dd>${t(run.nominal)}</dd>
        <dt>Queued</dt><dd>${t(run.queued_at)}</dd>
        <dt>Started</dt><dd>${t(run.started_at)}</dd>
        <dt>Finished</dt><dd>${t(run.finished_at)}</dd>
        <dt>Duration</dt><dd>${run.duration_ms !== null ? fmtDuration(run.duration_ms) : '—'}</dd>
      </dl></div>
      <div class="card"><h2>Attempt</h2><dl class="kv">
        <dt>Attempt</dt><dd>${run.attempt}</dd>
        <dt>Trigger</dt><dd>${run.trigger}</dd>
        <dt>Series</dt><dd>${run.series_id !== null ? html`<a href=${`#/?series=${run.series_id}`}>#${run.series_id}</a>` : '—'}</dd>
        <dt>Next attempt</dt><dd>${run.next_attempt ? html`<a href=${`#/runs/${run.next_attempt}`}>Run #${run.next_attempt}</a>` : '—'}</dd>
        ${run.rerun_of && html`<dt>Re-run of</dt><dd><a href=${`#/runs/${run.rerun_of}`}>Run #${run.rerun_of}</a></dd>`}
        ${run.cancelled_by && html`<dt>Cancelled by</dt><dd>${run.cancelled_by}${run.cancel_reason
          ? html`<div class="sub">${run.cancel_reason}</div>` : ''}</dd>`}
        <dt>Node</dt><dd>${run.node || '—'}</dd>
        ${run.exit_code !== null && html`<dt>Exit code</dt><dd>${run.exit_code}</dd>`}
      </dl></div>
      <div class="card"><h2>Progress</h2>
        <progress class="progress" max="100" value=${run.progress} aria-label="Progress"></progress>
        <p class="muted">${run.progress}% · ${count('info')} info, ${count('warning')} warnings, ${count('error')} errors</p>
      </div>
    </div>
    <section class="card">
      <div class="section-head"><h2>Messages</h2>
        <div class="chips" role="group" aria-label="Levels">
          ${LEVELS.map((l) => html`<button type="button" class=${`chip chip-${l} ${levels.includes(l) ? 'on' : ''}`}
            aria-pressed=${levels.includes(l)} onClick=${() => toggle(l)}>${l} (${count(l)})</button>`)}
        </div></div>
      <ol class="log">
        ${msgs.filter((m) => levels.includes(m.level)).map((m) => html`<li key=${m.seq} class=${`log-${m.level}`}>
          <time>${fmtTime(m.at, tz, true)}</time><span class="lvl">${m.level}</span><span class="text">${m.text}</span></li>`)}
      </ol>
      ${msgs.length === 0 && html`<p class="muted">No messages.</p>`}
    </section>
    <section class="card">
      <h2>Results</h2>
      ${results.length ? html`<table class="table"><thead><tr><th>Key</th><th>Status</th><th>Data</th></tr></thead>
        <tbody>${results.map((r) => html`<tr key=${r.seq}><td>${r.key}</td><td>${r.status}</td>
          <td><code>${r.data === null ? '' : JSON.stringify(r.data)}</code></td></tr>`)}</tbody></table>`
        : html`<p class="muted">No results.</p>`}
    </section>
  </main>`;
}

// ---- the app ----

function App() {
  const [route, go] = useRoute();
  const [me, setMe] = useState(undefined); // undefined: not known yet; null: signed out
  const [theme, setTheme] = usePref('sked.theme', 'system');
  const [zone, setZone] = usePref('sked.zone', 'browser');
  const [msg, setMsg] = useState(null);
  const [failed, setFailed] = useState(null);
  const ready = !!me && !(me.user && me.user.must_change_password) && !me.totp_enrolment_required;
  const shortcuts = useShortcuts(go, ready, ready && me.role !== 'viewer');
  const refresh = useCallback(() => {
    currentSession().then((m) => { setFailed(null); setMe(m); }).catch((e) => setFailed(e.message));
  }, []);
  useEffect(() => {
    applyTheme(theme);
    const on = () => applyTheme(theme);
    media.addEventListener('change', on);
    return () => media.removeEventListener('change', on);
  }, [theme]);
  useEffect(() => {
    refresh();
    // a 401 anywhere: back to the login page; the URL (where the user was going) stays
    const out = () => setMe(null);
    window.addEventListener('sked-signed-out', out);
    return () => window.removeEventListener('sked-signed-out', out);
  }, []);
  const signOut = async () => {
    try { await logOut(); } catch (e) { /* the session is gone either way */ }
    setMe(null);
  };
  if (failed) return html`<main class="signin"><p class="banner banner-error" role="alert">${failed}</p></main>`;
  if (me === undefined) return html`<main class="signin"><p class="muted">Loading…</p></main>`;
  if (me === null) return html`<${SignIn} onSignedIn=${refresh} />`;
  if (me.user && me.user.must_change_password)
    return html`<${ForcedPasswordChange} me=${me} onDone=${refresh} onSignOut=${signOut} />`;
  if (me.totp_enrolment_required) return html`<${ForcedTotp} me=${me} onDone=${refresh} onSignOut=${signOut} />`;
  const canEdit = me.role !== 'viewer';
  let m = route.path.match(/^\/runs\/(\d+)$/);
  let page;
  if (m) page = html`<${RunPage} key=${m[1]} id=${m[1]} route=${route} go=${go} zone=${zone} canEdit=${canEdit}
    toast=${setMsg} />`;
  else if (route.path === '/new') page = html`<${Wizard} key="new" go=${go} toast=${setMsg} />`;
  else if ((m = route.path.match(/^\/series\/(\d+)\/edit$/))) page = html`<${Wizard} key=${m[1]} id=${m[1]} go=${go} toast=${setMsg} />`;
  else if (route.path === '/runs') page = html`<${RunsPage} zone=${zone} route=${route} />`;
  else if (route.path === '/profile') page = html`<${ProfilePage} me=${me} onChanged=${refresh} />`;
  else page = html`<${SeriesPage} route=${route} go=${go} zone=${zone} toast=${setMsg} canEdit=${canEdit} />`;
  return html`<div class="app">
    <${Header} me=${me} zone=${zone} setZone=${setZone} theme=${theme} setTheme=${setTheme} route=${route}
      onSignOut=${signOut} />
    ${page}
    ${shortcuts}
    <${Toast} msg=${msg} onDone=${() => setMsg(null)} />
  </div>`;
}

applyTheme(localStorage.getItem('sked.theme') || 'system');
render(html`<${App} />`, document.getElementById('app'));
