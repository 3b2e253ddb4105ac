// Browser tests of the web UI: a real `sked serve --demo` ($SKED_BIN) on a temporary
// store whose clock is set to Wednesday 2027-03-24 10:00 UTC (--clock-file: the
// server's clock runs that far ahead of real time), driven by headless chromium
// (Debian's, through playwright-core).  Run by scripts/test (`node --test` here).
// SKED_SCREENSHOTS=DIR writes the screenshots there (docs/screenshots for the README);
// by default into the temporary directory.  With SKED_TEST_PG=postgres://... (a
// throwaway cluster, scripts/pgtmp) the server's store is a fresh database on it.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import {existsSync, readdirSync} from 'node:fs';
import {mkdtempSync, readFileSync, writeFileSync, rmSync, mkdirSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createHmac} from 'node:crypto';
import {chromium} from 'playwright-core';
import {createRequire} from 'node:module';

// axe-core and jsQR (pinned in package.json), run in the page through the devtools
// protocol (page.evaluate of their source), which the page's CSP does not govern
const JSQR = readFileSync(createRequire(import.meta.url).resolve('jsqr/dist/jsQR.js'), 'utf8');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const SKED = process.env.SKED_BIN || new URL('../../build/sked', import.meta.url).pathname;
const CHROMIUM = process.env.SKED_CHROMIUM || '/usr/bin/chromium';
const NOW = Date.parse('2027-03-24T10:00:00Z'); // the server's now: a Wednesday
const WEEK = '2027-03-22'; // Monday 22 to Sunday 28 March 2027: Europe's DST starts on the 28th

let dir, server, url, token, adminPassword, browser, shots, pgdb;
const PW = 'correct horse battery staple'; // the users the tests add
const ADA = {name: 'ada', password: PW}; // an admin without a forced change: most tests sign in as her

// RFC 6238 (HMAC-SHA-1, 6 digits, 30 s) of a base32 secret at step `step`
function totp(secret, step) {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += A.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(msg).digest();
  const off = mac[19] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, '0');
}
// the server's TOTP step: its clock runs at NOW while real time runs at Date.now()
// (--clock-file), both read here
function serverStep() {
  return Math.floor((Date.now() + clockOffset) / 30000);
}
let clockOffset = 0;

function psql(uri, sql) {
  const dirs = readdirSync('/usr/lib/postgresql').map(Number).sort((a, b) => b - a);
  const bin = dirs.map((d) => `/usr/lib/postgresql/${d}/bin/psql`).find((p) => existsSync(p)) || 'psql';
  execFileSync(bin, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', uri, '-c', sql], {stdio: 'pipe'});
}

// a fresh database on the SKED_TEST_PG cluster: its URI with another database name
function pgCreate() {
  const name = `skedb_${process.pid}`;
  psql(process.env.SKED_TEST_PG, `CREATE DATABASE "${name}"`);
  pgdb = name;
  const u = new URL(process.env.SKED_TEST_PG);
  u.pathname = `/${name}`;
  return u.toString();
}

function waitListening(proc) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`sked serve not ready:\n${out}`)), 20000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/sked: listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`sked serve exited with ${code}:\n${out}`)));
  });
}

async function api(method, path, body) {
  const r = await fetch(url + path, {
    method, headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sked-browser-'));
  shots = process.env.SKED_SCREENSHOTS || join(dir, 'screenshots');
  mkdirSync(shots, {recursive: true});
  clockOffset = Math.round((NOW - Date.now()) / 1000) * 1000;
  writeFileSync(join(dir, 'clock'), `${clockOffset / 1000}\n`);
  const args = ['serve', '--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0', '--demo', '--workers', '2',
    '--clock-file', join(dir, 'clock')];
  if (process.env.SKED_TEST_PG) args.push('--db', pgCreate());
  server = spawn(SKED, args, {stdio: ['ignore', 'pipe', 'pipe']});
  server.stderr.resume();
  url = await waitListening(server);
  token = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
  adminPassword = readFileSync(join(dir, 'data', 'admin.password'), 'utf8').trim();
  await api('POST', '/api/v1/users', {name: 'ada', role: 'admin', password: PW, display_name: 'Ada L.'});
  // a dense series: the calendar shows it as one block per hour
  await api('POST', '/api/v1/series', {type: 'demo.hello', title: 'Queue sweep', schedule: 'every 1m', tz: 'UTC'});
  // a few runs to show: the demo's series, triggered now (the past of the week)
  const {items} = await api('GET', '/api/v1/series');
  for (const s of items) if (!s.background) await api('POST', `/api/v1/series/${s.id}/trigger`);
  for (let i = 0; i < 100; i++) {
    const runs = await api('GET', '/api/v1/runs?limit=100');
    if (runs.items.filter((r) => r.trigger === 'manual' && r.finished_at).length >= 3) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox']});
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    const gone = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await gone;
  }
  if (pgdb) psql(process.env.SKED_TEST_PG, `DROP DATABASE IF EXISTS "${pgdb}" WITH (FORCE)`);
  if (dir && !process.env.SKED_KEEP) rmSync(dir, {recursive: true, force: true});
});

// A page in zone tz and scheme at the login form; collects console errors, page
// errors and CSP violations into page.problems (the test asserts it empty at its end).
async function blank(tz, scheme = 'light', hash = '') {
  const ctx = await browser.newContext({viewport: {width: 1280, height: 800}, timezoneId: tz, colorScheme: scheme,
    locale: 'en-GB'});
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await ctx.newPage();
  page.problems = [];
  page.on('console', (m) => {
    // the browser's own report of a 400, 401 or 403 the page handles and shows (a login's,
    // a form's answer)
    if (/Failed to load resource: the server responded with a status of 40[013]/.test(m.text())) return;
    if (m.type() === 'error' || m.type() === 'warning') page.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  await page.goto(url + '/' + hash);
  await page.waitForSelector('#login-name');
  return page;
}

async function fillLogin(page, who) {
  await page.fill('#login-name', who.name);
  await page.fill('#login-password', who.password);
  await page.click('form[aria-label="Sign in"] button[type=submit]');
}

// A page signed in (through the login form) as `who` (ada by default).
async function open(tz, scheme = 'light', who = ADA) {
  const page = await blank(tz, scheme);
  await fillLogin(page, who);
  await page.waitForSelector('table[aria-label=Series] tbody tr');
  return page;
}

async function close(page) {
  assert.deepEqual(page.problems, [], 'no console error, page error or CSP violation');
  await page.context().close();
}

// The calendar's events of one series: [{day, time, classes}], day from the column the
// event is drawn in (the column headers' data-date), time as the event shows it.
async function events(page) {
  await page.waitForSelector('.cal-body [data-date]');
  await page.waitForTimeout(300);
  return page.evaluate(() => {
    const cols = [...document.querySelectorAll('.cal-body [role=columnheader][data-date]')].map((c) => {
      const r = c.getBoundingClientRect();
      return {date: c.dataset.date, left: r.left, right: r.right};
    });
    return [...document.querySelectorAll('.cal-body .ev')].map((e) => {
      const r = e.getBoundingClientRect();
      const x = (r.left + r.right) / 2;
      const col = cols.find((c) => x >= c.left && x < c.right);
      return {day: col ? col.date : null, time: (e.textContent.match(/\d\d:\d\d/) || [null])[0],
        classes: e.className};
    });
  });
}

async function seriesId(title) {
  const {items} = await api('GET', '/api/v1/series');
  return items.find((s) => s.title === title).id;
}

test('the list shows every series with its schedule, next run, last result and state', async () => {
  const page = await open('Europe/Berlin');
  const rows = await page.locator('table[aria-label=Series] tbody tr').allInnerTexts();
  const {items} = await api('GET', '/api/v1/series');
  assert.equal(rows.length, items.length);
  for (const s of items) assert.ok(rows.some((r) => r.includes(s.title)), `${s.title} listed`);
  const hello = rows.find((r) => r.includes('Morning hello'));
  assert.match(hello, /Every day at 09:00\s+Europe\/Berlin/, 'the schedule in words (schedule_text)');
  assert.match(hello, /Thu 25 Mar, 09:00/, 'its next run in the viewer\'s zone');
  assert.match(hello, /Succeeded/, 'its last run (triggered before) shown');
  assert.match(hello, /Active/);
  // search kept in the URL
  await page.fill('input[type=search]', 'weekday');
  assert.match(await page.evaluate(() => location.hash), /q=weekday/);
  assert.equal(await page.locator('table[aria-label=Series] tbody tr').count(), 1);
  await page.reload();
  await page.waitForSelector('table[aria-label=Series] tbody tr');
  assert.equal(await page.inputValue('input[type=search]'), 'weekday');
  assert.equal(await page.locator('table[aria-label=Series] tbody tr').count(), 1);
  await close(page);
});

test('a daily series is on the calendar at its local time in two viewer zones across a DST change', async () => {
  const id = await seriesId('Morning hello'); // daily at 09:00 Europe/Berlin
  // created by --demo at the server's now (Wednesday 24, 11:00 in Berlin): its first
  // occurrence is Thursday's
  const want = {
    // Berlin: 09:00 every day, CET then CEST
    'Europe/Berlin': ['25', '26', '27', '28'].map((d) => [`2027-03-${d}`, '09:00']),
    // New York (on EDT since 14 March): 04:00 while Berlin is on CET, 03:00 from the 28th
    'America/New_York': [...['25', '26', '27'].map((d) => [`2027-03-${d}`, '04:00']), ['2027-03-28', '03:00']],
  };
  for (const [tz, expected] of Object.entries(want)) {
    const page = await open(tz);
    await page.goto(`${url}/#/?series=${id}&week=${WEEK}`);
    const got = (await events(page)).filter((e) => !e.classes.includes('ev-manual')).map((e) => [e.day, e.time]);
    assert.deepEqual(got, expected, `${tz}: the week of ${WEEK}`);
    assert.match(await page.locator('.cal-title').innerText(), /22 March 2027/);
    // the next week, by its button: the URL follows
    await page.click('button[aria-label="Next week"]');
    await page.waitForFunction(() => location.hash.includes('week=2027-03-29'));
    const next = await events(page);
    assert.equal(next[0].day, '2027-03-29');
    assert.equal(next[0].time, tz === 'Europe/Berlin' ? '09:00' : '03:00');
    await close(page);
  }
});

test('disabling one occurrence shows it marked, and enabling it again unmarks it', async () => {
  const id = await seriesId('Morning hello');
  const page = await open('Europe/Berlin');
  await page.goto(`${url}/#/?series=${id}&week=${WEEK}`);
  await events(page);
  // Friday 26 March, 09:00: in the future
  const fri = (await events(page)).findIndex((e) => e.day === '2027-03-26' && !e.classes.includes('ev-manual'));
  await page.locator('.cal-body .ev').nth(fri).click();
  await page.click('text=Disable this occurrence');
  await page.waitForSelector('.cal-body .ev-disabled');
  const evs = await events(page);
  const disabled = evs.filter((e) => e.classes.includes('ev-disabled'));
  assert.deepEqual(disabled.map((e) => [e.day, e.time]), [['2027-03-26', '09:00']]);
  const occ = await api('GET', `/api/v1/series/${id}/occurrences?from=2027-03-26T00:00:00Z&to=2027-03-27T00:00:00Z`);
  assert.equal(occ.items[0].state, 'disabled');
  await page.screenshot({path: join(shots, 'calendar-disabled.png')});
  await page.locator('.cal-body .ev-disabled').click();
  await page.click('text=Enable this occurrence');
  await page.waitForFunction(() => !document.querySelector('.cal-body .ev-disabled'));
  await close(page);
});

test('moving one occurrence once shows it at its new time, marked moved', async () => {
  const id = await seriesId('Morning hello');
  const page = await open('America/New_York');
  await page.goto(`${url}/#/?series=${id}&week=${WEEK}`);
  const sat = (await events(page)).findIndex((e) => e.day === '2027-03-27' && !e.classes.includes('ev-manual'));
  await page.locator('.cal-body .ev').nth(sat).click();
  // the new time is a wall time in the series' zone (Berlin), said next to the input
  assert.match(await page.locator('.move label').innerText(), /Europe\/Berlin/);
  await page.fill('#move-to', '2027-03-27T14:30');
  await page.click('.move button[type=submit]');
  await page.waitForSelector('.cal-body .ev-moved');
  const moved = (await events(page)).filter((e) => e.classes.includes('ev-moved'));
  // 14:30 in Berlin (CET) is 09:30 in New York (EDT)
  assert.deepEqual(moved.map((e) => [e.day, e.time]), [['2027-03-27', '09:30']]);
  await close(page);
});

test('a series firing every minute is drawn as one block per hour with its count', async () => {
  const id = await seriesId('Queue sweep');
  const page = await open('Europe/Berlin');
  await page.goto(`${url}/#/?series=${id}&week=${WEEK}`);
  const evs = await events(page);
  assert.ok(evs.length > 50 && evs.length < 24 * 7, `${evs.length} blocks, not thousands of events`);
  assert.ok(evs.every((e) => e.classes.includes('ev-block')), 'every one a block');
  const texts = await page.locator('.cal-body .ev-block').allInnerTexts();
  assert.ok(texts.filter((t) => /×60\b/.test(t)).length >= evs.length - 2, texts.slice(0, 3).join(' | '));
  await page.locator('.cal-body .ev-block').nth(10).click();
  await page.locator('aside[aria-label=Block]', {hasText: '60 occurrences'}).waitFor();
  await page.screenshot({path: join(shots, 'calendar-blocks.png')});
  await close(page);
});

test('disable, enable and run now from the list; delete asks first', async () => {
  const page = await open('UTC');
  const row = page.locator('tr', {hasText: 'Weekly clean-up'});
  await row.locator('text=Disable').click();
  await row.locator('text=Paused').waitFor();
  const id = await seriesId('Weekly clean-up');
  assert.equal((await api('GET', `/api/v1/series/${id}`)).enabled, false);
  await row.locator('text=Enable').click();
  await row.locator('text=Active').waitFor();
  await row.locator('text=Run now').click();
  await page.locator('.toast', {hasText: 'Queued run'}).waitFor();
  await row.locator('button', {hasText: 'Delete'}).click();
  await page.locator('dialog[open]', {hasText: 'Delete “Weekly clean-up”?'}).waitFor();
  await page.locator('dialog[open] button', {hasText: 'Cancel'}).click();
  assert.equal((await api('GET', `/api/v1/series/${id}`)).id, id, 'cancel keeps it');
  await close(page);
});

test('the run page shows status, timings and messages filtered by level', async () => {
  const runs = await api('GET', '/api/v1/runs?limit=100');
  const run = runs.items.find((r) => r.type === 'demo.hello' && r.state === 'succeeded');
  const page = await open('Europe/Berlin');
  await page.goto(`${url}/#/runs/${run.id}`);
  await page.locator('.run-head', {hasText: `Run #${run.id}`}).waitFor();
  const text = await page.locator('main').innerText();
  assert.match(text, /Succeeded/);
  assert.match(text, /hello from a command handler/);
  assert.match(text, /greeting/);
  await page.click('button.chip-info');
  assert.match(await page.evaluate(() => location.hash), /levels=warning%2Cerror/);
  assert.equal(await page.locator('.log li').count(), 0);
  await page.goto(`${url}/#/runs`);
  await page.locator('table[aria-label=Runs] tbody tr').first().waitFor();
  await close(page);
});

test('screenshots of the list and the calendar, light and dark, with no console error', async () => {
  await api('DELETE', `/api/v1/series/${await seriesId('Queue sweep')}`); // its own screenshot above
  for (const scheme of ['light', 'dark']) {
    const page = await open('Europe/Berlin', scheme);
    await page.goto(`${url}/#/?week=${WEEK}`);
    await events(page);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg === 'rgb(15, 18, 22)', scheme === 'dark', `${scheme} theme follows the system (${bg})`);
    await page.screenshot({path: join(shots, `list-calendar-${scheme}.png`)});
    const runs = await api('GET', '/api/v1/runs?limit=100');
    const run = runs.items.find((r) => r.type === 'demo.report' && r.state === 'succeeded');
    await page.goto(`${url}/#/runs/${run.id}`);
    await page.locator('.run-head', {hasText: `Run #${run.id}`}).waitFor();
    await page.screenshot({path: join(shots, `run-${scheme}.png`)});
    await close(page);
  }
  // the toggle overrides the system: system → light → dark
  const page = await open('Europe/Berlin', 'light');
  await page.click('button[aria-label="Theme: system"]');
  await page.click('button[aria-label="Theme: light"]');
  await page.waitForFunction(() => document.documentElement.dataset.colorScheme === 'dark');
  await page.reload();
  await page.waitForSelector('table[aria-label=Series]');
  assert.equal(await page.getAttribute('html', 'data-color-scheme'), 'dark', 'kept across a reload');
  await close(page);
});

test('the first login: the bootstrap admin must choose a password on a page of its own, then signs out', async () => {
  const page = await blank('UTC', 'light', '#/runs');
  await page.screenshot({path: join(shots, 'login.png')});
  await fillLogin(page, {name: 'admin', password: 'not the password'});
  await page.locator('form[aria-label="Sign in"] [role=alert]', {hasText: 'Wrong user name or password'}).waitFor();
  await fillLogin(page, {name: 'admin', password: adminPassword});
  await page.locator('h1', {hasText: 'Choose a new password'}).waitFor();
  assert.equal(await page.locator('table[aria-label=Series]').count(), 0, 'nothing else before the change');
  await page.fill('#pw-current', adminPassword);
  await page.fill('#pw-new', 'password');
  await page.fill('#pw-again', 'password');
  await page.click('form[aria-label="Change password"] button[type=submit]');
  await page.locator('[role=alert]', {hasText: /common/i}).waitFor(); // the server's check, next to the field
  await page.fill('#pw-new', 'a brand new admin passphrase');
  await page.fill('#pw-again', 'a brand new admin passphrase');
  await page.click('form[aria-label="Change password"] button[type=submit]');
  // where the user was going (#/runs), with their name and role in the header
  await page.locator('table[aria-label=Runs]').waitFor();
  const who = await page.locator('.who').innerText();
  assert.match(who, /admin/);
  assert.match(who, /admin/i);
  // no credential in script-visible storage: the cookie is HttpOnly, the CSRF token in memory
  const stored = await page.evaluate(() => ({cookie: document.cookie, session: sessionStorage.length,
    local: Object.keys(localStorage)}));
  assert.equal(stored.cookie, '');
  assert.equal(stored.session, 0);
  assert.ok(stored.local.every((k) => k === 'sked.theme' || k === 'sked.zone'), stored.local.join());
  await page.click('text=Sign out');
  await page.waitForSelector('#login-name');
  await fillLogin(page, {name: 'admin', password: 'a brand new admin passphrase'});
  await page.locator('table[aria-label=Runs]').waitFor();
  await close(page);
});

test('a session ended elsewhere returns to the login page and then to where the user was', async () => {
  await api('POST', '/api/v1/users', {name: 'una', role: 'operator', password: PW});
  const page = await open('UTC', 'light', {name: 'una', password: PW});
  // disabling ends her sessions at once; enabled again, she logs in anew
  await api('POST', '/api/v1/users/una/disable');
  await api('POST', '/api/v1/users/una/enable');
  await page.evaluate(() => { location.hash = '#/runs?series=1'; });
  await page.waitForSelector('#login-name');
  assert.equal(await page.evaluate(() => location.hash), '#/runs?series=1');
  await fillLogin(page, {name: 'una', password: PW});
  await page.locator('h1', {hasText: 'Runs of series 1'}).waitFor();
  await close(page);
});

test('a viewer sees no edit controls', async () => {
  await api('POST', '/api/v1/users', {name: 'vera', role: 'viewer', password: PW});
  const id = await seriesId('Morning hello');
  const page = await open('Europe/Berlin', 'light', {name: 'vera', password: PW});
  assert.match(await page.locator('.who').innerText(), /viewer/i);
  assert.equal(await page.locator('table[aria-label=Series] button', {hasText: /Run now|Disable|Enable|Delete/}).count(), 0);
  await page.goto(`${url}/#/?series=${id}&week=${WEEK}`);
  const fri = (await events(page)).findIndex((e) => e.day === '2027-03-26' && !e.classes.includes('ev-manual'));
  await page.locator('.cal-body .ev').nth(fri).click();
  await page.locator('aside[aria-label=Occurrence]').waitFor();
  assert.equal(await page.locator('aside[aria-label=Occurrence] button', {hasText: /Disable|Enable|Move/}).count(), 0);
  await close(page);
});

test('two-step sign-in: set up on the profile page, recovery codes once, then the login asks for a code', async () => {
  await api('POST', '/api/v1/users', {name: 'pia', role: 'operator', password: PW});
  const page = await open('UTC', 'light', {name: 'pia', password: PW});
  await page.click('.who');
  await page.locator('h1', {hasText: 'Your profile'}).waitFor();
  // display name and zone
  await page.fill('#me-display', 'Pia P.');
  await page.fill('#me-tz', 'Mars/Olympus');
  await page.click('form[aria-label=Details] button[type=submit]');
  await page.locator('form[aria-label=Details] [role=alert]', {hasText: 'not a known time zone'}).waitFor();
  await page.fill('#me-tz', 'Europe/Vienna');
  await page.click('form[aria-label=Details] button[type=submit]');
  await page.locator('.who', {hasText: 'Pia P.'}).waitFor();
  // enrol: the password first, then the secret and its otpauth URI as text, then a code
  await page.fill('#totp-password', PW);
  await page.click('form[aria-label="Set up two-step sign-in"] button[type=submit]');
  const secret = await page.locator('[data-secret]').innerText();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  // the QR code says the otpauth address: drawn on a canvas and read back by jsQR
  await page.evaluate(JSQR);
  const scanned = await page.evaluate(async () => {
    const svg = document.querySelector('svg.qr');
    const img = new Image();
    img.src = 'data:image/svg+xml;base64,' + btoa(new XMLSerializer().serializeToString(svg));
    await img.decode();
    const c = document.createElement('canvas');
    c.width = c.height = 400;
    const g = c.getContext('2d');
    g.imageSmoothingEnabled = false;
    g.drawImage(img, 0, 0, 400, 400);
    const found = window.jsQR(g.getImageData(0, 0, 400, 400).data, 400, 400);
    return found ? found.data : null;
  });
  assert.equal(scanned, await page.locator('[data-uri]').innerText());
  assert.match(scanned, new RegExp(`^otpauth://totp/.*secret=${secret}`));
  await page.screenshot({path: join(shots, 'profile-totp-qr.png')});
  assert.equal(await page.locator('[data-uri]').innerText(),
    `otpauth://totp/sked:pia?secret=${secret}&issuer=sked&algorithm=SHA1&digits=6&period=30`);
  const step = serverStep();
  await page.fill('#totp-code', totp(secret, step));
  await page.click('form[aria-label="Confirm two-step sign-in"] button[type=submit]');
  await page.waitForSelector('.codes code');
  const codes = await page.locator('.codes code').allInnerTexts();
  assert.equal(codes.length, 10);
  await page.screenshot({path: join(shots, 'profile-recovery-codes.png')});
  await page.click('text=I have saved them');
  await page.locator('form[aria-label="Two-step sign-in"]', {hasText: 'On'}).waitFor();
  assert.equal(await page.locator('.codes').count(), 0, 'shown once');
  await page.click('text=Sign out');
  // the login's second step: a wrong code, then the next step's code
  await page.waitForSelector('#login-name');
  await fillLogin(page, {name: 'pia', password: PW});
  await page.waitForSelector('#login-code');
  await page.fill('#login-code', totp(secret, step + 9));
  await page.click('form[aria-label="Second factor"] button[type=submit]');
  await page.locator('form[aria-label="Second factor"] [role=alert]').waitFor();
  await page.fill('#login-code', totp(secret, step + 1));
  await page.click('form[aria-label="Second factor"] button[type=submit]');
  await page.locator('h1', {hasText: 'Your profile'}).waitFor(); // back where she signed out
  // a recovery code works too, once
  await page.click('text=Sign out');
  await fillLogin(page, {name: 'pia', password: PW});
  await page.fill('#login-code', codes[3]);
  await page.click('form[aria-label="Second factor"] button[type=submit]');
  await page.locator('h1', {hasText: 'Your profile'}).waitFor();
  await page.click('text=Sign out');
  await fillLogin(page, {name: 'pia', password: PW});
  await page.fill('#login-code', codes[3]);
  await page.click('form[aria-label="Second factor"] button[type=submit]');
  await page.locator('form[aria-label="Second factor"] [role=alert]').waitFor(); // good once
  await close(page);
});

test('a role that must have a second factor: its session shows only the enrolment until it is done', async () => {
  await api('POST', '/api/v1/users', {name: 'gus', role: 'viewer', password: PW});
  await api('PUT', '/api/v1/totp-policy', {required_roles: ['viewer']});
  try {
    const page = await blank('UTC');
    await fillLogin(page, {name: 'gus', password: PW});
    await page.locator('h1', {hasText: 'Set up two-step sign-in'}).waitFor();
    assert.equal(await page.locator('table[aria-label=Series]').count(), 0, 'nothing else before it');
    await page.fill('#totp-password', PW);
    await page.click('form[aria-label="Set up two-step sign-in"] button[type=submit]');
    const secret = await page.locator('[data-secret]').innerText();
    await page.fill('#totp-code', totp(secret, serverStep()));
    await page.click('form[aria-label="Confirm two-step sign-in"] button[type=submit]');
    await page.waitForSelector('.codes code');
    await page.click('text=I have saved them');
    await page.waitForSelector('table[aria-label=Series] tbody tr');
    await close(page);
  } finally {
    await api('PUT', '/api/v1/totp-policy', {required_roles: []});
  }
});

// ---- the new / edit series wizard (web/src/wizard.js) ----

// a type with the manifest's form hints (label, help, widget, unit, group, hidden) and
// queryable fields; `due` is a text field so that a date the page cannot judge
// (2025-02-29 has the right shape) reaches the server, whose field error comes back
const INVOICE = {
  name: 'demo.invoice', kind: 'scheduled', title: 'Send invoices', description: 'Bills the customers of a region.',
  handler: {command: ['/bin/true']},
  params: [
    {name: 'region', type: 'enum', values: ['eu', 'us'], required: true, label: 'Region', widget: 'radio', group: 'Who'},
    {name: 'customer', type: 'string', max_length: 40, label: 'Customer', description: 'Empty: every customer',
      group: 'Who'},
    {name: 'due', type: 'date', required: true, widget: 'text', label: 'Due date', group: 'When',
      description: 'The due date printed on the invoices'},
    {name: 'amount', type: 'int', min: 1, max: 100000, default: 100, label: 'Minimum amount', unit: 'EUR',
      widget: 'number', group: 'When'},
    {name: 'note', type: 'string', widget: 'textarea', label: 'Note on the invoice'},
    {name: 'batch', type: 'int', default: 500, hidden: true},
  ],
  query_fields: [{name: 'segment', type: 'enum', values: ['retail', 'wholesale']}, {name: 'balance', type: 'number'}],
};

// every form control has an accessible name (a label, aria-label or aria-labelledby)
async function assertLabelled(page) {
  const bare = await page.evaluate(() => [...document.querySelectorAll('main input, main select, main textarea')]
    .filter((el) => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label') &&
      !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 120)));
  assert.deepEqual(bare, [], 'every control labelled');
}

async function wizardStep(page, name) {
  await page.locator('.steps [aria-current=step]', {hasText: name}).waitFor();
}

async function previewItems(page) {
  await page.locator('.preview .pv-list li').first().waitFor();
  return page.locator('.preview .pv-list li').allInnerTexts();
}

test('a series created through the wizard, a parameter error from the server corrected on the way', async () => {
  await api('POST', '/api/v1/types', INVOICE);
  const page = await open('Europe/Berlin');
  await page.click('a.new-series');
  await wizardStep(page, 'Type');
  await page.locator('.type-card', {hasText: 'Send invoices'}).click();
  await page.screenshot({path: join(shots, 'wizard-type-light.png')});
  await page.click('button[type=submit]');
  await wizardStep(page, 'Parameters');
  // the manifest's hints: labels, help, groups, the unit; the hidden parameter is not shown
  assert.deepEqual(await page.locator('fieldset.group > legend').allTextContents(), ['Who', 'When']);
  assert.match(await page.locator('label[for=p-amount]').innerText(), /Minimum amount/);
  assert.equal(await page.locator('#p-amount + .unit').innerText(), 'EUR');
  assert.match(await page.locator('#p-customer-help').innerText(), /Empty: every customer/);
  assert.equal(await page.locator('#p-batch').count(), 0, 'hidden: true');
  assert.equal(await page.locator('textarea#p-note').count(), 1, 'widget: textarea');
  // the page's own checks, next to the fields
  await page.click('button[type=submit]');
  await page.locator('#p-due-err', {hasText: 'Required'}).waitFor();
  assert.match(await page.locator('.field-radio', {hasText: 'Region'}).innerText(), /Required/);
  // (the focus moves once the errors are drawn: waited for, not read at once)
  await page.waitForFunction(() => document.activeElement && document.activeElement.name === 'region', null,
    {timeout: 5000}).catch(() => {});
  assert.equal(await page.evaluate(() => document.activeElement.name), 'region', 'the focus on the first error');
  await page.fill('#s-title', 'Monthly invoices');
  await page.check('input[name=region][value=eu]');
  await page.fill('#p-due', '2025-02-29'); // the right shape, no such day: for the server to say
  await page.fill('#p-amount', '250');
  // the query builder over the type's queryable fields
  await page.click('text=Add condition');
  await page.selectOption('select[aria-label="Condition 1: value"]', 'retail');
  await assertLabelled(page);
  await page.screenshot({path: join(shots, 'wizard-params-light.png')});
  await page.click('button[type=submit]');
  await wizardStep(page, 'Schedule');
  // monthly on the first Monday, 08:30 in Berlin: the server's preview, from its now (24 March 2027)
  await page.selectOption('#r-freq', 'monthly');
  await page.check('input[name=r-month] >> nth=1');
  await page.selectOption('select[aria-label=Which]', '1');
  await page.selectOption('select[aria-label=Weekday]', 'MO');
  await page.fill('#r-start', '2027-03-01T08:30');
  await page.fill('#r-tz', 'Europe/Berlin');
  await page.locator('.pv-text', {hasText: 'Europe/Berlin'}).waitFor();
  await page.waitForFunction(() => document.querySelector('.preview .pv-list li')?.textContent.includes('Apr'));
  const items = await previewItems(page);
  assert.match(items[0], /5 Apr 2027[\s\S]*08:30[\s\S]*UTC\+02:00/, 'the first Monday of April, on CEST');
  assert.match(items[1], /3 May 2027[\s\S]*08:30/);
  // a bad zone: the server's field error next to the zone's input, no preview
  await page.fill('#r-tz', 'Europe/Atlantis');
  await page.locator('#r-tz-err', {hasText: 'not found in the tz database'}).waitFor();
  await page.fill('#r-tz', 'Europe/Berlin');
  await page.waitForFunction(() => !document.querySelector('#r-tz-err') && document.querySelector('.pv-list li'));
  await assertLabelled(page);
  await page.screenshot({path: join(shots, 'wizard-schedule-light.png')});
  await page.click('button[type=submit]');
  await wizardStep(page, 'Review');
  assert.match(await page.locator('.review').innerText(), /RRULE:FREQ=MONTHLY;BYDAY=1MO/);
  await page.click('button[type=submit]');
  // the server refuses the date: back on the parameters, its message next to the input
  await wizardStep(page, 'Parameters');
  await page.locator('#p-due-err', {hasText: 'no such date'}).waitFor();
  assert.equal(await page.getAttribute('#p-due', 'aria-invalid'), 'true');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'p-due', null,
    {timeout: 5000}).catch(() => {});
  assert.equal(await page.evaluate(() => document.activeElement.id), 'p-due', 'the focus on the field at fault');
  assert.equal((await api('GET', '/api/v1/series?type=demo.invoice')).items.length, 0, 'nothing created');
  await page.fill('#p-due', '2027-04-30');
  await page.click('button[type=submit]');
  await wizardStep(page, 'Schedule');
  await page.click('button[type=submit]');
  await wizardStep(page, 'Review');
  await page.click('button[type=submit]');
  await page.locator('table[aria-label=Series] tr', {hasText: 'Monthly invoices'}).waitFor();
  await page.locator('.toast', {hasText: 'Created “Monthly invoices”'}).waitFor();
  const [s] = (await api('GET', '/api/v1/series?type=demo.invoice')).items;
  assert.equal(s.schedule, 'RRULE:FREQ=MONTHLY;BYDAY=1MO');
  assert.equal(s.start, '2027-03-01T08:30:00');
  assert.equal(s.tz, 'Europe/Berlin');
  assert.equal(s.next_due, '2027-04-05T06:30:00Z');
  assert.deepEqual(s.params, {region: 'eu', due: '2027-04-30', amount: 250, batch: 500});
  assert.deepEqual(s.query, {field: 'segment', op: '=', value: 'retail'});
  assert.match(await page.locator('tr', {hasText: 'Monthly invoices'}).innerText(), /Mon 5 Apr, 08:30/);
  // the two refusals asked for above (the zone's preview, the date's creation) are
  // handled by the page: blank() leaves the browser's own report of a 400 out
  await close(page);
});

test('editing a series in the wizard saves it with its version', async () => {
  const page = await open('Europe/Berlin');
  await page.locator('a[aria-label="Edit Monthly invoices"]').click();
  await wizardStep(page, 'Parameters');
  assert.equal(await page.inputValue('#s-title'), 'Monthly invoices');
  assert.equal(await page.inputValue('#p-due'), '2027-04-30');
  assert.equal(await page.isChecked('input[name=region][value=eu]'), true);
  assert.equal(await page.inputValue('select[aria-label="Condition 1: value"]'), 'retail');
  await page.fill('#s-title', 'Invoices twice a week');
  await page.click('button[type=submit]');
  await wizardStep(page, 'Schedule');
  assert.equal(await page.inputValue('#r-freq'), 'monthly', 'the stored rule read back into the editor');
  assert.equal(await page.inputValue('select[aria-label=Which]'), '1');
  await page.selectOption('#r-freq', 'weekly');
  await page.locator('label.day', {hasText: 'Wed'}).click();
  await page.check('input[name=r-ends][value=after]');
  await page.fill('#r-count', '10');
  await page.waitForFunction(() => document.querySelectorAll('.preview .pv-list li').length === 2);
  // ten from the first time (1 March): the last two are after the server's now
  const items = await previewItems(page);
  assert.match(items[0], /29 Mar 2027[\s\S]*08:30[\s\S]*UTC\+02:00/, 'Monday 29 March, on CEST');
  assert.match(items[1], /31 Mar 2027/);
  await page.click('button[type=submit]');
  await wizardStep(page, 'Review');
  await page.click('button[type=submit]');
  await page.locator('table[aria-label=Series] tr', {hasText: 'Invoices twice a week'}).waitFor();
  const [s] = (await api('GET', '/api/v1/series?type=demo.invoice')).items;
  assert.equal(s.schedule, 'RRULE:FREQ=WEEKLY;BYDAY=MO,WE');
  assert.equal(s.count, 10);
  assert.equal(s.version, 2);
  await close(page);
});

// presses Tab until the focused element matches `selector` (at most 80 times)
// a step reached by its button: the page moves the focus to the step's heading once it
// is drawn (an effect, later on a slow machine); keys pressed before that could land in
// a field the move then leaves (seen under ASan: "T" typed, "yped hello" lost)
async function wizardSettled(page, name) {
  await wizardStep(page, name);
  await page.waitForFunction(() => document.activeElement && document.activeElement.matches('.wizard h2, h2[tabindex="-1"]'),
    null, {timeout: 5000}).catch(() => {});
}

async function tabTo(page, selector) {
  for (let i = 0; i < 80; i++) {
    if (await page.evaluate((sel) => document.activeElement?.matches(sel), selector)) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`Tab never reached ${selector}`);
}

// presses `key` until fn() is true in the page (at most 20 times)
async function pressUntil(page, key, fn) {
  for (let i = 0; i < 20; i++) {
    if (await page.evaluate(fn)) return;
    await page.keyboard.press(key);
  }
  assert.fail(`${key} never reached ${fn}: the focus is on ${await page.evaluate(() => document.activeElement.outerHTML.slice(0, 100))}`);
}

test('a series created with the keyboard only', async () => {
  const page = await open('UTC');
  await tabTo(page, 'a.new-series');
  await page.keyboard.press('Enter');
  await wizardStep(page, 'Type');
  await tabTo(page, 'input[name=type]');
  await page.keyboard.press('Space');
  await pressUntil(page, 'ArrowDown', () => document.activeElement.value === 'demo.hello');
  await page.keyboard.press('Enter'); // submits the step
  await wizardSettled(page, 'Parameters');
  await tabTo(page, '#s-title');
  await page.keyboard.type('Typed hello');
  await tabTo(page, '#p-who');
  await page.keyboard.type('keyboard');
  await page.keyboard.press('Enter');
  await wizardSettled(page, 'Schedule');
  await tabTo(page, '#r-freq');
  await page.keyboard.type('Every N h'); // a closed select's type-ahead
  assert.equal(await page.inputValue('#r-freq'), 'hours');
  await tabTo(page, '#r-interval');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('6');
  await tabTo(page, '#r-start');
  await page.keyboard.type('01012027');
  await page.keyboard.press('Tab');
  await page.keyboard.type('0000');
  await page.waitForFunction(() => document.querySelector('.pv-text')?.textContent === 'Every 6 hours');
  assert.equal((await previewItems(page)).length, 8);
  await tabTo(page, '#r-interval');
  await page.keyboard.press('Enter');
  await wizardSettled(page, 'Review');
  await tabTo(page, 'button[type=submit]');
  await page.keyboard.press('Enter');
  await page.locator('table[aria-label=Series] tr', {hasText: 'Typed hello'}).waitFor({timeout: 10000})
    .catch(async (e) => assert.fail(`${e.message}\n${await page.locator('main').innerText()}`));
  const s = (await api('GET', '/api/v1/series?type=demo.hello')).items.find((x) => x.title === 'Typed hello');
  assert.equal(s.schedule, 'every:6h');
  assert.equal(s.start, '2027-01-01T00:00:00');
  assert.equal(s.params.who, 'keyboard');
  assert.equal(s.next_due, '2027-03-24T12:00:00Z', 'every 6 hours from the start, after the server\'s now');
  await close(page);
});

test('the wizard in dark and at phone width', async () => {
  const page = await open('Europe/Berlin', 'dark');
  const id = await seriesId('Invoices twice a week');
  await page.goto(`${url}/#/series/${id}/edit`);
  await wizardStep(page, 'Parameters');
  await page.screenshot({path: join(shots, 'wizard-params-dark.png')});
  await page.click('button[type=submit]');
  await wizardStep(page, 'Schedule');
  await previewItems(page);
  await page.screenshot({path: join(shots, 'wizard-schedule-dark.png')});
  await page.setViewportSize({width: 390, height: 844});
  await page.waitForTimeout(200);
  await page.screenshot({path: join(shots, 'wizard-phone-dark.png'), fullPage: true});
  const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1).map((el) => el.className || el.tagName));
  assert.deepEqual(wide, [], 'nothing wider than the phone');
  await close(page);
});

test('keyboard shortcuts: ? lists them, j and k move through the list, g r goes to the runs', async () => {
  const page = await open('UTC');
  const ids = await page.locator('table[aria-label=Series] tbody tr').evaluateAll(
    (rows) => rows.map((r) => Number(r.dataset.series)));
  assert.ok(ids.length >= 3, `${ids.length} rows`);
  const selected = () => page.evaluate(() => Number(new URLSearchParams(location.hash.split('?')[1] || '').get('series')));
  await page.keyboard.press('?');
  const dialog = page.locator('dialog[open]', {hasText: 'Keyboard shortcuts'});
  await dialog.waitFor();
  const listed = await dialog.locator('kbd').allInnerTexts();
  for (const k of ['?', '/', 'j', 'k', 'n']) assert.ok(listed.includes(k), `${k} listed in ${listed}`);
  await page.screenshot({path: join(shots, 'shortcuts.png')});
  await page.keyboard.press('j'); // not while the dialog is open
  assert.equal(await selected(), 0);
  await page.keyboard.press('Escape');
  await dialog.waitFor({state: 'hidden'});
  await page.keyboard.press('j');
  await page.waitForFunction((id) => location.hash.includes(`series=${id}`), ids[0]);
  await page.keyboard.press('j');
  await page.waitForFunction((id) => location.hash.includes(`series=${id}`), ids[1]);
  assert.equal(await page.locator('tr.selected').getAttribute('data-series'), String(ids[1]));
  await page.keyboard.press('k');
  await page.waitForFunction((id) => location.hash.includes(`series=${id}`), ids[0]);
  await page.keyboard.press('k'); // stays on the first
  assert.equal(await selected(), ids[0]);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !location.hash.includes('series='));
  // the header's button opens the same list
  await page.click('button[aria-label="Keyboard shortcuts"]');
  await dialog.waitFor();
  await dialog.locator('button', {hasText: 'Close'}).click();
  await dialog.waitFor({state: 'hidden'});
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Search series');
  await page.keyboard.type('gr'); // typed into the search, not a shortcut
  assert.equal(await page.inputValue('input[type=search]'), 'gr');
  await page.locator('h1', {hasText: 'Process automation'}).click(); // out of the search box
  await page.keyboard.press('g');
  await page.keyboard.press('r');
  await page.locator('table[aria-label=Runs]').waitFor();
  await page.keyboard.press('g');
  await page.keyboard.press('p');
  await page.locator('table[aria-label=Series]').waitFor();
  await close(page);
});

test('the run page cancels a running run and re-runs a finished one', async () => {
  await api('POST', '/api/v1/types', {name: 'ui.sleep', kind: 'scheduled', title: 'Sleeps a minute',
    handler: {command: ['/bin/sleep', '60']}});
  const {ids} = await api('POST', '/api/v1/runs', {type: 'ui.sleep', params: {}});
  for (let i = 0; i < 100 && (await api('GET', `/api/v1/runs/${ids[0]}`)).state !== 'running'; i++)
    await new Promise((r) => setTimeout(r, 100));
  const page = await open('UTC');
  await page.goto(`${url}/#/runs/${ids[0]}`);
  await page.locator('.run-head .badge-running').waitFor();
  assert.equal(await page.locator('.run-head button', {hasText: 'Re-run'}).count(), 0, 'not while it runs');
  await page.click('.run-head button:has-text("Cancel run")');
  await page.locator('dialog[open]', {hasText: 'asked to stop'}).waitFor();
  await page.locator('dialog[open] button', {hasText: 'Cancel run'}).click();
  await page.locator('.toast', {hasText: `Asked run ${ids[0]} to stop`}).waitFor();
  await page.locator('.run-head .badge-cancelled').waitFor({timeout: 15000});
  const gone = await api('GET', `/api/v1/runs/${ids[0]}`);
  assert.equal(gone.state, 'cancelled');
  assert.equal(gone.cancelled_by, ADA.name);
  assert.match(await page.locator('.card', {hasText: 'Attempt'}).innerText(), /Cancelled by\s+ada\s+cancelled in the web UI/);
  await page.screenshot({path: join(shots, 'run-cancelled.png')});
  await page.click('.run-head button:has-text("Re-run")');
  await page.waitForFunction((id) => /#\/runs\/\d+$/.test(location.hash) && !location.hash.endsWith(`/${id}`), ids[0]);
  const again = Number(await page.evaluate(() => location.hash.match(/(\d+)$/)[1]));
  const rerun = await api('GET', `/api/v1/runs/${again}`);
  assert.equal(rerun.rerun_of, ids[0]);
  await page.locator('.run-head', {hasText: `Run #${again}`}).waitFor();
  await page.locator('.card a', {hasText: `Run #${ids[0]}`}).waitFor(); // re-run of
  await api('POST', `/api/v1/runs/${again}/cancel`, {});
  // a viewer sees the run without the buttons (vera: added above, unless only this test runs)
  await api('POST', '/api/v1/users', {name: 'vera', role: 'viewer', password: PW}).catch((e) => {
    if (!/: 409 /.test(e.message)) throw e;
  });
  const view = await blank('UTC');
  await fillLogin(view, {name: 'vera', password: PW});
  await view.waitForSelector('table[aria-label=Series] tbody tr');
  await view.goto(`${url}/#/runs/${ids[0]}`);
  await view.locator('.run-head .badge-cancelled').waitFor();
  assert.equal(await view.locator('.run-head button').count(), 0);
  await close(view);
  await close(page);
});

test('a running run\'s messages arrive on its page as they are logged, over the live events', async () => {
  await api('POST', '/api/v1/types', {name: 'ui.ticks', kind: 'scheduled', title: 'Ticks, then waits',
    handler: {command: ['/bin/sh', '-c', 'for i in 1 2 3; do echo "::info::tick $i"; sleep 1; done; sleep 60']}});
  const {ids} = await api('POST', '/api/v1/runs', {type: 'ui.ticks', params: {}});
  for (let i = 0; i < 100 && (await api('GET', `/api/v1/runs/${ids[0]}`)).state !== 'running'; i++)
    await new Promise((r) => setTimeout(r, 100));
  const page = await open('UTC');
  const reads = [];
  page.on('request', (r) => { if (r.url().includes(`/api/v1/runs/${ids[0]}/messages`)) reads.push(r.url()); });
  const streams = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/events')) streams.push(r.url()); });
  await page.goto(`${url}/#/runs/${ids[0]}`);
  await page.locator('.run-head .badge-running').waitFor();
  await page.locator('.log li', {hasText: 'tick 3'}).waitFor({timeout: 15000});
  const lines = await page.locator('.log li .text').allInnerTexts();
  assert.deepEqual(lines, ['tick 1', 'tick 2', 'tick 3'], 'each once, in order');
  assert.match(await page.locator('button.chip-info').innerText(), /info \(3\)/);
  assert.ok(streams.some((u) => u.endsWith(`/api/v1/events?run=${ids[0]}`)), streams.join(' '));
  assert.ok(reads.length <= 2, `the messages read ${reads.length} times: followed live, not polled`);
  await api('POST', `/api/v1/runs/${ids[0]}/cancel`, {});
  await page.locator('.run-head .badge-cancelled').waitFor({timeout: 15000}); // the end, from the stream too
  await close(page);
});

// axe-core run in the page: serious and critical violations of WCAG 2.x A/AA
async function axe(page, where) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help}; ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  return found.map((f) => `${where}: ${f}`);
}

test('axe-core finds no serious accessibility violation on any page, light or dark', async () => {
  const found = [];
  const runs = await api('GET', '/api/v1/runs?limit=100');
  const run = runs.items.find((r) => r.state === 'succeeded');
  const id = await seriesId('Morning hello');
  for (const scheme of ['light', 'dark']) {
    const login = await blank('Europe/Berlin', scheme);
    found.push(...await axe(login, `${scheme} login`));
    await close(login);
    const page = await open('Europe/Berlin', scheme);
    for (const [name, hash, ready] of [
      ['list and calendar', `#/?series=${id}&week=${WEEK}`, '.cal-body .ev'],
      ['runs', '#/runs', 'table[aria-label=Runs] tbody tr'],
      ['run', `#/runs/${run.id}`, '.run-head'],
      ['wizard', '#/new', '.steps [aria-current=step]'],
      ['profile', '#/profile', 'main h1'],
    ]) {
      await page.goto(`${url}/${hash}`);
      await page.waitForSelector(ready);
      await page.waitForTimeout(300);
      found.push(...await axe(page, `${scheme} ${name}`));
    }
    await page.keyboard.press('?');
    await page.locator('dialog[open]').waitFor();
    found.push(...await axe(page, `${scheme} shortcuts`));
    await page.keyboard.press('Escape');
    await close(page);
  }
  assert.deepEqual(found, []);
});

test('bulk actions: disable the series picked, enable every series the search matches', async () => {
  const page = await open('UTC');
  const titles = ['Morning hello', 'Weekly clean-up'];
  for (const t of titles) await page.check(`input[aria-label="Select ${t}"]`);
  await page.locator('.bulk', {hasText: '2 selected'}).waitFor();
  await page.click('.bulk button:has-text("Disable")');
  await page.locator('dialog[open]', {hasText: 'Disable: 2 series?'}).waitFor();
  await page.locator('dialog[open] button', {hasText: 'Disable 2'}).click();
  await page.locator('.toast', {hasText: 'Disabled 2 of 2 series.'}).waitFor();
  const state = async () => Object.fromEntries((await api('GET', '/api/v1/series')).items.map((s) => [s.title, s.enabled]));
  let now = await state();
  assert.deepEqual(titles.map((t) => now[t]), [false, false]);
  assert.equal(now['Weekday report'], true, 'not picked, not changed');
  assert.equal(await page.locator('.bulk', {hasText: 'selected'}).count(), 0, 'the selection cleared');
  // no selection: the buttons act on every series shown (here what the search matches)
  await page.fill('input[type=search]', 'demo.hello');
  const want = (await api('GET', '/api/v1/series?type=demo.hello')).items.length;
  await page.locator('.bulk', {hasText: `All ${want} shown`}).waitFor();
  const shown = await page.locator('table[aria-label=Series] tbody tr').count();
  assert.equal(shown, want);
  await page.click('.bulk button:has-text("Enable")');
  await page.locator('dialog[open]', {hasText: `Enable: ${shown} series?`}).waitFor();
  await page.locator('dialog[open] button', {hasText: `Enable ${shown}`}).click();
  await page.locator('.toast', {hasText: `Enabled ${shown} of ${shown} series.`}).waitFor();
  now = await state();
  assert.deepEqual(titles.map((t) => now[t]), [true, true]);
  // the header's box picks every series shown, and a second click none
  await page.check('input[aria-label="Select every series shown"]');
  await page.locator('.bulk', {hasText: `${shown} selected`}).waitFor();
  await page.uncheck('input[aria-label="Select every series shown"]');
  await page.locator('.bulk', {hasText: `All ${shown} shown`}).waitFor();
  await close(page);
});
