// ui.js: the small DOM helpers every page uses (no framework). Text always goes in as text
// (textContent), never as HTML, so a CRM value cannot inject markup.
// Must not: call the API or know any page.

// el('button', {class: 'primary', text: 'Save', on: {click: fn}, disabled: true}, child, ...)
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') node.textContent = String(v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else if (k === 'style' && typeof v === 'object') Object.assign(node.style, v);
    else if (k === 'value' && 'value' in node) node.value = v;
    else if (k === 'checked' || k === 'selected') node[k] = Boolean(v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

const numberFormat = new Intl.NumberFormat('en-US');
export function fmtNumber(n) {
  if (n === null || n === undefined || n === '') return '–';
  const v = Number(n);
  return Number.isFinite(v) ? numberFormat.format(v) : String(n);
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString('en-GB', {
    year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit',
    second: '2-digit', hour12: false,
  });
}

export function fmtAgo(iso) {
  if (!iso) return '–';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return String(iso);
  const s = Math.round((Date.now() - t) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  let text;
  if (a < 5) return 'just now';
  if (a < 60) text = `${a} s`;
  else if (a < 3600) text = `${Math.round(a / 60)} min`;
  else if (a < 86400) text = `${Math.round(a / 3600)} h`;
  else text = `${Math.round(a / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

// What to do next, by HTTP status, when the answer did not say it.
const nextSteps = {
  0: 'Check that synkro is running, then try again.',
  400: 'Correct the input shown, then try again.',
  401: 'Sign in again.',
  403: 'Reload the page (a new session token is needed), then try again.',
  404: 'It may have been deleted: go back to the list.',
  409: 'Reload to see the current version, then apply your change again.',
  429: 'Wait a moment, then try again.',
  502: 'A CRM did not answer: run synkro doctor (Configuration page) to check its credentials.',
  503: 'synkro cannot reach its database or a CRM right now; try again in a moment.',
};

// A box saying what went wrong and what to do next; err is an ApiError, an Error or a string.
export function errorBox(err, title) {
  const status = err && typeof err.status === 'number' ? err.status : null;
  const message = typeof err === 'string' ? err : (err && err.message) || 'Something went wrong.';
  const next = status !== null ? nextSteps[status] || nextSteps[status >= 500 ? 503 : 400] : '';
  const problems = err && err.body && Array.isArray(err.body.problems) ? err.body.problems : [];
  return el('div', { class: 'error-box', role: 'alert' },
    el('strong', { text: title || (status ? `Error ${status}` : 'Error') }),
    el('p', { text: message }),
    problems.length ? el('ul', {}, problems.slice(0, 8).map((p) =>
      el('li', {}, p.path ? el('code', { text: p.path }) : null, p.path ? ' ' : null, p.message))) : null,
    next && !message.includes(next) ? el('p', { class: 'next', text: next }) : null);
}

// <div role=progressbar> with its label; value/max may be updated by calling .update(v, max).
export function progressBar(value, max, label) {
  const fill = el('span', { class: 'fill' });
  const text = el('span', { class: 'progress-text' });
  const bar = el('div', {
    class: 'progress', role: 'progressbar', 'aria-label': label || 'Progress',
    'aria-valuemin': 0,
  }, el('span', { class: 'track' }, fill), text);
  bar.update = (v, m) => {
    const pct = m > 0 ? Math.max(0, Math.min(100, (100 * v) / m)) : 0;
    fill.style.width = pct.toFixed(1) + '%';
    bar.setAttribute('aria-valuemax', String(m));
    bar.setAttribute('aria-valuenow', String(v));
    text.textContent = `${label ? label + ': ' : ''}${fmtNumber(v)} of ${fmtNumber(m)}`;
  };
  bar.update(value || 0, max || 0);
  return bar;
}

// columns: [{key, label, render?(row) -> Node|string, class?}]; rows: array of objects.
export function table(columns, rows, opts) {
  const o = opts || {};
  const head = el('thead', {}, el('tr', {}, columns.map((c) =>
    el('th', { scope: 'col', class: c.class, text: c.label }))));
  const body = el('tbody', {}, rows.length ? rows.map((r) => el('tr', {}, columns.map((c) => {
    const v = c.render ? c.render(r) : r[c.key];
    return el('td', { class: c.class }, v instanceof Node ? v : v === null || v === undefined ? '–' : String(v));
  }))) : el('tr', {}, el('td', { colspan: columns.length, class: 'empty', text: o.empty || 'Nothing here yet.' })));
  return el('div', { class: 'table-wrap' },
    el('table', { class: 'table' }, o.caption ? el('caption', { text: o.caption }) : null, head, body));
}

export function spinner(label) {
  return el('div', { class: 'spinner', role: 'status', 'aria-live': 'polite' },
    el('span', { class: 'spin', 'aria-hidden': 'true' }), el('span', { text: label || 'Loading…' }));
}

// A message at the bottom of the screen for a few seconds; kind: info, success, error.
export function toast(message, kind) {
  const box = document.getElementById('toasts') || document.body;
  const t = el('div', { class: ['toast', kind || 'info'], text: message });
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
  return t;
}

// Runs promise; shows spinner(label) in place of `slot` only when it takes more than 300 ms.
export async function withProgress(slot, label, promise) {
  let shown = null;
  const timer = setTimeout(() => {
    shown = spinner(label);
    slot.append(shown);
  }, 300);
  try {
    return await promise;
  } finally {
    clearTimeout(timer);
    if (shown) shown.remove();
  }
}
