// calendar: the week view beside the series list (FullCalendar's timeGridWeek) over
// GET /api/v1/calendar, which gives every occurrence already placed: the view only
// draws them, in the viewer's zone (FullCalendar's timeZone, with Temporal).
import {h} from 'preact';
import {useState, useEffect, useRef} from 'preact/hooks';
import htm from 'htm';
import {Calendar} from 'fullcalendar';
import timeGridPlugin from 'fullcalendar/timegrid';
import classicTheme from 'fullcalendar/themes/classic';
import {request} from './api.js';
import {fmtTime, mondayOf, zoneLabel} from './time.js';

const html = htm.bind(h);

const SHOWN_MINUTES = 25; // an occurrence is an instant: drawn this tall
const STATE_TEXT = {
  planned: 'Planned', disabled: 'Disabled', paused: 'Paused', due: 'Due', queued: 'Queued', running: 'Running',
  succeeded: 'Succeeded', failed: 'Failed', lost: 'Lost', cancelled: 'Cancelled', skipped: 'Skipped', missed: 'Missed',
};

// a block's colour: failed if any failed, succeeded if all did, else planned
function blockState(states) {
  if (states.failed || states.lost) return 'failed';
  const n = Object.values(states).reduce((a, b) => a + b, 0);
  return states.succeeded === n ? 'succeeded' : Object.keys(states).length === 1 ? Object.keys(states)[0] : 'planned';
}

function eventsOf(reply) {
  const titles = Object.fromEntries(reply.series.map((s) => [s.id, s.title]));
  const blocks = (reply.blocks || []).map((b) => ({
    id: `${b.series_id}:block:${b.from}`, title: `${titles[b.series_id] || `Series ${b.series_id}`} ×${b.count}`,
    start: b.from, end: b.to, className: `ev ev-block ev-${blockState(b.states)}`, extendedProps: {block: b},
  }));
  return blocks.concat(reply.occurrences.map((o) => {
    const start = new Date(o.start / 1000);
    const end = new Date(start.getTime() + SHOWN_MINUTES * 60000);
    const classes = ['ev', `ev-${o.state}`];
    if (o.changes && o.changes.includes('moved')) classes.push('ev-moved');
    if (o.trigger === 'manual') classes.push('ev-manual');
    return {
      id: `${o.series_id}:${o.nominal}`, title: titles[o.series_id] || `Series ${o.series_id}`,
      start: start.toISOString(), end: end.toISOString(), className: classes.join(' '),
      extendedProps: {occ: o},
    };
  }));
}

function Block({block, series, zone, onClose}) {
  return html`<aside class="occ card" aria-label="Block">
    <div class="occ-head">
      <h2>${series ? series.title : `Series ${block.series_id}`}</h2>
      <button type="button" class="btn btn-ghost btn-small" onClick=${onClose} aria-label="Close">✕</button>
    </div>
    <p class="muted">${`It fires more often than every 5 minutes: ${block.count} occurrences from ${fmtTime(block.from,
      zone)} to ${fmtTime(block.to, zone)} (${zoneLabel(zone)}), shown as one block.`}</p>
    <p>${Object.entries(block.states).map(([k, v]) => html`<span class=${`badge badge-${k}`}>${STATE_TEXT[k] || k} ${v}</span> `)}</p>
  </aside>`;
}

function scrollTimeOf(reply) {
  let min = null;
  for (const o of reply.occurrences) if (min === null || o.time < min) min = o.time;
  if (!min) return '07:00:00';
  const hour = Math.max(0, Number(min.slice(0, 2)) - 1);
  return `${String(hour).padStart(2, '0')}:00:00`;
}

function Occurrence({occ, series, zone, canEdit, onChanged, onClose, toast}) {
  const [moveTo, setMoveTo] = useState('');
  const future = ['planned', 'disabled', 'paused'].includes(occ.state);
  const patch = async (body, what) => {
    try {
      await request('PATCH', `/api/v1/series/${occ.series_id}/occurrences/${occ.nominal}`, {body});
      toast({text: what});
      onChanged();
    } catch (e) {
      toast({text: e.message, error: true});
    }
  };
  return html`<aside class="occ card" aria-label="Occurrence">
    <div class="occ-head">
      <h2>${series ? series.title : `Series ${occ.series_id}`}</h2>
      <button type="button" class="btn btn-ghost btn-small" onClick=${onClose} aria-label="Close">✕</button>
    </div>
    <dl class="kv">
      <dt>When</dt><dd>${fmtTime(occ.at, zone)} <span class="muted">${zoneLabel(zone)}</span></dd>
      ${occ.changes && occ.changes.includes('moved') && html`<dt>Planned for</dt><dd>${fmtTime(occ.nominal_at, zone)}</dd>`}
      <dt>State</dt><dd><span class=${`badge badge-${occ.state}`}>${STATE_TEXT[occ.state] || occ.state}</span>
        ${occ.skip_reason ? html` <span class="muted">(${occ.skip_reason})</span>` : ''}</dd>
      ${occ.note && html`<dt>Note</dt><dd>${occ.note}</dd>`}
      ${occ.run_id && html`<dt>Run</dt><dd><a href=${`#/runs/${occ.run_id}`}>Run #${occ.run_id}</a></dd>`}
    </dl>
    ${future && canEdit && html`<div class="occ-actions">
      ${occ.state === 'disabled'
        ? html`<button type="button" class="btn" onClick=${() => patch({enabled: true}, 'Occurrence enabled again.')}>Enable this occurrence</button>`
        : html`<button type="button" class="btn" onClick=${() => patch({enabled: false}, 'Occurrence disabled.')}>Disable this occurrence</button>`}
      <form class="move" onSubmit=${(e) => { e.preventDefault(); if (moveTo) patch({start: moveTo.length === 16 ? `${moveTo}:00` : moveTo}, 'Occurrence moved.'); }}>
        <label for="move-to">Move once to <span class="muted">(${series ? series.tz : 'series zone'})</span></label>
        <div class="row">
          <input id="move-to" type="datetime-local" value=${moveTo} onInput=${(e) => setMoveTo(e.target.value)} />
          <button type="submit" class="btn" disabled=${!moveTo}>Move</button>
        </div>
      </form>
    </div>`}
  </aside>`;
}

export function WeekCalendar({week, setWeek, zone, series, scheduled, toast, reload, canEdit}) {
  const el = useRef(null);
  const cal = useRef(null);
  const [reply, setReply] = useState(null);
  const [error, setError] = useState(null);
  const [sel, setSel] = useState(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    // all: the scheduled series (background processes have their list and results,
    // not the calendar: one every 15 s would be 40,000 blocks a week)
    const ids = series ? String(series.id) : scheduled && scheduled.length <= 100 ? scheduled.join(',') : undefined;
    if (!series && !scheduled) return undefined; // the list is not loaded yet
    if (series && series.background) {
      setReply(null);
      return undefined;
    }
    const query = {tz: zone, week, series: ids, group: 'hour'};
    request('GET', '/api/v1/calendar', {query}).then((r) => {
      if (!live) return;
      setReply(r);
      setError(null);
    }).catch((e) => live && setError(e.message));
    return () => { live = false; };
  }, [week, zone, series && series.id, scheduled && scheduled.join(','), reload, tick]);

  useEffect(() => {
    if (!reply || !el.current) return;
    if (cal.current) cal.current.destroy();
    cal.current = new Calendar(el.current, {
      plugins: [timeGridPlugin, classicTheme],
      initialView: 'timeGridWeek',
      initialDate: reply.days[0],
      timeZone: zone,
      firstDay: 1,
      headerToolbar: false,
      allDaySlot: false,
      nowIndicator: false,
      height: '100%',
      scrollTime: scrollTimeOf(reply),
      slotEventOverlap: false,
      eventTimeFormat: {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'},
      slotHeaderFormat: {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'},
      dayHeaderFormat: {weekday: 'short', day: 'numeric'},
      displayEventEnd: false,
      events: eventsOf(reply),
      eventClick: (info) => setSel(info.event.extendedProps.occ || info.event.extendedProps.block),
    });
    cal.current.render();
    return () => {
      if (cal.current) cal.current.destroy();
      cal.current = null;
    };
  }, [reply]);

  const first = reply ? reply.days[0] : week;
  const last = reply ? reply.days[reply.days.length - 1] : null;
  const counts = {};
  if (reply) for (const o of reply.occurrences) counts[o.state] = (counts[o.state] || 0) + 1;
  if (reply && reply.blocks)
    for (const b of reply.blocks) for (const [k, v] of Object.entries(b.states)) counts[k] = (counts[k] || 0) + v;
  const selSeries = sel && reply && reply.series.find((s) => s.id === sel.series_id);
  return html`<div class="cal">
    <div class="cal-head">
      <div>
        <h2 class="cal-title">${first ? `Week of ${new Date(first + 'T12:00:00Z').toLocaleDateString(undefined,
          {timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric'})}` : 'This week'}</h2>
        <div class="sub">${series ? series.title : 'All series'} · ${zoneLabel(zone)}${reply && reply.truncated ? ' · truncated' : ''}</div>
      </div>
      <div class="btn-group" role="group" aria-label="Week">
        <button type="button" class="btn btn-small" aria-label="Previous week" disabled=${!first}
          onClick=${() => setWeek(mondayOf(first, -1))}>‹</button>
        <button type="button" class="btn btn-small" onClick=${() => setWeek('')}>This week</button>
        <button type="button" class="btn btn-small" aria-label="Next week" disabled=${!first}
          onClick=${() => setWeek(mondayOf(first, 1))}>›</button>
      </div>
    </div>
    <div class="legend" aria-label="Legend">
      ${['planned', 'succeeded', 'failed', 'disabled', 'skipped'].map((s) => html`<span class=${`legend-item lg-${s}`}>
        ${STATE_TEXT[s]}${counts[s] ? ` ${counts[s]}` : ''}</span>`)}
    </div>
    ${error && html`<p class="banner banner-error" role="alert">${error}</p>`}
    ${series && series.background && html`<p class="empty">A background process: it runs all the time, so it has
      no calendar. Its <a href=${`#/runs?series=${series.id}`}>runs</a> show what it did.</p>`}
    <div class="cal-body" ref=${el} data-week=${first || ''} data-last=${last || ''}></div>
    ${sel && sel.count && html`<${Block} key=${sel.from} block=${sel} zone=${zone} onClose=${() => setSel(null)}
      series=${reply && reply.series.find((s) => s.id === sel.series_id)} />`}
    ${sel && !sel.count && html`<${Occurrence} key=${sel.nominal} occ=${sel} series=${selSeries} zone=${zone} toast=${toast}
      canEdit=${canEdit}
      onClose=${() => setSel(null)} onChanged=${() => { setSel(null); setTick(tick + 1); }} />`}
  </div>`;
}
