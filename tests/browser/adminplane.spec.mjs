// adminplane.spec.mjs: the admin plane on its own address (SYNKRO_ADMIN_LISTEN). run.sh runs this
// file alone, against a synkro started with SYNKRO_ADMIN_LISTEN: SYNKRO_URL is then the admin
// plane and SYNKRO_PUBLIC_URL the public listener. In Chromium the console signs in and works on
// the admin address; the public listener answers 404 for the console and /api/* (a page load
// there shows no console, even with the admin plane's session cookie in the browser) and still
// answers its own endpoints (/healthz).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, stop, signIn, screenshot, axeScan, assertNoProblems, withFailureShot, SYNKRO_URL, ADMIN_TOKEN } from './lib.mjs';

const PUBLIC_URL = process.env.SYNKRO_PUBLIC_URL;
let s;
before(async () => { s = await start(); });
after(async () => { await stop(s); });

test('run.sh names two different listeners', () => {
  assert.ok(PUBLIC_URL, 'SYNKRO_PUBLIC_URL is not set: run this spec through tests/browser/run.sh');
  assert.notEqual(new URL(PUBLIC_URL).port, new URL(SYNKRO_URL).port, 'the admin plane has its own port');
});

test('on the admin address the console signs in and its pages work', async () => {
  await withFailureShot(s, 'adminplane-console', async (page) => {
    await signIn(page);
    await page.getByRole('heading', { name: 'Mappings', level: 1 }).waitFor();
    await page.getByText(/\d+ of 10 mappings used/).waitFor(); // the other specs made some
    const sess = await page.evaluate(() => fetch('/api/session').then((r) => r.json()));
    assert.match(sess.csrf_token, /^[0-9a-f]{16,}$/);
    // another page, reached through the navigation
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Configuration', exact: true }).click();
    await page.waitForURL(/#\/configuration/);
    await page.getByRole('heading', { name: 'Configuration', level: 1 }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Mappings', exact: true }).click();
    await page.getByRole('heading', { name: 'Mappings', level: 1 }).waitFor();
    await screenshot(page, 'adminplane-mappings');
    await axeScan(page, 'mappings page on the admin plane');
    assertNoProblems(s);
  });
});

test('the public listener shows no console and answers 404 for /api/*', async () => {
  await withFailureShot(s, 'adminplane-public', async (page) => {
    // the browser holds the admin plane's session cookie (cookies do not tell ports apart)
    const cookies = await s.context.cookies(SYNKRO_URL);
    assert.ok(cookies.some((c) => c.name === 'synkro_session'), 'signed in on the admin plane');
    for (const p of ['/', '/#/signin', '/#/mappings']) {
      await page.goto('about:blank'); // a new document each time (a hash change alone loads none)
      const res = await page.goto(PUBLIC_URL + p);
      assert.equal(res.status(), 404, `GET ${p} on the public listener`);
      assert.equal(await page.getByLabel('Admin token').count(), 0, `no sign-in form at ${p}`);
      assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0, `no console at ${p}`);
      assert.match(await page.locator('body').innerText(), /not_found/);
    }
    await screenshot(page, 'adminplane-public-404');
    const req = s.context.request; // shares the browser's cookies
    for (const p of ['/console/app.js', '/ui', '/admin', '/signin?code=00', '/api/session', '/api/mappings']) {
      const r = await req.get(PUBLIC_URL + p, { maxRedirects: 0 });
      assert.equal(r.status(), 404, `GET ${p} on the public listener`);
      const body = await r.json();
      assert.equal(body.error.code || body.error, 'not_found');
    }
    const bearer = await req.get(PUBLIC_URL + '/api/mappings', { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(bearer.status(), 404, 'the admin token opens nothing on the public listener');
    const signin = await req.post(PUBLIC_URL + '/api/session', { data: { token: ADMIN_TOKEN } });
    assert.equal(signin.status(), 404, 'no sign-in on the public listener');
    assert.equal((await req.get(PUBLIC_URL + '/healthz')).status(), 200, 'the public listener still answers /healthz');
    // the same cookie still works on the admin plane
    assert.equal((await req.get(SYNKRO_URL + '/api/mappings')).status(), 200);
  });
});
