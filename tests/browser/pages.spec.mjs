// pages.spec.mjs: the Imports, Sync health, Errors, Conflicts, Records and Configuration pages
// in the browser, against a synkro that really syncs: scripts/demo.sh (the `make run` demo:
// crmsim with webhooks and outbound messages wired to synkro, the demo mapping enabled, its
// samples imported) on a fresh database of the test cluster, with this build's binaries.
// Scenarios in pages_scenarios.mjs: an import reaching done, an error retried, a conflict from
// edits on both sides with its winner, a record's timeline, configuration export/import; each
// page is scanned with axe and photographed into the artifacts directory (lib.mjs).
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {start, stop, signIn, screenshot, axeScan} from './lib.mjs';
import * as S from './pages_scenarios.mjs';

const build = path.resolve(process.env.BROWSER_NODE_MODULES, '..', '..');
// the record history API is part of this tree when its route is in the route table
const historyInTree = /\/api\/records/.test(readFileSync('server/routes.c', 'utf8'));

let s;
let demo;
let page;
let env;
let m;
const problems = [];

async function startDemo() {
  const dir = mkdtempSync(path.join(tmpdir(), 'synkro-pages-demo.'));
  const token = [...crypto.getRandomValues(new Uint8Array(24))].map(b => b.toString(16).padStart(2, '0')).join('');
  const admin = process.env.SYNKRO_TEST_ADMIN_URL;
  const vars = {...process.env, SYNKRO_DEMO_DIR: dir, SYNKRO_ADMIN_TOKEN: token, SYNKRO_LISTEN: '127.0.0.1:0',
                SYNKRO_BIN: path.join(build, 'synkro'), CRMSIM_BIN: path.join(build, 'crmsim'),
                SYNKRO_DEMO_SAMPLE_WAIT: '10'};
  let pg = null;
  if (admin) {
    vars.DATABASE_URL = admin;
    vars.SYNKRO_DEMO_FRESH_DB = '1';
  } else {
    pg = path.join(dir, 'pg');
    const out = await new Promise((resolve, reject) => {
      const p = spawn('scripts/pg.sh', ['start', pg], {stdio: ['ignore', 'pipe', 'inherit']});
      let text = '';
      p.stdout.on('data', d => { text += d; });
      p.on('exit', code => (code === 0 ? resolve(text.trim()) : reject(new Error(`pg.sh start: ${code}`))));
    });
    vars.DATABASE_URL = out;
  }
  const child = spawn('bash', ['scripts/demo.sh'], {env: vars, detached: true, stdio: 'ignore'});
  const envFile = path.join(dir, 'demo.env');
  const end = Date.now() + 60000;
  while (!existsSync(envFile)) {
    if (child.exitCode !== null) throw new Error(`scripts/demo.sh exited ${child.exitCode}: ${tail(path.join(dir, 'synkro.log'))}`);
    if (Date.now() > end) throw new Error('scripts/demo.sh was not ready within 60 s');
    await new Promise(r => setTimeout(r, 200));
  }
  const values = Object.fromEntries(readFileSync(envFile, 'utf8').trim().split('\n').map(l => l.split(/=(.*)/s).slice(0, 2)));
  return {child, dir, token, pg, url: values.SYNKRO_URL, sim: values.SIM_URL};
}

function tail(file) {
  try { return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n'); } catch { return '(no log)'; }
}

async function stopDemo(d) {
  if (!d) return;
  if (d.child.exitCode === null) {
    const done = new Promise(r => d.child.on('exit', r));
    try { process.kill(-d.child.pid, 'SIGTERM'); } catch { /* gone */ }
    await Promise.race([done, new Promise(r => setTimeout(r, 25000))]);
  }
  if (d.pg) await new Promise(r => spawn('scripts/pg.sh', ['stop', d.pg], {stdio: 'ignore'}).on('exit', r));
  rmSync(d.dir, {recursive: true, force: true});
}

before(async () => {
  // the demo and Chromium start side by side
  [demo, s] = await Promise.all([startDemo(), start()]);
  const context = await s.browser.newContext({viewport: {width: 1280, height: 800}, baseURL: demo.url, acceptDownloads: true});
  context.setDefaultTimeout(15000);
  page = await context.newPage();
  page.on('console', msg => {
    if (/Content Security Policy|Refused to (execute|apply|load|connect)/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
  });
  page.on('pageerror', err => problems.push(`page error: ${err.message}`));
  env = {
    sim: demo.sim,
    historyRequired: historyInTree,
    async api(method, p, body) {
      const res = await fetch(demo.url + p, {method, body: body ? JSON.stringify(body) : undefined,
        headers: {Authorization: `Bearer ${demo.token}`, ...(body ? {'Content-Type': 'application/json'} : {})}});
      const text = await res.text();
      assert.ok(res.ok, `${method} ${p}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    shot: name => screenshot(page, `pages-${name}`),
    axe: name => axeScan(page, `${name} page`),
  };
  await signIn(page, demo.token);
  m = await S.demoMapping(env);
});

after(async () => {
  await stop(s);
  await stopDemo(demo);
});

// Issue 12: "the first page is usable within 1 s on the demo". A fresh browser context with the
// signed-in session's cookie (so an empty cache: every asset is fetched) opens the console, and
// the page itself notes performance.now() (milliseconds since navigation start) in the first
// animation frame in which the mappings table shows the demo mapping's row; then the same with a
// warm cache (reload). Reported in the output and in <build>/artifacts/first-page.json, not
// asserted: the machine is shared.
test('First page: the signed-in mappings page with its data, timed from navigation start', async (t) => {
  const state = await page.context().storageState();
  const ctx = await s.browser.newContext({viewport: {width: 1280, height: 800}, baseURL: demo.url, storageState: state});
  const p = await ctx.newPage();
  const figures = {goal_ms: 1000, url: '/#/mappings'};
  try {
    for (const run of ['cold', 'warm']) {
      if (run === 'cold') await p.goto('/#/mappings', {waitUntil: 'commit'});
      else await p.reload({waitUntil: 'commit'});
      const handle = await p.waitForFunction(id => {
        const link = document.querySelector(`#main table tbody a[href="#/wizard/${id}/1"]`);
        return link ? performance.now() : false;
      }, m.id, {polling: 'raf', timeout: 15000});
      const usable = await handle.jsonValue();
      const nav = await p.evaluate(() => {
        const n = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        return {first_byte_ms: n.responseStart, dom_content_loaded_ms: n.domContentLoadedEventEnd,
          requests: res.length + 1, transferred_bytes: res.reduce((a, r) => a + (r.transferSize || 0), n.transferSize || 0)};
      });
      figures[run] = {usable_ms: Math.round(usable), first_byte_ms: Math.round(nav.first_byte_ms),
        dom_content_loaded_ms: Math.round(nav.dom_content_loaded_ms), requests: nav.requests,
        transferred_bytes: nav.transferred_bytes};
      assert.match(p.url(), /#\/mappings/, 'the session opened the mappings, not the sign-in page');
    }
    await screenshot(p, 'pages-first-page');
  } finally {
    await ctx.close();
  }
  const out = path.join(process.env.SCREENSHOT_DIR || path.join(build, 'artifacts', 'screenshots'), '..', 'first-page.json');
  writeFileSync(out, JSON.stringify(figures, null, 2) + '\n');
  const line = `first page usable (navigation start -> the mappings table with the demo mapping): ` +
    `cold cache ${figures.cold.usable_ms} ms (${figures.cold.requests} requests, ${figures.cold.transferred_bytes} bytes), ` +
    `warm ${figures.warm.usable_ms} ms; goal 1000 ms; ${out}`;
  t.diagnostic(line);
  console.log(line);
});

test('Imports: the estimate, Start import, the progress bar, done in the table', async () => {
  await S.importToDone(page, env, m);
});

test('Errors and Sync health: a refused change is shown by category and retried until it syncs', async () => {
  await S.errorRetried(page, env, m);
});

let conflict;
test('Conflicts: edits on both sides of one field, shown with the winner, filtered by keyboard', async () => {
  conflict = await S.conflictShown(page, env, m);
});

test('Records: the record of those edits, its last synced values and its timeline', async () => {
  assert.ok(conflict, 'the conflict test ran');
  const outcome = await S.recordTimeline(page, env, m, conflict);
  assert.equal(outcome, historyInTree ? 'timeline checked' : 'records API missing: the page says so');
});

test('Configuration: export, an edited file\'s changes, import, the original back, history, checks', async () => {
  await S.configurationRoundTrip(page, env, m);
});

test('Sync health without a mapping lists the mappings; no CSP violation or page error anywhere', async () => {
  await page.goto('/#/health');
  await page.locator(`a[href="#/health/${m.id}"]`).waitFor();
  await axeScan(page, 'health chooser');
  await screenshot(page, 'pages-health-chooser');
  assert.deepEqual(problems, []);
});
