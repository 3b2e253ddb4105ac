// account: the login page (name and password, then the code of a second factor when
// the account has one), the forced password change of a first login, and the user's
// profile (display name, time zone, password, TOTP enrolment with its recovery codes).
// Credentials go through api.js; nothing here is stored anywhere.
import {h} from 'preact';
import {useState} from 'preact/hooks';
import htm from 'htm';
import qrcode from 'qrcode-generator';
import {request, logIn} from './api.js';

const html = htm.bind(h);

function Brand() {
  return html`<div class="brand brand-large"><span class="logo" aria-hidden="true"></span>sked</div>`;
}

// a form's submit with busy and error states: run() may throw an ApiError
function useSubmit(run) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    if (e) e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await run();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return [submit, busy, error, setError];
}

function ErrorText({error, field}) {
  if (!error || (field !== undefined && error.field !== field)) return null;
  return html`<p class="field-error" role="alert">${error.message}</p>`;
}

// ---- login ----

export function SignIn({onSignedIn}) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [step, setStep] = useState('password'); // then 'code' for a second factor
  const [submit, busy, error, setError] = useSubmit(async () => {
    try {
      await logIn(name.trim(), password, step === 'code' ? code.trim() : undefined);
    } catch (err) {
      if (err.status === 401 && err.field === 'code' && step === 'password') {
        setStep('code');
        return;
      }
      if (err.status === 401 && !err.field) err.message = 'Wrong user name or password.';
      throw err;
    }
    setPassword('');
    setCode('');
    onSignedIn();
  });
  const back = () => {
    setStep('password');
    setCode('');
    setError(null);
  };
  return html`<main class="signin">
    ${step === 'password' ? html`<form class="card signin-card" onSubmit=${submit} aria-label="Sign in">
      <${Brand} />
      <h1>Sign in</h1>
      <label for="login-name">User name</label>
      <input id="login-name" name="username" autocomplete="username" required autofocus
        value=${name} onInput=${(e) => setName(e.target.value)} />
      <label for="login-password">Password</label>
      <input id="login-password" name="password" type="password" autocomplete="current-password" required
        value=${password} onInput=${(e) => setPassword(e.target.value)} />
      <${ErrorText} error=${error} />
      <button class="btn btn-primary btn-block" type="submit" disabled=${busy || !name || !password}>Sign in</button>
    </form>` : html`<form class="card signin-card" onSubmit=${submit} aria-label="Second factor">
      <${Brand} />
      <h1>Two-step sign-in</h1>
      <p class="muted">Enter the six-digit code your authenticator app shows for sked, or one of your recovery
        codes.</p>
      <label for="login-code">Code</label>
      <input id="login-code" name="code" autocomplete="one-time-code" required autofocus spellcheck="false"
        value=${code} onInput=${(e) => setCode(e.target.value)} />
      <${ErrorText} error=${error} />
      <button class="btn btn-primary btn-block" type="submit" disabled=${busy || !code}>Verify</button>
      <button class="btn btn-ghost btn-block" type="button" onClick=${back}>Back</button>
    </form>`}
  </main>`;
}

// ---- the password ----

function PasswordForm({me, onDone, submitLabel}) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [done, setDone] = useState(false);
  const [submit, busy, error, setError] = useSubmit(async () => {
    if (next !== again) {
      setError({field: 'again', message: 'The two new passwords differ.'});
      return;
    }
    await request('POST', `/api/v1/users/${encodeURIComponent(me.name)}/password`,
      {body: {current_password: current, password: next}});
    setCurrent('');
    setNext('');
    setAgain('');
    setDone(true);
    onDone && onDone();
  });
  return html`<form class="stack" onSubmit=${submit} aria-label="Change password">
    <label for="pw-current">Current password</label>
    <input id="pw-current" type="password" autocomplete="current-password" required value=${current}
      onInput=${(e) => setCurrent(e.target.value)} />
    <${ErrorText} error=${error} field="current_password" />
    <label for="pw-new">New password <span class="muted">(8 to 128 characters)</span></label>
    <input id="pw-new" type="password" autocomplete="new-password" required minlength="8" maxlength="128"
      value=${next} onInput=${(e) => setNext(e.target.value)} />
    <${ErrorText} error=${error} field="password" />
    <label for="pw-again">New password again</label>
    <input id="pw-again" type="password" autocomplete="new-password" required value=${again}
      onInput=${(e) => setAgain(e.target.value)} />
    <${ErrorText} error=${error} field="again" />
    ${error && !['current_password', 'password', 'again'].includes(error.field) && html`<${ErrorText} error=${error} />`}
    ${done && !error && html`<p class="ok-text" role="status">Password changed. Your other sessions were ended.</p>`}
    <div><button class="btn btn-primary" type="submit" disabled=${busy || !current || !next || !again}>${submitLabel}</button></div>
  </form>`;
}

// the first login's forced change (the bootstrap admin's password was printed once)
export function ForcedPasswordChange({me, onDone, onSignOut}) {
  return html`<main class="signin">
    <div class="card signin-card">
      <${Brand} />
      <h1>Choose a new password</h1>
      <p class="muted">${`Signed in as ${me.name}. The password you used was given to you to sign in once: choose
        your own before going on.`}</p>
      <${PasswordForm} me=${me} onDone=${onDone} submitLabel="Change password" />
      <button class="btn btn-ghost btn-block" type="button" onClick=${onSignOut}>Sign out</button>
    </div>
  </main>`;
}

// ---- the second factor ----

function RecoveryCodes({codes, onDone}) {
  return html`<div class="recovery" role="region" aria-label="Recovery codes">
    <p><strong>Your recovery codes.</strong> Each signs you in once instead of a code, if you lose the device.
      Keep them somewhere safe now: they are shown this once.</p>
    <ol class="codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ol>
    <button class="btn btn-primary" type="button" onClick=${onDone}>I have saved them</button>
  </div>`;
}

// The otpauth:// address as a QR code to scan: an SVG of one path (the dark modules),
// drawn here from the address (nothing leaves the page), no inline style (the CSP)
function QrCode({text}) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  let d = '';
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + 4} ${r + 4}h1v1h-1z`;
  return html`<svg class="qr" viewBox=${`0 0 ${n + 8} ${n + 8}`} width="200" height="200" role="img"
    aria-label="QR code of the address, for the authenticator app to scan" shape-rendering="crispEdges">
    <rect width="100%" height="100%" fill="#ffffff" /><path d=${d} fill="#000000" /></svg>`;
}

function TotpSetup({me, onChanged}) {
  const [password, setPassword] = useState('');
  const [enrolled, setEnrolled] = useState(null); // {secret, uri}
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState(null);
  const user = `/api/v1/users/${encodeURIComponent(me.name)}`;
  const [enrol, busy1, error1] = useSubmit(async () => {
    setEnrolled(await request('POST', `${user}/totp`, {body: {current_password: password}}));
    setPassword('');
  });
  const [confirm, busy2, error2] = useSubmit(async () => {
    const r = await request('POST', `${user}/totp/confirm`, {body: {code: code.trim()}});
    setEnrolled(null);
    setCode('');
    setCodes(r.recovery_codes);
  });
  if (codes) return html`<${RecoveryCodes} codes=${codes} onDone=${() => { setCodes(null); onChanged(); }} />`;
  if (!enrolled) return html`<form class="stack" onSubmit=${enrol} aria-label="Set up two-step sign-in">
    <p class="muted">With two-step sign-in, signing in needs a code from an authenticator app (any app for
      TOTP codes) besides your password.</p>
    <label for="totp-password">Current password</label>
    <input id="totp-password" type="password" autocomplete="current-password" required value=${password}
      onInput=${(e) => setPassword(e.target.value)} />
    <${ErrorText} error=${error1} />
    <div><button class="btn btn-primary" type="submit" disabled=${busy1 || !password}>Set up</button></div>
  </form>`;
  return html`<form class="stack" onSubmit=${confirm} aria-label="Confirm two-step sign-in">
    <p>Add this account to your authenticator app: scan the code, or type the secret.</p>
    <${QrCode} text=${enrolled.uri} />
    <dl class="kv">
      <dt>Secret</dt><dd><code class="secret" data-secret>${enrolled.secret}</code></dd>
      <dt>Address</dt><dd><code class="secret" data-uri>${enrolled.uri}</code></dd>
    </dl>
    <label for="totp-code">The code the app shows now</label>
    <input id="totp-code" autocomplete="one-time-code" inputmode="numeric" required value=${code}
      onInput=${(e) => setCode(e.target.value)} />
    <${ErrorText} error=${error2} />
    <div><button class="btn btn-primary" type="submit" disabled=${busy2 || !code}>Turn on</button></div>
  </form>`;
}

function TotpOn({me, onChanged}) {
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState(null);
  const user = `/api/v1/users/${encodeURIComponent(me.name)}`;
  const body = () => ({current_password: password, code: code.trim()});
  const clear = () => { setPassword(''); setCode(''); };
  const [renew, busy1, error1] = useSubmit(async () => {
    const r = await request('POST', `${user}/totp/recovery-codes`, {body: body()});
    clear();
    setCodes(r.recovery_codes);
  });
  const [off, busy2, error2] = useSubmit(async () => {
    await request('POST', `${user}/totp/disable`, {body: body()});
    clear();
    onChanged();
  });
  if (codes) return html`<${RecoveryCodes} codes=${codes} onDone=${() => setCodes(null)} />`;
  const error = error1 || error2;
  return html`<form class="stack" onSubmit=${renew} aria-label="Two-step sign-in">
    <p><span class="badge badge-succeeded">On</span> Signing in needs a code from your authenticator app.</p>
    <p class="muted">To get new recovery codes or turn it off, confirm with your password and a code.</p>
    <label for="totp-off-password">Current password</label>
    <input id="totp-off-password" type="password" autocomplete="current-password" required value=${password}
      onInput=${(e) => setPassword(e.target.value)} />
    <label for="totp-off-code">Code (or a recovery code)</label>
    <input id="totp-off-code" autocomplete="one-time-code" required value=${code} onInput=${(e) => setCode(e.target.value)} />
    <${ErrorText} error=${error} />
    <div class="row">
      <button class="btn" type="submit" disabled=${busy1 || !password || !code}>New recovery codes</button>
      <button class="btn btn-danger-ghost" type="button" disabled=${busy2 || !password || !code} onClick=${off}>Turn off</button>
    </div>
  </form>`;
}

function Totp({me, onChanged}) {
  return me.user.totp === 'on' ? html`<${TotpOn} me=${me} onChanged=${onChanged} />`
    : html`<${TotpSetup} me=${me} onChanged=${onChanged} />`;
}

// a session that must enrol before anything else (an admin requires it of its role)
export function ForcedTotp({me, onDone, onSignOut}) {
  return html`<main class="signin">
    <div class="card signin-card signin-wide">
      <${Brand} />
      <h1>Set up two-step sign-in</h1>
      <p class="muted">${`An administrator requires two-step sign-in for ${me.role}s. Signed in as ${me.name}.`}</p>
      <${Totp} me=${me} onChanged=${onDone} />
      <button class="btn btn-ghost btn-block" type="button" onClick=${onSignOut}>Sign out</button>
    </div>
  </main>`;
}

// ---- the profile ----

function Details({me, onChanged}) {
  const [display, setDisplay] = useState(me.user.display_name || '');
  const [tz, setTz] = useState(me.user.tz || '');
  const [saved, setSaved] = useState(false);
  const [submit, busy, error] = useSubmit(async () => {
    setSaved(false);
    await request('PATCH', `/api/v1/users/${encodeURIComponent(me.name)}`,
      {body: {display_name: display.trim() || null, tz: tz.trim() || null}});
    setSaved(true);
    onChanged();
  });
  return html`<form class="stack" onSubmit=${submit} aria-label="Details">
    <label for="me-display">Display name</label>
    <input id="me-display" maxlength="200" value=${display} onInput=${(e) => setDisplay(e.target.value)} />
    <${ErrorText} error=${error} field="display_name" />
    <label for="me-tz">Time zone <span class="muted">(IANA name, e.g. Europe/Paris; empty: the browser's)</span></label>
    <input id="me-tz" value=${tz} onInput=${(e) => setTz(e.target.value)} />
    <${ErrorText} error=${error} field="tz" />
    ${error && !['display_name', 'tz'].includes(error.field) && html`<${ErrorText} error=${error} />`}
    ${saved && !error && html`<p class="ok-text" role="status">Saved.</p>`}
    <div><button class="btn btn-primary" type="submit" disabled=${busy}>Save</button></div>
  </form>`;
}

export function ProfilePage({me, onChanged}) {
  return html`<main class="page page-profile">
    <h1>Your profile</h1>
    <p class="muted">${`${me.name} · ${me.role}`}</p>
    <section class="card" aria-labelledby="prof-details"><h2 id="prof-details">Details</h2>
      <${Details} me=${me} onChanged=${onChanged} /></section>
    <section class="card" aria-labelledby="prof-password"><h2 id="prof-password">Password</h2>
      <${PasswordForm} me=${me} submitLabel="Change password" /></section>
    <section class="card" aria-labelledby="prof-totp"><h2 id="prof-totp">Two-step sign-in</h2>
      <${Totp} me=${me} onChanged=${onChanged} /></section>
  </main>`;
}
