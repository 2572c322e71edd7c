// wizard.spec.mjs: the setup wizard in the browser, against crmsim's Project__c / projects pair
// (tests/browser/fixture.json): from nothing to an enabled mapping through all six steps (custom
// objects first, "n of 10 mappings used", sync rules, an association to a synced object and the
// unsynced ones disabled with their reason, a required HubSpot property left unmapped so Next is
// refused until it is mapped, a picklist value that does not convert shown in the preview, turn
// on sync); editing at any step with a stale version (another user's change shown, the typed
// value kept); a whole mapping set up with the keyboard alone; axe on every step.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, stop, signIn, screenshot, axeScan, api, assertNoProblems, withFailureShot } from './lib.mjs';

let s;
let projectsId;
before(async () => {
  s = await start();
  // Accounts are synced already, so the wizard may offer the Account lookup as an association
  const r = await api('POST', '/api/mappings', {
    name: 'Accounts', salesforce_object: 'Account', hubspot_object: '0-2',
    identity: { hubspot_property: 'salesforce_id', salesforce_field: 'HubSpot_Id__c' },
    fields: [{ salesforce: 'Name', hubspot: 'name', rule: 'two_way' }],
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
});
after(async () => { await stop(s); });

const heading = (page) => page.getByRole('heading', { level: 1 });
async function atStep(page, n, name) {
  await page.getByRole('heading', { level: 1, name: new RegExp(`Step ${n} of 6: ${name}`) }).waitFor();
}

test('the whole wizard, from nothing to an enabled mapping', () => withFailureShot(s, 'wizard', async (page) => {
  await signIn(page);
  await page.getByRole('link', { name: 'New mapping' }).click();
  await atStep(page, 1, 'Map objects');
  await page.getByText('2 of 10 mappings used (with this one)').waitFor();
  // custom objects first in both lists
  const firstGroup = async (id) => page.locator(`#${id} optgroup`).first().getAttribute('label');
  assert.equal(await firstGroup('sf-object'), 'Custom objects');
  assert.equal(await firstGroup('hs-object'), 'Custom objects');
  assert.equal(await page.locator('#wizard-next').isDisabled(), true);
  await page.getByLabel('Salesforce object').selectOption('Project__c');
  await page.getByLabel('HubSpot object').selectOption('2-7001');
  assert.equal(await page.getByLabel('Mapping name').inputValue(), 'Projects');
  await screenshot(page, 'wizard-1-objects');
  await axeScan(page, 'wizard step 1');
  await page.locator('#wizard-next').click();

  await atStep(page, 2, 'Sync rules');
  projectsId = Number(/#\/wizard\/(\d+)\/2/.exec(page.url())[1]);
  assert.ok(projectsId > 0, 'the draft is saved after step 1');
  assert.equal(await page.getByLabel('Create it in HubSpot').isChecked(), true);
  await page.locator('#rule-salesforce_to_hubspot-delete').selectOption('delete');
  await page.getByLabel('When a field changed in both apps, keep the value from').selectOption('hubspot');
  assert.match(await page.locator('#conflict-winner-help').textContent(), /winner/);
  await screenshot(page, 'wizard-2-rules');
  await axeScan(page, 'wizard step 2');
  await page.locator('#wizard-next').click();

  await atStep(page, 3, 'Associations');
  const account = page.getByLabel(/Client Account/);
  assert.equal(await account.isDisabled(), false, 'Accounts are synced');
  const contact = page.getByLabel(/Primary Contact/);
  assert.equal(await contact.isDisabled(), true, 'Contacts are not synced');
  assert.match(await page.locator('#assoc-Primary_Contact__c-why').textContent(), /Contact is not synced with HubSpot by any mapping/);
  assert.equal(await page.getByLabel(/Source Lead/).isDisabled(), true);
  await account.check();
  await page.locator('#assoc-Account__c-type').selectOption({ label: 'project_client' });
  await screenshot(page, 'wizard-3-associations');
  await axeScan(page, 'wizard step 3');
  await page.locator('#wizard-next').click();

  await atStep(page, 4, 'Field mappings');
  // the identity is guessed; pairs with the same name or label are suggested
  assert.equal(await page.locator('#identity-hs').inputValue(), 'salesforce_id');
  assert.equal(await page.locator('#identity-sf').inputValue(), 'HubSpot_Id__c');
  const codeRow = page.locator('tr[data-hubspot="project_code"]');
  await codeRow.getByText('Required', { exact: true }).waitFor();
  await codeRow.getByText(/Required: HubSpot needs Project code/).waitFor();
  const next = page.locator('#wizard-next');
  assert.equal(await next.isDisabled(), true, 'Next is refused while a required property is unmapped');
  assert.match(await page.locator('#next-why').textContent(), /needs fixing/);
  await screenshot(page, 'wizard-4-required-unmapped');
  await axeScan(page, 'wizard step 4');
  await codeRow.getByLabel(/Salesforce field for Project code/).selectOption('Code__c');
  await codeRow.getByText('Required · mapped').waitFor();
  assert.equal(await next.isDisabled(), false, 'Next is allowed once it is mapped');
  // the suggested Status pair has a value map of the active values (On Hold is retired in
  // Salesforce, but an old record still holds it: the preview shows it)
  const statusRow = page.locator('tr[data-hubspot="status"]');
  assert.equal(await statusRow.getByLabel('Planned').inputValue(), 'planned');
  assert.equal(await statusRow.getByLabel('In Progress').inputValue(), 'in_progress');
  assert.equal(await statusRow.getByLabel('On Hold').count(), 0);
  await screenshot(page, 'wizard-4-fields');
  await next.click();

  await atStep(page, 5, 'Preview');
  await page.getByRole('heading', { name: 'Dry run on real records' }).waitFor();
  await page.locator('#preview-summary').getByText(/1 of 3 records have values that do not convert/).waitFor();
  const bad = page.locator('tr', { hasText: 'a0P000000000002EAA' }).locator('.conv-error');
  assert.match(await bad.textContent(), /Does not convert: .*On Hold/);
  await page.locator('tr', { hasText: 'a0P000000000001EAA' }).getByText('planned').waitFor();
  await screenshot(page, 'wizard-5-preview');
  await axeScan(page, 'wizard step 5');
  await page.locator('#wizard-next').click();

  await atStep(page, 6, 'Turn on sync');
  assert.equal(await page.getByLabel(/Start continuous sync/).isChecked(), true);
  await screenshot(page, 'wizard-6-turn-on');
  await axeScan(page, 'wizard step 6');
  await page.getByRole('button', { name: 'Turn on sync' }).click();
  await page.waitForURL(/#\/mappings$/);
  await page.locator('tr', { hasText: 'Projects' }).getByText('Syncing').waitFor();
  await screenshot(page, 'mappings');

  const m = (await api('GET', `/api/mappings/${projectsId}`)).body;
  assert.equal(m.state, 'enabled');
  assert.equal(m.rules.salesforce_to_hubspot.delete, 'delete');
  assert.equal(m.rules.conflict_winner, 'hubspot');
  assert.deepEqual(m.associations.map((a) => [a.salesforce_field, a.association_type_id]), [['Account__c', 201]]);
  assert.ok(m.fields.some((f) => f.salesforce === 'Code__c' && f.hubspot === 'project_code'));
  assert.equal(m.fields.find((f) => f.hubspot === 'status').value_map['In Progress'], 'in_progress');
  assertNoProblems(s);
}));

test('editing reopens any step; a stale version shows the other change and keeps the typed value', () => withFailureShot(s, 'wizard-edit', async (page) => {
  await page.goto(`/#/wizard/${projectsId}/2`);
  await atStep(page, 2, 'Sync rules');
  await page.getByLabel('When a field changed in both apps, keep the value from').selectOption('salesforce');
  // meanwhile someone else renames the mapping
  const cur = (await api('GET', `/api/mappings/${projectsId}`)).body;
  const doc = { ...cur, name: 'Client projects' };
  for (const k of ['id', 'state', 'problems', 'validated_at', 'created_at', 'updated_at']) delete doc[k];
  const put = await fetch(`${process.env.SYNKRO_URL}/api/mappings/${projectsId}`, {
    method: 'PUT', body: JSON.stringify(doc),
    headers: { Authorization: `Bearer ${process.env.SYNKRO_ADMIN_TOKEN}`, 'Content-Type': 'application/json', 'X-Synkro-Actor': 'dana' },
  });
  assert.equal(put.status, 200, await put.text());
  await page.locator('#wizard-next').click();
  const box = page.getByRole('alert').filter({ hasText: 'Someone else changed this mapping' });
  await box.waitFor();
  assert.match(await box.textContent(), /dana/);
  assert.equal(await page.getByLabel('When a field changed in both apps, keep the value from').inputValue(), 'salesforce', 'the typed value is kept');
  await screenshot(page, 'wizard-stale-version');
  await axeScan(page, 'stale version notice');
  await page.getByRole('button', { name: 'Keep my changes and save over theirs' }).click();
  await page.getByText('Saved over the other change.').waitFor();
  const after = (await api('GET', `/api/mappings/${projectsId}`)).body;
  assert.equal(after.rules.conflict_winner, 'salesforce');
  // any step is one click away on a saved mapping
  await page.getByRole('link', { name: /Step 4: Field mappings/ }).click();
  await atStep(page, 4, 'Field mappings');
  assertNoProblems(s);
}));

// Presses Tab until the focused element matches selector (at most max times).
async function tabTo(page, selector, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement && document.activeElement.matches(sel), selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

test('a mapping set up with the keyboard alone', () => withFailureShot(s, 'wizard-keyboard', async (page) => {
  await page.goto('/#/mappings');
  await heading(page).filter({ hasText: 'Mappings' }).waitFor();
  await tabTo(page, 'a[href="#/wizard/new"]');
  await page.keyboard.press('Enter');
  await atStep(page, 1, 'Map objects');
  await tabTo(page, '#sf-object');
  await page.keyboard.type('Invoice (');
  await tabTo(page, '#hs-object');
  await page.keyboard.type('Invoices');
  assert.equal(await page.locator('#sf-object').inputValue(), 'Invoice__c');
  assert.equal(await page.locator('#hs-object').inputValue(), '2-7002');
  await tabTo(page, '#wizard-next:not([disabled])');
  await page.keyboard.press('Enter');
  await atStep(page, 2, 'Sync rules');
  // HubSpot will not create or update Salesforce invoices: no Salesforce field holds the HubSpot id
  await tabTo(page, '#rule-hubspot_to_salesforce-create');
  await page.keyboard.press('Space');
  await tabTo(page, '#rule-hubspot_to_salesforce-update');
  await page.keyboard.press('Space');
  await tabTo(page, '#wizard-next');
  await page.keyboard.press('Enter');
  await atStep(page, 3, 'Associations');
  await tabTo(page, '#wizard-next');
  await page.keyboard.press('Enter');
  await atStep(page, 4, 'Field mappings');
  await page.locator('tr[data-hubspot="invoice_number"]').getByText('Required · mapped').waitFor();
  await tabTo(page, '#wizard-next:not([disabled])');
  await page.keyboard.press('Enter');
  await atStep(page, 5, 'Preview');
  await page.getByText(/There are no Invoice records in Salesforce to try yet/).waitFor();
  await tabTo(page, '#wizard-next:not([disabled])');
  await page.keyboard.press('Enter');
  await atStep(page, 6, 'Turn on sync');
  await tabTo(page, '#turn-on-start');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.locator('#turn-on-later').isChecked(), true);
  await tabTo(page, '#wizard-next');
  assert.equal(await page.locator('#wizard-next').textContent(), 'Save for later');
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/mappings$/);
  const list = (await api('GET', '/api/mappings')).body.mappings;
  const inv = list.find((m) => m.salesforce_object === 'Invoice__c');
  assert.ok(inv, 'the invoice mapping is saved');
  assert.equal(inv.state, 'draft');
  assert.equal(inv.rules.hubspot_to_salesforce.create, false);
  assert.ok(inv.fields.some((f) => f.salesforce === 'Name' && f.hubspot === 'invoice_number'));
  assertNoProblems(s);
}));

// The wizard's rules as pure functions, imported in the page from the served module.
test('suggestions, type compatibility and the association rules', () => withFailureShot(s, 'wizard-rules', async (page) => {
  const r = await page.evaluate(async () => {
    const w = await import('/console/pages/wizard.js');
    const sf = [
      { name: 'Name', label: 'Project Name', type: 'string' },
      { name: 'Budget__c', label: 'Budget', type: 'currency' },
      { name: 'Status__c', label: 'Status', type: 'picklist', picklist_values: [
        { value: 'In Progress', label: 'In Progress', active: true }, { value: 'Gone', label: 'Gone', active: false }] },
      { name: 'Start__c', label: 'Start', type: 'date' },
      { name: 'Account__c', label: 'Account', type: 'reference', lookup: true },
    ];
    const hs = [
      { name: 'name', label: 'Name', type: 'string' },
      { name: 'budget', label: 'Budget', type: 'string' },
      { name: 'status', label: 'Status', type: 'enumeration', field_type: 'select', options: [{ value: 'in_progress', label: 'In progress' }] },
      { name: 'start', label: 'Start', type: 'number' },
      { name: 'account', label: 'Account', type: 'string' },
      { name: 'calc', label: 'Start', type: 'date', calculated: true },
    ];
    const pairs = w.suggestPairs(sf, hs, { sf: [], hs: [] }).map((p) => `${p.salesforce}=${p.hubspot}`);
    const vm = w.suggestValueMap(sf[2], hs[2], {});
    const lookups = [
      { name: 'Account__c', reference_to: ['Account'] },
      { name: 'Contact__c', reference_to: ['Contact'] },
      { name: 'Lead__c', reference_to: ['Lead'] },
      { name: 'Parent__c', reference_to: ['Project__c'] },
      { name: 'Owner__c', reference_to: ['User'] },
    ];
    const mappings = [{ id: 1, name: 'Accounts', salesforce_object: 'Account', hubspot_object: '0-2' },
      { id: 2, name: 'Contacts', salesforce_object: 'Contact', hubspot_object: '0-1' },
      { id: 3, name: 'Leads', salesforce_object: 'Lead', hubspot_object: '0-1' }];
    const why = (sel) => Object.fromEntries(w.associationOptions(lookups, mappings, 9, 'Project__c', '2-7001', sel)
      .map((o) => [o.field.name, o.why ? o.why.split(':')[0] : (o.mapping ? o.mapping.name : '?')]));
    return {
      pairs, vm,
      compat: [w.compatible(sf[1], hs[1]), w.compatible(sf[1], { type: 'number' }), w.compatible(sf[2], hs[2])],
      none: why([]),
      contactOn: why([{ salesforce_field: 'Contact__c' }]),
      leadOn: why([{ salesforce_field: 'Lead__c' }]),
    };
  });
  // name and label match, but only when the types convert; never a lookup or a calculated property
  assert.deepEqual(r.pairs, ['Name=name', 'Status__c=status']);
  assert.deepEqual(r.vm, { 'In Progress': 'in_progress' });
  assert.deepEqual(r.compat, [false, true, true]);
  assert.deepEqual(r.none, { Account__c: 'Accounts', Contact__c: 'Contacts', Lead__c: 'Leads', Parent__c: 'this mapping', Owner__c: 'Not available' });
  assert.equal(r.contactOn.Lead__c, 'Not available while the Contact association is on');
  assert.equal(r.contactOn.Contact__c, 'Contacts');
  assert.equal(r.leadOn.Contact__c, 'Not available while the Lead association is on');
}));
