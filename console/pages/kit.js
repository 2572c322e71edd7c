// kit.js: helpers shared by the pages helper's pages (imports, health, errors, conflicts, records,
// configuration): a DOM builder, tables, polling that stops with the page, busy buttons, change
// detection, and the words for error categories and conflict reasons. Uses the shell's ui.js for
// errorBox/fmt*/toast when present. Must not: fetch by itself or keep state across pages.

export function h(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) n.addEventListener(ev, fn);
    else if (k in n && typeof v !== 'string') n[k] = v;
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// The id of the route (#/health/<id>, #/records/<id>): app.js's params.id.
export function param(ctx) {
  const p = ctx.params;
  if (p == null) return undefined;
  if (Array.isArray(p)) return p[0];
  return p.id;
}

// A value of the hash's query (#/imports?mapping=3): app.js's params.query.
export function queryParam(ctx, name) {
  const q = ctx.params?.query;
  return q && typeof q.get === 'function' ? q.get(name) : null;
}

const nf = new Intl.NumberFormat('en-US');
export function fmtNumber(ctx, n) {
  if (n == null) return '–';
  return ctx?.ui?.fmtNumber ? ctx.ui.fmtNumber(n) : nf.format(n);
}
export function fmtTime(ctx, iso) {
  if (!iso) return '–';
  if (ctx?.ui?.fmtTime) return ctx.ui.fmtTime(iso);
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString('en-GB', {hour12: false});
}
export function fmtAge(seconds) {
  if (seconds == null) return 'none waiting';
  const s = Math.round(Number(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
export function fmtMs(ms) {
  if (ms == null) return '–';
  const v = Number(ms);
  return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(v < 10000 ? 1 : 0)} s`;
}

// "1 mapping", "3 mappings" (with the number formatted).
export function plural(n, one, many = `${one}s`) {
  return `${nf.format(Number(n) || 0)} ${Number(n) === 1 ? one : many}`;
}

// table([{label, cell: row => Node|string, cls}], rows, {caption, empty})
export function table(columns, rows, {caption, empty = 'Nothing to show.', cls = ''} = {}) {
  if (!rows.length) return h('p', {class: 'empty-note'}, empty);
  const t = h('table', {class: `table data-table ${cls}`.trim()});
  if (caption) t.append(h('caption', {}, caption));
  t.append(h('thead', {}, h('tr', {}, columns.map(c => h('th', {scope: 'col', class: c.cls}, c.label)))));
  t.append(h('tbody', {}, rows.map(r => h('tr', {}, columns.map(c => h('td', {class: c.cls}, c.cell(r)))))));
  return h('div', {class: 'table-wrap'}, t);
}

// An error box saying what went wrong and what to do next (the shell's when it has one).
export function errorBox(ctx, err, doNext) {
  if (ctx?.ui?.errorBox && !doNext) return ctx.ui.errorBox(err);
  const msg = err?.message || String(err);
  return h('div', {class: 'error-box', role: 'alert'},
           h('p', {}, h('strong', {}, 'Something went wrong: '), msg),
           h('p', {}, doNext || nextStep(err)));
}

export function nextStep(err) {
  const s = err?.status;
  if (s === 0 || s === undefined) return 'Check that synkro is running and reachable, then try again.';
  if (s === 401) return 'Your session has ended: sign in again.';
  if (s === 403) return 'Reload the page and try again; if it keeps happening, sign out and in again.';
  if (s === 404) return 'It may have been deleted: go back to the list and pick it again.';
  if (s === 409) return 'Something changed meanwhile: reload the page and try again.';
  if (s === 429) return 'Too many requests: wait a minute and try again.';
  if (s === 502 || s === 503) return 'A CRM or the database is not answering: check Configuration > Checks, then try again.';
  return 'Try again; if it keeps failing, look at synkro\'s log for the details.';
}

// The API route does not exist on this server (an older build), as opposed to an unknown record.
export function routeMissing(err) {
  return err?.status === 404 && /no such endpoint/i.test(err?.message || '');
}

export function toast(ctx, message, kind = 'info') {
  if (ctx?.ui?.toast) return ctx.ui.toast(message, kind);
  const live = document.getElementById('pages-live') ||
               document.body.appendChild(h('div', {id: 'pages-live', class: 'visually-hidden', 'aria-live': 'polite'}));
  live.textContent = message;
}

export function spinner(ctx, label) {
  if (ctx?.ui?.spinner) return ctx.ui.spinner(label);
  return h('p', {class: 'loading', role: 'status'}, h('span', {class: 'spin', 'aria-hidden': 'true'}), label);
}

// Runs fn now and every ms (at most every 2 s for live pages) until stop(); a slow answer never
// overlaps the next; a hidden tab skips rounds.
export function poll(fn, ms = 2000) {
  let timer = null;
  let stopped = false;
  const round = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { await fn(); } catch (_) { /* fn shows its own errors */ }
    }
    if (!stopped) timer = setTimeout(round, ms);
  };
  round();
  return {stop() { stopped = true; clearTimeout(timer); }, now() { clearTimeout(timer); round(); }};
}

// Rebuilds node with build(data) only when data differs from the last build (so a poll that
// changes nothing keeps focus and scroll where the user has them).
export function renderIfChanged(node, data, build) {
  const key = JSON.stringify(data);
  if (node.dataset.key === key) return false;
  node.dataset.key = key;
  const hadFocus = node.contains(document.activeElement) ? document.activeElement.id : null;
  clear(node).append(build(data));
  if (hadFocus) document.getElementById(hadFocus)?.focus();
  return true;
}

// Runs action with the button disabled; after 1 s its label says it is still working.
export async function busy(button, label, action) {
  const old = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  const t = setTimeout(() => { button.textContent = label; }, 1000);
  try {
    return await action();
  } finally {
    clearTimeout(t);
    button.textContent = old;
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

export function section(title, ...children) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', {class: 'panel', 'aria-labelledby': id}, h('h2', {id}, title), ...children);
}

export function badge(text, kind) {
  return h('span', {class: `badge ${kind || text} badge-${kind || text}`}, text);
}

// What each error category means to a RevOps admin, and what to do about it.
export const CATEGORY_HELP = {
  validation: ['The other CRM refused a value (wrong type, not a picklist option, a required field empty).',
               'Fix the value in the CRM it came from, or the field mapping, then retry.'],
  duplicate: ['The other CRM already has a record with that unique value.',
              'Merge or remove the duplicate in that CRM, then retry.'],
  permission: ['synkro\'s CRM user may not read or write this object or field.',
               'Give the integration user access to it, then retry.'],
  association: ['A related record could not be linked (it is not synced, or the association type is missing).',
                'Sync the related record first or check the association settings, then retry.'],
  not_found: ['The record no longer exists in the other CRM.',
              'Restore it there if it was deleted by mistake, then retry; otherwise nothing to do.'],
  conversion: ['A value could not be converted to the other CRM\'s field type (e.g. text into a date).',
               'Correct the value or change the field mapping\'s rule, then retry.'],
  retries_exhausted: ['The CRM kept failing (timeouts, outages) until synkro gave up.',
                      'Check that both CRMs are reachable (Configuration > Checks), then retry.'],
  unknown: ['The failure was not classified.', 'Read the message below, fix the cause, then retry.'],
};

export function categoryLabel(c) {
  return (c || 'unknown').replace(/_/g, ' ').replace(/^./, x => x.toUpperCase());
}

export const REASON_TEXT = {
  field_rule: 'the field\'s rule',
  conflict_winner: 'the mapping\'s conflict winner',
  blank: 'Salesforce was blank, so HubSpot filled it',
};

export function sideName(s) {
  return s === 'salesforce' ? 'Salesforce' : s === 'hubspot' ? 'HubSpot' : (s || '–');
}

export function valueText(v) {
  if (v === null || v === undefined || v === '') return '(blank)';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

// The mappings, once per call (pages use it for names and selects).
export async function loadMappings(ctx) {
  const r = await ctx.api('GET', '/api/mappings');
  return r?.mappings || [];
}

export function mappingName(mappings, id) {
  const m = mappings.find(x => Number(x.id) === Number(id));
  return m ? m.name : `Mapping ${id}`;
}
