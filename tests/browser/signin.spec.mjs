// signin.spec.mjs: sign-in and sign-out in the browser: the sign-in page says where the token is,
// a wrong token is refused with what to do, the right one opens the mappings, sign-out returns
// to the sign-in page and the console then refuses to show pages; the shell's navigation; axe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, stop, signIn, screenshot, axeScan, assertNoProblems, SYNKRO_URL } from './lib.mjs';

let s;
before(async () => { s = await start(); });
after(async () => { await stop(s); });

test('the sign-in page explains where the token is, and passes axe', async () => {
  const { page } = s;
  await page.goto('/');
  await page.waitForURL(/#\/signin/);
  const help = page.locator('#token-help');
  await help.waitFor();
  const text = await help.textContent();
  assert.match(text, /\.data\/admin-token/);
  assert.match(text, /SYNKRO_ADMIN_TOKEN/);
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0, 'no navigation before sign-in');
  await screenshot(page, 'signin');
  await axeScan(page, 'sign-in page');
});

test('an empty or wrong token is refused with what to do next', async () => {
  const { page } = s;
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'No token entered' }).waitFor();
  await page.getByLabel('Admin token').fill('not-the-token-0123456789');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'Sign-in failed' });
  await alert.waitFor();
  assert.match(await alert.textContent(), /admin-token|SYNKRO_ADMIN_TOKEN/);
  assert.equal(await page.getByLabel('Admin token').getAttribute('aria-invalid'), 'true');
  assert.match(page.url(), /#\/signin/);
});

test('the right token opens the mappings; navigation; sign-out', async () => {
  const { page } = s;
  await signIn(page);
  await page.getByRole('heading', { name: 'Mappings', level: 1 }).waitFor();
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const name of ['Mappings', 'Imports', 'Health', 'Errors', 'Conflicts', 'Records', 'Configuration']) {
    assert.equal(await nav.getByRole('link', { name, exact: true }).count(), 1, `nav has ${name}`);
  }
  assert.equal(await nav.getByRole('link', { name: 'Mappings' }).getAttribute('aria-current'), 'page');
  await page.getByText(/0 of 10 mappings used/).waitFor();
  await screenshot(page, 'mappings-empty');
  await axeScan(page, 'mappings page');
  // an unknown route says so
  await page.goto('/#/no-such-page');
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/#\/signin/);
  await page.getByRole('heading', { name: 'Sign in to synkro' }).waitFor();
  // after sign-out, a page of the console sends the user back to the sign-in page
  await page.goto('/#/mappings');
  await page.waitForURL(/#\/signin/);
  assertNoProblems(s);
});

test('requests without the CSRF token or without a session are refused', async () => {
  const { page } = s;
  await signIn(page);
  const post = (csrf) => page.evaluate(async (token) => {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers['X-CSRF-Token'] = token;
    const r = await fetch('/api/mappings', { method: 'POST', headers, body: '{}' });
    return { status: r.status, body: await r.json() };
  }, csrf);
  const noCsrf = await post(null);
  assert.equal(noCsrf.status, 403);
  assert.equal(noCsrf.body.error.code || noCsrf.body.error, 'csrf');
  const wrong = await post('00'.repeat(32));
  assert.equal(wrong.status, 403);
  const sess = await page.evaluate(() => fetch('/api/session').then((r) => r.json()));
  assert.match(sess.csrf_token, /^[0-9a-f]{16,}$/);
  const withCsrf = await post(sess.csrf_token);
  assert.equal(withCsrf.status, 400, 'with the token the request reaches the handler (which refuses {} as a mapping)');
  // no session at all, or a made-up one
  assert.equal((await fetch(SYNKRO_URL + '/api/mappings')).status, 401);
  assert.equal((await fetch(SYNKRO_URL + '/api/mappings', { headers: { Cookie: 'synkro_session=' + 'ab'.repeat(32) } })).status, 401);
  // after sign-out the old cookie no longer works
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/#\/signin/);
  assert.equal(await page.evaluate(() => fetch('/api/mappings').then((r) => r.status)), 401);
  assertNoProblems(s);
});

test('/ui and /admin open the console', async () => {
  for (const p of ['/ui', '/admin']) {
    const res = await fetch(SYNKRO_URL + p, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/');
  }
});
