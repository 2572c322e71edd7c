// api.js: the console's one way to call synkro's admin API (same origin).
// api(method, path, body) resolves to the parsed JSON answer (null for 204) and rejects with an
// ApiError {status, code, message, body}; a 401 sends the user to #/signin. The session is a
// server-side one behind an HttpOnly cookie (POST /api/session); its CSRF token is kept here,
// in memory only, and sent as X-CSRF-Token on every request that changes something.
// Must not: store a token or the CSRF token in localStorage, sessionStorage or a cookie.

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// The signed-in user: {user, csrf_token, expires_at, idle_timeout_s}; user is null when signed out.
export const session = { user: null, csrf_token: null, expires_at: null, idle_timeout_s: null };

const listeners = new Set();
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function setSession(s) {
  session.user = s ? s.user || 'admin' : null;
  session.csrf_token = s ? s.csrf_token || null : null;
  session.expires_at = s ? s.expires_at || null : null;
  session.idle_timeout_s = s ? s.idle_timeout_s ?? null : null;
  for (const fn of listeners) fn(session);
}

// {code, message} of an error answer: synkro's {"error":{"code","message"}} or the session
// API's {"error":"code","message":".."}.
function errorParts(status, body) {
  const e = body && body.error;
  if (e && typeof e === 'object') return { code: e.code || 'error', message: e.message || '' };
  if (typeof e === 'string') return { code: e, message: (body && body.message) || '' };
  return { code: 'http_' + status, message: '' };
}

const fallbackMessages = {
  0: 'synkro did not answer. Check that it is running, then try again.',
  401: 'You are signed out. Sign in again to continue.',
  403: 'synkro refused this request. Reload the page and try again.',
  404: 'Not found. It may have been deleted; go back to the list.',
  409: 'Someone else changed this meanwhile. Review their change, then save again.',
  429: 'Too many attempts. Wait a moment, then try again.',
  502: 'A CRM did not answer. Check its credentials with synkro doctor, then try again.',
  503: 'synkro cannot reach its database right now. Try again in a moment.',
};

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined && body !== null) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && session.csrf_token) {
    headers['X-CSRF-Token'] = session.csrf_token;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', fallbackMessages[0], null);
  }
  let data = null;
  if (res.status !== 204) {
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = { text };
      }
    }
  }
  if (!res.ok) {
    const { code, message } = errorParts(res.status, data);
    const err = new ApiError(res.status, code,
      message || fallbackMessages[res.status] || `synkro answered ${res.status}.`, data);
    if (res.status === 401 && !path.startsWith('/api/session')) {
      setSession(null);
      if (!location.hash.startsWith('#/signin')) {
        const back = location.hash && location.hash !== '#/signin' ? location.hash : '';
        location.hash = '#/signin' + (back ? '?next=' + encodeURIComponent(back) : '');
      }
    }
    throw err;
  }
  return data;
}

// Reads the current session (after a reload): true when signed in.
export async function restoreSession() {
  if (session.user) return true;
  try {
    const s = await api('GET', '/api/session');
    setSession(s);
    return true;
  } catch (e) {
    return false;
  }
}

// Exchanges an admin or user token for a session; rejects with the ApiError of a refusal.
export async function signIn(token) {
  const s = await api('POST', '/api/session', { token });
  setSession(s);
  return session;
}

// Revokes the session (the server clears the cookie); signed out here even when that fails.
export async function signOut() {
  try {
    await api('DELETE', '/api/session');
  } finally {
    setSession(null);
  }
}
