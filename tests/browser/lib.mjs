// lib.mjs: what every console spec shares: the running synkro and crmsim (started by run.sh and
// named by the environment), a headless Chromium page, sign-in, screenshots into
// <build>/artifacts/screenshots/, an axe-core scan that fails on serious or critical violations,
// the admin API with the bearer token (for setting up data), and a watch on the browser console
// that fails a test on Content-Security-Policy violations and uncaught errors.
import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the specs through tests/browser/run.sh`);
  return v;
}

export const SYNKRO_URL = need('SYNKRO_URL');
export const SIM_URL = need('SIM_URL');
export const ADMIN_TOKEN = need('SYNKRO_ADMIN_TOKEN');
const modules = need('BROWSER_NODE_MODULES');
const require = createRequire(path.join(modules, 'noop.js'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const screenshotDir = process.env.SCREENSHOT_DIR || path.resolve('build/artifacts/screenshots');
mkdirSync(screenshotDir, { recursive: true });

// Starts Chromium (the flags the machine's notes ask for: no background networking) and opens
// one page of 1280x800. Returns {browser, context, page, problems}; problems collects CSP
// violations and uncaught page errors.
export async function start() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: SYNKRO_URL });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    const t = msg.text();
    // scripts evaluated by the tests (axe-core) have no URL: their own inline styles are theirs
    if (/Content Security Policy/i.test(t) && msg.location().url) problems.push(`CSP: ${t}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  return { browser, context, page, problems };
}

export async function stop(s) {
  if (s && s.browser) await s.browser.close();
}

// Signs in through the sign-in page and waits for the mappings list.
export async function signIn(page, token = ADMIN_TOKEN) {
  await page.goto('/#/signin');
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/#\/(mappings|wizard|imports|health|errors|conflicts|records|configuration)/);
  await page.getByRole('heading', { level: 1 }).first().waitFor();
}

export async function screenshot(page, name) {
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

// axe-core over the page (WCAG 2 A/AA and best practices); fails on serious or critical
// violations, listing each with the elements it found, and on stray "null"/"undefined" lines.
export async function axeScan(page, name) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  // a page that appends a missing optional part shows "null" or "undefined" as text
  const text = await page.evaluate(() => document.body.innerText);
  const stray = text.split('\n').map((l) => l.trim()).filter((l) => /^(null|undefined|\[object Object\]|NaN)$/.test(l));
  assert.deepEqual(stray, [], `${name}: stray text on the page`);
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.equal(bad.length, 0, `${name}: accessibility violations:\n` + bad.map((v) =>
    `- ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 5).map((n) => n.target.join(' ')).join('\n    ')}`).join('\n'));
  return result;
}

// The admin API with the bearer token, for setting up data outside the browser.
export async function api(method, p, body) {
  const res = await fetch(SYNKRO_URL + p, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: res.status, body: data, headers: res.headers };
}

export function assertNoProblems(s) {
  assert.deepEqual(s.problems, [], 'the browser reported CSP violations or page errors');
}

// Runs fn(page); on failure saves a screenshot FAILED-<name>.png (and rethrows).
export async function withFailureShot(s, name, fn) {
  try {
    await fn(s.page);
  } catch (e) {
    await screenshot(s.page, `FAILED-${name}`).catch(() => {});
    throw e;
  }
}
