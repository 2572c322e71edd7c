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

test('/ui and /admin open the console', async () => {
  for (const p of ['/ui', '/admin']) {
    const res = await fetch(SYNKRO_URL + p, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/');
  }
});
