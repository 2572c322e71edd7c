// pages_scenarios.mjs: the browser scenarios of the console's Imports, Sync health, Errors,
// Conflicts, Records and Configuration pages (tests/browser/pages.spec.mjs runs them against
// the real synkro, crmsim and PostgreSQL). Each takes a signed-in Playwright page and env =
// {base, sim, api(method, path, body) with the admin token, shot(name), axe(name)}.
// Must not: sleep for fixed times where a condition can be waited for.
import assert from 'node:assert/strict';

const SF_OBJECT = 'Project__c';
const HS_OBJECT = 'p12345678_projects';

async function sim(env, method, path, body) {
  const res = await fetch(env.sim + path, {method, headers: {'Content-Type': 'application/json'},
                                           body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await res.text();
  assert.ok(res.ok, `crmsim ${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 150));
  }
}

async function go(page, hash) {
  await page.goto(`/${hash}`);
  await page.waitForSelector('main h1');
}

// The demo mapping (docs/demo-mapping.json's pair), enabled, and its Salesforce sample ids.
export async function demoMapping(env) {
  const list = (await env.api('GET', '/api/mappings')).mappings;
  const m = list.find(x => x.salesforce_object === SF_OBJECT && x.hubspot_object === HS_OBJECT);
  assert.ok(m, 'the demo mapping exists');
  if (m.state !== 'enabled') await env.api('POST', `/api/mappings/${m.id}/enable`);
  // the demo's own import of its samples has finished (only one import runs at a time)
  await until('the demo\'s import to finish', async () =>
    !(await env.api('GET', '/api/imports')).imports.some(i => i.status === 'queued' || i.status === 'running'), 30000);
  const recs = (await sim(env, 'GET', `/_sim/salesforce/${SF_OBJECT}/records`)).records.filter(r => !r.IsDeleted);
  assert.ok(recs.length >= 2, 'crmsim holds the sample projects');
  return {id: m.id, sfIds: recs.map(r => r.Id)};
}

async function hubspotId(env, sfId) {
  const recs = await until(`the HubSpot record of ${sfId}`, async () => {
    const all = await sim(env, 'GET', `/_sim/hubspot/${HS_OBJECT}/records`);
    return all.results.find(r => r.properties?.salesforce_id === sfId);
  });
  return recs.id;
}

// Imports: the estimate, Start import, the progress bar while it runs, done in the table.
export async function importToDone(page, env, m) {
  // slow the HubSpot writes down so the progress is seen while the import runs
  await sim(env, 'POST', '/_sim/faults', {match: 'POST /crm/v3/objects/', latency_ms: 700, count: 2});
  await go(page, `#/imports?mapping=${m.id}`);
  await page.click('#import-review');
  const text = await page.textContent('#import-estimate-text');
  assert.match(text, new RegExp(`This will import ${m.sfIds.length} records`));
  await page.click('#import-start');
  const started = await page.textContent('#import-estimate .success');
  const id = Number(/Import #(\d+) started/.exec(started)?.[1]);
  assert.ok(id > 0, `the import started: ${started}`);
  await page.waitForSelector(`.import-active[data-import-id="${id}"] progress`, {timeout: 10000});
  const counts = await page.textContent(`.import-active[data-import-id="${id}"] .import-counts`);
  assert.match(counts, /\d+ records: \d+ queued, \d+ synced, \d+ failed/);
  await env.shot('imports-running');
  // done: its row of the imports table, with every record synced, and nothing in progress
  await page.waitForFunction(n => {
    const row = [...document.querySelectorAll('.imports-table tbody tr')].find(tr => tr.cells[0].textContent === `#${n}`);
    return row && row.querySelector('.badge')?.textContent === 'done';
  }, id, {timeout: 30000});
  const row = await page.$$eval('.imports-table tbody tr', (trs, n) =>
    [...trs.find(tr => tr.cells[0].textContent === `#${n}`).cells].map(td => td.textContent), id);
  assert.equal(row[4], String(m.sfIds.length), 'records');
  assert.equal(row[5], String(m.sfIds.length), 'synced');
  assert.equal(row[6], '0', 'failed');
  await page.waitForSelector('#imports-active .empty-note');
  await sim(env, 'DELETE', '/_sim/faults');
  await env.axe('imports');
  await env.shot('imports');
}

// Errors: a HubSpot refusal (crmsim fault) fails a change; the Errors page shows it under
// Validation with its record; Retry queues it again and it syncs.
export async function errorRetried(page, env, m) {
  const sfId = m.sfIds[0];
  const budget = 40000 + Math.floor(Math.random() * 9000);
  const failedIds = async () => (await env.api('GET', '/api/errors?examples=20')).categories
    .flatMap(c => c.examples.map(x => ({...x, category: c.category})));
  const before = new Set((await failedIds()).map(x => x.id));
  await sim(env, 'POST', '/_sim/faults', {match: 'POST /crm/v3/objects/', body_contains: String(budget), status: 400, count: 1});
  await sim(env, 'PATCH', `/_sim/salesforce/${SF_OBJECT}/records/${sfId}`, {Budget__c: budget});
  const failed = await until('the failed change', async () =>
    (await failedIds()).find(x => !before.has(x.id) && x.record_id === sfId && /HTTP 400/.test(x.last_error)));
  assert.equal(failed.category, 'validation');
  // the Sync health page shows it too
  await go(page, `#/health/${m.id}`);
  await page.waitForSelector(`#health-errors [data-event-id="${failed.id}"]`);
  await page.waitForSelector('#health-charts figure svg');
  // the API budget is the one every instance shares (PostgreSQL), with its limits
  await page.waitForSelector('#health-budget [data-crm="HubSpot"] .budget-shared');
  await page.waitForSelector('#health-budget [data-crm="HubSpot"] meter');
  await env.axe('health');
  await env.shot('health');
  await go(page, '#/errors');
  const example = await page.waitForSelector(`[data-category="validation"] [data-event-id="${failed.id}"]`);
  assert.match(await example.textContent(), new RegExp(sfId));
  await env.axe('errors');
  await env.shot('errors');
  await page.click(`#retry-event-${failed.id}`);
  await page.waitForSelector(`[data-event-id="${failed.id}"]`, {state: 'detached', timeout: 15000});
  const ev = await until('the retried change to sync', async () => {
    const e = await env.api('GET', `/api/events/${failed.id}`);
    return e.status === 'done' && e;
  });
  assert.equal(ev.status, 'done');
  const hsId = await hubspotId(env, sfId);
  await until('the retried value in HubSpot', async () =>
    Number((await sim(env, 'GET', `/_sim/hubspot/${HS_OBJECT}/records/${hsId}`)).properties.budget) === budget);
}

// Conflicts: the same field edited in both CRMs while the mapping is paused; once sync is on
// again, the Conflicts page shows both values and Salesforce (the demo's conflict winner) as winner.
export async function conflictShown(page, env, m) {
  const sfId = m.sfIds[1];
  const hsId = await hubspotId(env, sfId);
  const sfValue = 10000 + Math.floor(Math.random() * 9000);
  const hsValue = sfValue + 1;
  await env.api('POST', `/api/mappings/${m.id}/pause`);
  await sim(env, 'PATCH', `/_sim/salesforce/${SF_OBJECT}/records/${sfId}`, {Budget__c: sfValue});
  await sim(env, 'PATCH', `/_sim/hubspot/${HS_OBJECT}/records/${hsId}`, {properties: {budget: String(hsValue)}});
  await until('both changes held', async () => {
    const held = (await env.api('GET', '/api/events?status=held&limit=500')).events;
    return held.some(e => e.record_id === sfId) && held.some(e => e.record_id === hsId);
  });
  await env.api('POST', `/api/mappings/${m.id}/enable`);
  await go(page, '#/conflicts');
  // keyboard only: Tab from the field filter to the record and winner filters, Enter submits
  await page.focus('#conflicts-field');
  await page.keyboard.type('Budget__c');
  await page.keyboard.press('Tab');
  await page.keyboard.type(sfId);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'conflicts-winner');
  await page.selectOption('#conflicts-winner', 'salesforce');
  await page.focus('#conflicts-record');
  await page.keyboard.press('Enter');
  const row = await page.waitForSelector(`.conflicts-table tbody tr:has-text("${hsValue}")`, {timeout: 15000});
  const text = await row.textContent();
  assert.match(text, new RegExp(String(sfValue)));
  assert.match(text, /Salesforce won/);
  assert.match(text, /conflict winner/);
  // the HubSpot winner filter hides it
  await page.selectOption('#conflicts-winner', 'hubspot');
  await page.click('.conflicts-panel button[type=submit]');
  await page.waitForSelector(`.conflicts-table tbody tr:has-text("${hsValue}")`, {state: 'detached'});
  await page.selectOption('#conflicts-winner', '');
  await page.click('.conflicts-panel button[type=submit]');
  await page.waitForSelector(`.conflicts-table tbody tr:has-text("${hsValue}")`);
  await env.axe('conflicts');
  await env.shot('conflicts');
  return {sfId, hsId, sfValue, hsValue};
}

// Records: search by the Salesforce id, open the record, the last synced values and the
// timeline (newest first) with the conflict and the writes of the edits on both sides.
export async function recordTimeline(page, env, m, c) {
  await go(page, '#/records');
  await page.fill('#records-q', c.sfId);
  await page.press('#records-q', 'Enter');
  const missing = await Promise.race([
    page.waitForSelector('#records-unavailable', {timeout: 10000}).then(() => true),
    page.waitForSelector('#records-results a[href^="#/records/"]', {timeout: 10000}).then(() => false),
  ]);
  if (missing && !env.historyRequired) {
    await env.shot('records');
    return 'records API missing: the page says so';
  }
  assert.equal(missing, false, 'GET /api/records answers');
  await env.axe('records');
  await env.shot('records');
  await page.click('#records-results a[href^="#/records/"]');
  await page.waitForSelector('#timeline .tl-entry');
  assert.equal(await page.textContent('#rec-sf-id'), c.sfId);
  assert.equal(await page.textContent('#rec-hs-id'), c.hsId);
  const base = await page.$$eval('.fields-table tbody tr', trs => trs.map(tr => [...tr.children].map(td => td.textContent)));
  const budgetRow = base.find(r => r[0] === 'Budget__c');
  assert.ok(budgetRow && Number(budgetRow[3]) === c.sfValue, `last synced budget ${budgetRow}`);
  const entries = await page.$$eval('#timeline .tl-entry', lis => lis.map(li => ({
    kind: li.dataset.kind, at: li.querySelector('time').getAttribute('datetime'), text: li.textContent})));
  const kinds = new Set(entries.map(e => e.kind));
  assert.ok(kinds.has('conflict'), `a conflict entry in ${[...kinds]}`);
  assert.ok(kinds.has('write'), `a write entry in ${[...kinds]}`);
  assert.ok(entries.some(e => e.kind === 'conflict' && e.text.includes(String(c.hsValue))), 'the conflict names the losing value');
  // newest first: the entries' ids (the order they were recorded in) go down
  const ids = await page.$$eval('#timeline .tl-entry', lis => lis.map(li => Number(li.dataset.id)));
  for (let i = 1; i < ids.length; i++)
    assert.ok(ids[i - 1] > ids[i], `newest first: ${ids.join(',')}`);
  await env.axe('record');
  await env.shot('record');
  await page.evaluate(() => document.getElementById('sec-timeline').scrollIntoView({block: 'start'}));
  await env.shot('record-timeline');
  return 'timeline checked';
}

// Configuration: export downloads the configuration; importing an edited copy shows the change,
// then applies it; the original is imported back; the doctor's checks are listed.
export async function configurationRoundTrip(page, env, m) {
  await go(page, '#/configuration');
  await page.waitForSelector('#config-doctor .doctor-table, #config-doctor table');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#config-export')]);
  const exported = JSON.parse(await (await download.createReadStream()).toArray().then(b => Buffer.concat(b).toString()));
  assert.ok(Array.isArray(exported.mappings) && exported.mappings.length >= 1);
  await page.waitForSelector('#config-export-done');
  const edited = structuredClone(exported);
  const target = edited.mappings.find(x => x.salesforce_object === SF_OBJECT);
  const oldName = target.name;
  target.name = `${oldName} (renamed)`;
  await page.setInputFiles('#config-file', {name: 'edited.json', mimeType: 'application/json',
                                            buffer: Buffer.from(JSON.stringify(edited))});
  const diff = await page.waitForSelector('.diff-table');
  assert.match(await diff.textContent(), /changed.*name/s);
  await env.axe('configuration');
  await env.shot('configuration');
  await page.click('#config-import-apply');
  await page.waitForSelector('#config-import-done');
  const after = (await env.api('GET', `/api/mappings/${m.id}`));
  assert.equal(after.name, `${oldName} (renamed)`);
  // a file that is not a configuration: the page says so and imports nothing
  await page.setInputFiles('#config-file', {name: 'wrong.json', mimeType: 'application/json', buffer: Buffer.from('{"x":1}')});
  await page.waitForSelector('#config-import-result .error-box');
  // the original back, through the page
  await page.setInputFiles('#config-file', {name: 'original.json', mimeType: 'application/json',
                                            buffer: Buffer.from(JSON.stringify(exported))});
  await page.click('#config-import-apply');
  await page.waitForSelector('#config-import-done');
  assert.equal((await env.api('GET', `/api/mappings/${m.id}`)).name, oldName);
  // the history lists the rename and who made it
  await page.selectOption('#history-mapping', String(m.id));
  await page.waitForSelector(`.history-table:has-text("(renamed)")`);
}
