// api: the one place that holds and sends credentials.  Until web sessions exist
// (the users issue: POST /api/v1/session, a __Host- cookie and a CSRF header), the
// sign-in page takes the admin token, kept in sessionStorage (gone with the tab) and
// sent as "Authorization: Bearer"; switching to sessions changes this file only.
const KEY = 'sked.token';

export function signedIn() {
  return !!sessionStorage.getItem(KEY);
}

export function signIn(token) {
  sessionStorage.setItem(KEY, token.trim());
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.field = problem && problem.field;
  }
}

// request('GET', '/api/v1/series', {query: {limit: 100}}) → the parsed JSON (null for
// 204).  A 401 signs out (the token was revoked or wrong) and throws.
export async function request(method, path, {query, body} = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {}))
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  const headers = {Accept: 'application/json'};
  const token = sessionStorage.getItem(KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin', cache: 'no-store',
  });
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (resp.status === 401) {
    signOut();
    window.dispatchEvent(new Event('sked-signed-out'));
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}
