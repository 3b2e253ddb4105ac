// api: the one place that sends credentials.  The session is the browser's
// HttpOnly cookie (POST /api/v1/session sets it; script never sees it); the only
// other credential, the session's CSRF token, is kept here in memory (a variable:
// gone with the page, never in sessionStorage or localStorage; GET /api/v1/session
// gives it back after a reload) and sent as X-CSRF-Token with every request that
// changes something.
let csrf = null;

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.field = problem && problem.field;
  }
}

// request('GET', '/api/v1/series', {query: {limit: 100}}) → the parsed JSON (null for
// 204).  A 401 (the session ended: logged out elsewhere, timed out, user disabled)
// tells the app to show the login page, unless `quiet` (the login's own requests).
export async function request(method, path, {query, body, quiet} = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {}))
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (csrf && method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  const resp = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin', cache: 'no-store',
  });
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (resp.status === 401 && !quiet) {
    csrf = null;
    window.dispatchEvent(new Event('sked-signed-out'));
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// The signed-in user (GET /api/v1/session: name, role, user, the flags of a session
// that must change its password or enrol a second factor first), or null.
export async function currentSession() {
  try {
    const me = await request('GET', '/api/v1/session', {quiet: true});
    csrf = me.csrf_token || null;
    return me;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

// Logs in; with a second factor, the first try without `code` throws an ApiError
// whose field is "code" (nothing is kept between the two tries).
export async function logIn(name, password, code) {
  const body = {name, password};
  if (code) body.code = code;
  const reply = await request('POST', '/api/v1/session', {body, quiet: true});
  csrf = reply.csrf_token;
  return reply;
}

export async function logOut() {
  try {
    await request('DELETE', '/api/v1/session', {quiet: true});
  } finally {
    csrf = null;
  }
}
