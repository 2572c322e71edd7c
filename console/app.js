// app.js: the console's shell: hash routes to pages, the main navigation, sign-in state, and
// page loading with cleanup. A page is console/pages/<name>.js exporting
// `async function render(root, ctx)` with ctx = {api, ui, params, navigate(hash), session};
// it may return a cleanup function (stop timers), called when the user leaves the page.
// Must not: know what any page shows.
import { api, session, restoreSession, signOut, onSessionChange } from './api.js';
import * as ui from './ui.js';

const { el, clear } = ui;

// [pattern, page name, parameter names]: '#/wizard/7/3' -> wizard {id: '7', step: '3'}
const routes = [
  [/^\/signin$/, 'signin', []],
  [/^\/mappings$/, 'mappings', []],
  [/^\/wizard\/new$/, 'wizard', []],
  [/^\/wizard\/(\d+)(?:\/([1-6]))?$/, 'wizard', ['id', 'step']],
  [/^\/imports$/, 'imports', []],
  [/^\/health(?:\/(\d+))?$/, 'health', ['id']],
  [/^\/errors$/, 'errors', []],
  [/^\/conflicts$/, 'conflicts', []],
  [/^\/records$/, 'records', []],
  [/^\/records\/(\d+)$/, 'records', ['id']],
  [/^\/configuration$/, 'configuration', []],
];

export const navItems = [
  ['Mappings', '#/mappings', ['mappings', 'wizard']],
  ['Imports', '#/imports', ['imports']],
  ['Health', '#/health', ['health']],
  ['Errors', '#/errors', ['errors']],
  ['Conflicts', '#/conflicts', ['conflicts']],
  ['Records', '#/records', ['records']],
  ['Configuration', '#/configuration', ['configuration']],
];

// '#/records/12?q=abc' -> {page: 'records', params: {id: '12', query: URLSearchParams}}
export function parseHash(hash) {
  const raw = (hash || '').replace(/^#/, '') || '/mappings';
  const [path, qs] = raw.split('?');
  for (const [re, page, names] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    const params = { query: new URLSearchParams(qs || '') };
    names.forEach((n, i) => {
      if (m[i + 1] !== undefined) params[n] = m[i + 1];
    });
    return { page, params };
  }
  return { page: null, params: { path } };
}

let cleanup = null;
let generation = 0;
const main = () => document.getElementById('main');

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function renderNav(active) {
  const nav = document.getElementById('nav');
  const user = document.getElementById('user');
  const signedIn = Boolean(session.user);
  nav.hidden = !signedIn;
  user.hidden = !signedIn;
  clear(nav);
  clear(user);
  if (!signedIn) return;
  nav.append(el('ul', {}, navItems.map(([label, href, pages]) => el('li', {},
    el('a', { href, 'aria-current': pages.includes(active) ? 'page' : null, text: label })))));
  user.append(
    el('span', { class: 'who', text: `Signed in as ${session.user}` }),
    el('button', {
      type: 'button', class: 'link', text: 'Sign out',
      on: {
        click: async () => {
          try {
            await signOut();
          } catch (e) {
            ui.toast('Sign-out failed: ' + e.message, 'error');
          }
          navigate('#/signin');
        },
      },
    }));
}

async function route() {
  const gen = ++generation;
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.error(e);
    }
    cleanup = null;
  }
  let { page, params } = parseHash(location.hash);
  if (page !== 'signin' && !session.user && !(await restoreSession())) {
    if (gen !== generation) return;
    const next = location.hash && !location.hash.startsWith('#/signin') ? location.hash : '';
    location.replace('#/signin' + (next ? '?next=' + encodeURIComponent(next) : ''));
    return;
  }
  if (gen !== generation) return;
  renderNav(page);
  const root = clear(main());
  document.title = 'synkro console';
  if (!page) {
    root.append(el('h1', { tabindex: '-1', text: 'Page not found' }),
      el('p', {}, `There is no page at ${params.path}. `, el('a', { href: '#/mappings', text: 'Go to the mappings' }), '.'));
    root.querySelector('h1').focus();
    return;
  }
  const slowTimer = setTimeout(() => {
    if (gen === generation && !root.firstChild) root.append(ui.spinner('Loading the page…'));
  }, 300);
  try {
    const mod = await import(`./pages/${page}.js`);
    if (gen !== generation) return;
    const ctx = { api, ui, params, navigate, session };
    const out = await mod.render(root, ctx);
    if (gen !== generation) {
      if (typeof out === 'function') out();
      return;
    }
    cleanup = typeof out === 'function' ? out : null;
  } catch (e) {
    if (gen !== generation) return;
    clear(root);
    root.append(el('h1', { tabindex: '-1', text: 'This page could not be shown' }),
      ui.errorBox(e.status !== undefined ? e : `The ${page} page did not load (${e.message}). Reload the page; if it persists, check synkro's log.`));
    console.error(e);
  } finally {
    clearTimeout(slowTimer);
    const spin = root.querySelector(':scope > .spinner');
    if (spin && root.children.length > 1) spin.remove();
  }
  const h1 = root.querySelector('h1');
  if (h1 && gen === generation && !root.contains(document.activeElement)) {
    if (!h1.hasAttribute('tabindex')) h1.setAttribute('tabindex', '-1');
    h1.focus();
  }
  if (h1) document.title = `${h1.textContent} · synkro console`;
}

onSessionChange(() => renderNav(parseHash(location.hash).page));
window.addEventListener('hashchange', route);
if (!location.hash) location.replace('#/mappings');
route();
