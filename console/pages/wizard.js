// pages/wizard.js: the setup wizard of a mapping, in the steps and order of HubSpot's
// custom-object sync wizard: (1) map objects, (2) sync rules, (3) associations, (4) field
// mappings, (5) preview, (6) turn on sync. #/wizard/new starts one; #/wizard/<id>/<step> edits a
// saved mapping at any step.
//
// The mapping is saved as a draft when step 1 is done (POST /api/mappings) and on every Next
// after that (PUT with the version it was read at); the server's validation problems come back
// with each save (and from POST /api/mappings/{id}/validate) and are shown at the control they
// concern. A 409 (someone else saved meanwhile) shows their change and keeps everything typed
// here: what is being edited lives in `drafts` (this module), so it survives moving between
// steps and pages until it is saved or discarded.
// Must not: write HTML from strings, or enable a mapping anywhere but step 6.

const STEPS = ['Map objects', 'Sync rules', 'Associations', 'Field mappings', 'Preview', 'Turn on sync'];

const FIELD_RULES = [
  ['prefer_salesforce_unless_blank', 'Prefer Salesforce unless blank', 'Salesforce\'s value wins; HubSpot\'s is used only while Salesforce is blank.'],
  ['always_salesforce', 'Always use Salesforce', 'Salesforce always wins; HubSpot edits are overwritten.'],
  ['always_hubspot', 'Always use HubSpot', 'HubSpot always wins; Salesforce edits are overwritten.'],
  ['two_way', 'Two-way', 'The most recent edit in either app wins.'],
  ['dont_sync', 'Don\'t sync', 'The field is kept in the mapping but never written.'],
];
const RULES_WRITING_HUBSPOT = new Set(['prefer_salesforce_unless_blank', 'always_salesforce', 'two_way']);

// Salesforce type -> HubSpot kinds it converts to (model/mapping_validate.c's table).
const COMPAT = {
  id: ['text'], string: ['text'], textarea: ['text'], email: ['text'], phone: ['text'], url: ['text'],
  combobox: ['text'], picklist: ['select', 'text'], multipicklist: ['multi'], boolean: ['bool'],
  int: ['number'], long: ['number'], double: ['number'], currency: ['number'], percent: ['number'],
  date: ['date'], datetime: ['datetime'],
};

// Work in progress, by mapping id ('new' before the first save).
const drafts = new Map();

function hsKind(p) {
  switch (p.type) {
    case 'string': case 'phone_number': return 'text';
    case 'number': return 'number';
    case 'bool': return 'bool';
    case 'enumeration': return p.field_type === 'checkbox' ? 'multi' : 'select';
    case 'date': return 'date';
    case 'datetime': return 'datetime';
    default: return 'other';
  }
}
export function compatible(sfField, hsProp) {
  return (COMPAT[sfField.type] || []).includes(hsKind(hsProp));
}
const norm = (s) => String(s || '').toLowerCase().replace(/__c$/, '').replace(/[^a-z0-9]/g, '');

// Suggested pairs: a HubSpot property and a Salesforce field whose names or labels are the same
// (ignoring case, "__c" and punctuation) and whose types convert.
export function suggestPairs(sfFields, hsProps, taken) {
  const out = [];
  const usedSf = new Set(taken.sf);
  const usedHs = new Set(taken.hs);
  for (const p of hsProps) {
    if (usedHs.has(p.name) || p.calculated || p.read_only) continue;
    const keys = new Set([norm(p.name), norm(p.label)]);
    const f = sfFields.find((x) => !usedSf.has(x.name) && !x.lookup && !x.calculated &&
      (keys.has(norm(x.name)) || keys.has(norm(x.label))) && compatible(x, p));
    if (!f) continue;
    usedSf.add(f.name);
    usedHs.add(p.name);
    out.push({ salesforce: f.name, hubspot: p.name, rule: 'prefer_salesforce_unless_blank', suggested: true });
  }
  return out;
}

// Value map suggestions: each Salesforce picklist value to the HubSpot option of the same value
// or label.
export function suggestValueMap(sfField, hsProp, current) {
  const map = { ...(current || {}) };
  for (const v of sfField.picklist_values || []) {
    if (!v.active || map[v.value] !== undefined) continue;
    const o = (hsProp.options || []).find((x) => norm(x.value) === norm(v.value) || norm(x.label) === norm(v.label) || norm(x.label) === norm(v.value));
    if (o) map[v.value] = o.value;
  }
  return map;
}

// The association choices of step 3, one per Salesforce lookup: {field, target (the Salesforce
// object it points to), mapping (the synkro mapping that syncs the target, or null), why (why it
// cannot be turned on, '' when it can)}. Only objects synced by a mapping (this one included,
// for a lookup to its own object) can be associated, and Contacts and Leads never both.
export function associationOptions(lookups, mappings, selfId, selfObject, selfHubspot, selected) {
  const lc = (x) => String(x || '').toLowerCase();
  const targetOf = (f) => {
    for (const target of f.reference_to || []) {
      if (lc(target) === lc(selfObject)) return { target, mapping: { id: selfId, name: 'this mapping', hubspot_object: selfHubspot } };
      const m = mappings.find((x) => String(x.id) !== String(selfId) && lc(x.salesforce_object) === lc(target));
      if (m) return { target, mapping: m };
    }
    return { target: (f.reference_to || [])[0] || 'another object', mapping: null };
  };
  const onTargets = new Set((selected || []).map((a) => {
    const f = lookups.find((x) => x.name === a.salesforce_field);
    return f ? lc(targetOf(f).target) : '';
  }));
  return lookups.map((field) => {
    const { target, mapping } = targetOf(field);
    let why = '';
    if (!mapping) {
      why = `Not available: ${target} is not synced with HubSpot by any mapping. Set up a mapping for ${target} first, then come back.`;
    } else if (/^(contact|lead)$/i.test(target)) {
      const other = lc(target) === 'contact' ? 'lead' : 'contact';
      if (onTargets.has(other)) why = `Not available while the ${other === 'lead' ? 'Lead' : 'Contact'} association is on: an object syncs associations with Contacts or with Leads, never both.`;
    }
    return { field, target, mapping, why };
  });
}

function emptyDoc() {
  return {
    name: '',
    salesforce_object: '',
    hubspot_object: '',
    rules: {
      salesforce_to_hubspot: { create: true, update: true, delete: 'none' },
      hubspot_to_salesforce: { create: true, update: true, delete: 'none' },
      conflict_winner: 'salesforce',
    },
    identity: { hubspot_property: null, salesforce_field: null },
    fields: [],
    associations: [],
  };
}

// Only the members of the mapping document (the API refuses unknown ones).
function docOf(row) {
  const d = emptyDoc();
  for (const k of Object.keys(d)) if (row[k] !== undefined && row[k] !== null) d[k] = structuredClone(row[k]);
  d.identity = { hubspot_property: row.identity?.hubspot_property ?? null, salesforce_field: row.identity?.salesforce_field ?? null };
  return d;
}

function stepOfPath(path) {
  if (!path) return 4;
  if (/^(name|salesforce_object|hubspot_object)/.test(path)) return 1;
  if (path.startsWith('rules')) return 2;
  if (path.startsWith('associations')) return 3;
  return 4;
}

export async function render(root, ctx) {
  const { el, errorBox, toast, withProgress } = ctx.ui;
  const key = ctx.params.id || 'new';
  let step = Number(ctx.params.step || 1);
  let st = drafts.get(key);
  let alive = true;

  // ---- loading ----
  const loadingSlot = el('div', {});
  root.append(el('h1', { text: ctx.params.id ? 'Edit mapping' : 'Set up a new mapping' }), loadingSlot);
  try {
    if (!st) st = await withProgress(loadingSlot, 'Loading the mapping and both CRMs\' objects…', loadState(ctx, key));
    else await withProgress(loadingSlot, 'Loading…', refresh(ctx, st));
  } catch (e) {
    loadingSlot.replaceChildren(errorBox(e, 'The wizard could not load'));
    return;
  }
  drafts.set(key, st);
  if (!st.id && step > 1) step = 1;
  if (step > 1 && !(st.sf && st.hs)) {
    try {
      await withProgress(loadingSlot, 'Reading the objects\' fields…', loadSchemas(ctx, st));
    } catch (e) {
      loadingSlot.replaceChildren(errorBox(e, 'The objects\' fields could not be read'));
      return;
    }
  }
  root.replaceChildren();

  // ---- layout ----
  const title = el('h1', { tabindex: '-1' });
  const subtitle = el('p', { class: 'lead' });
  const stepper = el('ol', { class: 'steps', 'aria-label': 'Wizard steps' });
  const stale = el('div', {});
  const banner = el('div', { 'aria-live': 'polite' });
  const body = el('div', { class: 'card' });
  const nav = el('div', { class: 'wizard-nav' });
  // appends to the step's card, skipping the null of an optional part
  const add = (...xs) => body.append(...xs.flat().filter((x) => x !== null && x !== undefined && x !== false));
  root.append(title, subtitle, stepper, stale, banner, body, nav);

  function go(n) {
    st.step = n;
    ctx.navigate(st.id ? `#/wizard/${st.id}/${n}` : '#/wizard/new');
    if (!st.id) show(n);
  }

  function drawStepper() {
    stepper.replaceChildren(...STEPS.map((name, i) => {
      const n = i + 1;
      const errs = st.problems.filter((p) => p.severity === 'error' && stepOfPath(p.path) === n).length;
      const inner = [el('span', { class: 'num', 'aria-hidden': 'true', text: n < step || (st.id && n !== step && st.visited.has(n)) ? '✓' : String(n) }),
        el('span', { class: 'sr-only', text: `Step ${n}: ` }), el('span', { text: name }), errs ? el('span', { class: 'sr-only', text: ` (${errs} to fix)` }) : null,
        errs ? el('span', { class: 'badge bad', 'aria-hidden': 'true', text: String(errs) }) : null];
      const current = n === step;
      const reachable = st.id && !current;
      const node = reachable
        ? el('a', { href: `#/wizard/${st.id}/${n}` }, inner)
        : el('span', { 'aria-current': current ? 'step' : null }, inner);
      return el('li', { class: n < step ? 'done' : null }, node);
    }));
  }

  function show(n) {
    step = n;
    st.visited.add(n);
    stale.replaceChildren();
    if (st.staleInfo) stale.append(staleBox());
    banner.replaceChildren();
    title.textContent = `${st.id ? 'Edit' : 'Set up'} mapping · Step ${n} of 6: ${STEPS[n - 1]}`;
    subtitle.textContent = st.doc.salesforce_object && st.doc.hubspot_object
      ? `${st.doc.name || 'Unnamed mapping'}: Salesforce ${labelSf(st)} ↔ HubSpot ${labelHs(st)}${st.state ? ` · ${st.state}` : ''}`
      : 'Choose the Salesforce object and the HubSpot object to sync.';
    document.title = `${title.textContent} · synkro console`;
    drawStepper();
    body.replaceChildren();
    nav.replaceChildren();
    const steps = [step1, step2, step3, step4, step5, step6];
    steps[n - 1]();
    title.focus();
  }

  // ---- saving ----
  async function save(button) {
    const label = button ? button.textContent : '';
    if (button) {
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      button.textContent = 'Saving…';
    }
    try {
      let row;
      if (!st.id) {
        row = await ctx.api('POST', '/api/mappings', st.doc);
        drafts.delete('new');
        st.id = row.id;
        drafts.set(String(row.id), st);
      } else {
        row = await ctx.api('PUT', `/api/mappings/${st.id}`, { ...st.doc, version: st.version });
      }
      st.version = row.version;
      st.state = row.state;
      st.base = docOf(row);
      st.problems = row.problems || [];
      st.staleInfo = null;
      st.dirty = false;
      return true;
    } catch (e) {
      if (e.status === 409 && e.code === 'stale_version') {
        await loadStale(e);
        return false;
      }
      if (e.body && Array.isArray(e.body.problems)) st.problems = e.body.problems;
      banner.replaceChildren(errorBox(e, 'Not saved'));
      banner.firstChild.focus?.();
      return false;
    } finally {
      if (button) {
        button.disabled = false;
        button.removeAttribute('aria-busy');
        button.textContent = label;
      }
    }
  }

  async function validate() {
    const v = await ctx.api('POST', `/api/mappings/${st.id}/validate`);
    st.problems = v.problems || [];
    st.checkedAt = Date.now();
    return v;
  }

  // 409: read the current version and what changed in it; nothing typed here is lost.
  async function loadStale() {
    try {
      const [current, history] = await Promise.all([
        ctx.api('GET', `/api/mappings/${st.id}`),
        ctx.api('GET', `/api/mappings/${st.id}/history`).catch(() => ({ history: [] })),
      ]);
      const newer = (history.history || []).filter((h) => h.version > (st.version || 0));
      st.staleInfo = { current, changes: newer };
    } catch (e) {
      st.staleInfo = { current: null, changes: [], error: e };
    }
    stale.replaceChildren(staleBox());
    stale.querySelector('h2')?.focus();
  }

  function staleBox() {
    const info = st.staleInfo;
    const cur = info.current;
    const items = info.changes.length ? info.changes.map((h) => el('li', {},
      `Version ${h.version}: ${h.action} by ${h.actor || 'someone'} ${ctx.ui.fmtAgo(h.changed_at)}`,
      Array.isArray(h.changes) && h.changes.length ? ` — changed ${h.changes.slice(0, 8).map((c) => (typeof c === 'string' ? c : c.path || JSON.stringify(c))).join(', ')}` : ''))
      : [el('li', { text: cur ? `It is now at version ${cur.version} (${cur.state}).` : 'The current version could not be read.' })];
    const mine = el('button', {
      type: 'button', class: 'primary', text: 'Keep my changes and save over theirs',
      on: {
        click: async () => {
          if (cur) st.version = cur.version;
          st.staleInfo = null;
          if (await save(mine)) {
            toast('Saved over the other change.', 'success');
            show(step);
          }
        },
      },
    });
    const theirs = el('button', {
      type: 'button', class: 'secondary', text: 'Discard mine and load theirs',
      on: {
        click: () => {
          if (!cur) return;
          st.doc = docOf(cur);
          st.base = docOf(cur);
          st.version = cur.version;
          st.state = cur.state;
          st.problems = cur.problems || [];
          st.staleInfo = null;
          st.rows = null;
          st.sf = null;
          st.hs = null;
          loadSchemas(ctx, st).then(() => show(step), (e) => banner.replaceChildren(errorBox(e)));
        },
      },
    });
    return el('section', { class: 'stale', role: 'alert', 'aria-labelledby': 'stale-title' },
      el('h2', { id: 'stale-title', tabindex: '-1', text: 'Someone else changed this mapping while you were editing' }),
      el('p', { text: 'Your changes are not saved yet, and nothing you entered is lost. Their change:' }),
      el('ul', {}, items),
      el('div', { class: 'button-row' }, mine, theirs));
  }

  function navButtons({ back = true, nextLabel = 'Next', onNext, disabledWhy }) {
    const nextBtn = el('button', { type: 'button', class: 'primary', text: nextLabel, id: 'wizard-next' });
    const why = el('span', { class: 'why', id: 'next-why', 'aria-live': 'polite' });
    const setBlocked = (reason) => {
      nextBtn.disabled = Boolean(reason);
      why.textContent = reason || '';
      if (reason) nextBtn.setAttribute('aria-describedby', 'next-why');
      else nextBtn.removeAttribute('aria-describedby');
    };
    setBlocked(disabledWhy);
    nextBtn.addEventListener('click', () => onNext(nextBtn));
    nav.replaceChildren(
      back && step > 1 ? el('button', { type: 'button', class: 'secondary', text: 'Back', on: { click: () => go(step - 1) } }) : el('span', {}),
      el('div', { class: 'button-row' }, why, nextBtn));
    return { nextBtn, setBlocked };
  }

  function problemsAt(prefix, exact) {
    return st.problems.filter((p) => (exact ? p.path === prefix : p.path === prefix || p.path.startsWith(prefix + '.') || p.path.startsWith(prefix + '[')));
  }
  function problemNodes(list, id) {
    return list.map((p, i) => el('p', { class: ['problem', p.severity === 'warning' ? 'warning' : null], id: id ? `${id}-${i}` : null },
      p.severity === 'warning' ? 'Warning: ' : '', p.message));
  }
  function problemList(list) {
    if (!list.length) return null;
    return el('div', { class: list.some((p) => p.severity === 'error') ? 'error-box' : 'warning-box', role: 'alert' },
      el('strong', { text: list.some((p) => p.severity === 'error') ? 'To fix before you continue' : 'Worth a look' }),
      el('ul', {}, list.map((p) => el('li', {}, p.path ? el('code', { text: p.path }) : null, p.path ? ' ' : null, p.message))));
  }

  // ---- step 1: map objects ----
  function step1() {
    const cat = st.catalog;
    const used = cat.mappings.filter((m) => String(m.id) !== String(st.id)).length + 1;
    const limitReached = !st.id && cat.mappings.length >= cat.limit;
    const sfSel = el('select', { id: 'sf-object', required: true, 'aria-describedby': 'sf-object-help' },
      el('option', { value: '', text: 'Choose a Salesforce object…' }),
      group('Custom objects', cat.sfObjects.filter((o) => o.custom)),
      group('Standard objects', cat.sfObjects.filter((o) => !o.custom)));
    if (st.doc.salesforce_object && !cat.sfObjects.some((o) => o.name === st.doc.salesforce_object)) {
      sfSel.append(el('option', { value: st.doc.salesforce_object, text: `${st.doc.salesforce_object} (not found in Salesforce)` }));
    }
    sfSel.value = st.doc.salesforce_object;
    const hsSel = el('select', { id: 'hs-object', required: true, 'aria-describedby': 'hs-object-help' },
      el('option', { value: '', text: 'Choose a HubSpot object…' }),
      el('optgroup', { label: 'Custom objects' }, cat.hsObjects.filter((o) => o.custom).map((o) => el('option', { value: o.object_type_id, text: `${o.label} (${o.name})` }))),
      el('optgroup', { label: 'Standard objects' }, cat.hsObjects.filter((o) => !o.custom).map((o) => el('option', { value: o.object_type_id, text: o.label }))));
    if (st.doc.hubspot_object && !findHs(cat, st.doc.hubspot_object)) {
      hsSel.append(el('option', { value: st.doc.hubspot_object, text: `${st.doc.hubspot_object} (not found in HubSpot)` }));
    }
    hsSel.value = hsValueOf(cat, st.doc.hubspot_object);
    const name = el('input', { id: 'mapping-name', type: 'text', maxlength: 200, value: st.doc.name, required: true, 'aria-describedby': 'mapping-name-help' });
    let nameTouched = Boolean(st.doc.name);
    const suggestName = () => {
      if (nameTouched) return;
      const sf = cat.sfObjects.find((o) => o.name === sfSel.value);
      const hs = cat.hsObjects.find((o) => o.object_type_id === hsSel.value);
      name.value = sf && hs ? (norm(hs.label).startsWith(norm(sf.label)) ? hs.label : `${sf.label} ↔ ${hs.label}`) : sf ? sf.label : '';
    };
    name.addEventListener('input', () => { nameTouched = true; update(); });
    const objProblems = el('div', {});
    function update(initial) {
      st.doc.name = name.value.trim();
      const changedObjects = st.doc.salesforce_object !== sfSel.value || hsValueOf(cat, st.doc.hubspot_object) !== hsSel.value;
      st.doc.salesforce_object = sfSel.value;
      if (hsValueOf(cat, st.doc.hubspot_object) !== hsSel.value) st.doc.hubspot_object = hsSel.value;
      if (changedObjects) {
        st.sf = null;
        st.hs = null;
        st.rows = null;
        st.doc.fields = [];
        st.doc.associations = [];
        st.doc.identity = { hubspot_property: null, salesforce_field: null };
      }
      if (!initial) st.dirty = true;
      const dup = cat.mappings.find((m) => String(m.id) !== String(st.id) && m.salesforce_object === sfSel.value && hsValueOf(cat, m.hubspot_object) === hsSel.value);
      objProblems.replaceChildren(...(dup ? [el('p', { class: 'problem', text: `"${dup.name}" already syncs these two objects. Edit that mapping instead, or choose another pair.` })] : []),
        ...problemNodes(problemsAt('salesforce_object').concat(problemsAt('hubspot_object'))));
      let why = '';
      if (limitReached) why = 'The mapping limit is reached.';
      else if (!sfSel.value) why = 'Choose a Salesforce object.';
      else if (!hsSel.value) why = 'Choose a HubSpot object.';
      else if (dup) why = 'These objects are synced by another mapping already.';
      else if (!st.doc.name) why = 'Give the mapping a name.';
      controls.setBlocked(why);
    }
    sfSel.addEventListener('change', () => { suggestName(); update(); });
    hsSel.addEventListener('change', () => { suggestName(); update(); });
    add(
      el('p', { class: 'usage', id: 'usage', text: `${Math.min(used, cat.limit)} of ${cat.limit} mappings used` + (st.id ? '' : ' (with this one)') }),
      limitReached ? el('div', { class: 'error-box', role: 'alert' }, el('strong', { text: 'The mapping limit is reached' }),
        el('p', { text: `All ${cat.limit} mappings are in use. Delete a mapping you no longer need, or raise SYNKRO_MAX_MAPPINGS and restart synkro.` })) : null,
      el('p', { text: 'Choose the Salesforce object and the HubSpot object its records sync with. Create the HubSpot custom object in HubSpot first; HubSpot custom objects are listed first.' }),
      el('div', { class: 'choice-grid' },
        el('div', { class: 'field' }, el('label', { for: 'sf-object', text: 'Salesforce object' }), sfSel,
          el('p', { id: 'sf-object-help', class: 'explain', text: 'Records of this object sync to HubSpot. Custom objects end in __c.' })),
        el('div', { class: 'field' }, el('label', { for: 'hs-object', text: 'HubSpot object' }), hsSel,
          el('p', { id: 'hs-object-help', class: 'explain', text: 'The HubSpot custom object (or standard object) that holds the same records.' }))),
      objProblems,
      el('div', { class: 'field' }, el('label', { for: 'mapping-name', text: 'Mapping name' }), name,
        el('p', { id: 'mapping-name-help', class: 'explain', text: 'How this sync is called in the console, the CLI and the history.' }),
        ...problemNodes(problemsAt('name'))));
    const controls = navButtons({
      back: false,
      onNext: async (btn) => {
        if (st.sf === null || st.hs === null || !st.sf || st.doc.salesforce_object !== st.sf.name) {
          btn.disabled = true;
          try {
            await withProgress(banner, 'Reading both objects\' fields…', loadSchemas(ctx, st));
          } catch (e) {
            banner.replaceChildren(errorBox(e, 'The objects\' fields could not be read'));
            btn.disabled = false;
            return;
          }
        }
        if (!st.id && !st.doc.identity.hubspot_property) applyIdentityGuess(st);
        if (!st.id || st.dirty) {
          if (!(await save(btn))) return;
        }
        go(2);
      },
    });
    update(true);
    if (!st.id) st.dirty = true;
    function group(label, list) {
      return list.length ? el('optgroup', { label }, list.map((o) => el('option', { value: o.name, text: `${o.label} (${o.name})` }))) : null;
    }
  }

  // ---- step 2: sync rules ----
  function step2() {
    const r = st.doc.rules;
    const check = (dir, what, text, help) => {
      const id = `rule-${dir}-${what}`;
      const box = el('input', { type: 'checkbox', id, checked: r[dir][what], 'aria-describedby': `${id}-help` });
      box.addEventListener('change', () => { r[dir][what] = box.checked; st.dirty = true; });
      return el('div', {}, el('label', { class: 'inline' }, box, ' ', text), el('p', { id: `${id}-help`, class: 'explain', text: help }),
        ...problemNodes(problemsAt(`rules.${dir}.${what}`)));
    };
    const del = (dir, app, other) => {
      const id = `rule-${dir}-delete`;
      const sel = el('select', { id, 'aria-describedby': `${id}-help` },
        el('option', { value: 'none', text: `Keep the ${app} record` }),
        el('option', { value: 'delete', text: `Delete the ${app} record` }));
      sel.value = r[dir].delete;
      const explain = () => `Deleting in ${other} ${r[dir].delete === 'delete' ? 'deletes' : 'does not delete'} the linked ${app} record${r[dir].delete === 'delete' ? '' : '; the pair is only unlinked'}.`;
      const help = el('p', { id: `${id}-help`, class: 'explain', text: explain() });
      sel.addEventListener('change', () => { r[dir].delete = sel.value; st.dirty = true; help.textContent = explain(); });
      return el('div', {}, el('label', { for: id, class: 'sr-only', text: `When a ${other} record is deleted` }), sel, help,
        ...problemNodes(problemsAt(`rules.${dir}.delete`)));
    };
    const winner = el('select', { id: 'conflict-winner', 'aria-describedby': 'conflict-winner-help' },
      el('option', { value: 'salesforce', text: 'Salesforce' }), el('option', { value: 'hubspot', text: 'HubSpot' }));
    winner.value = r.conflict_winner;
    winner.addEventListener('change', () => { r.conflict_winner = winner.value; st.dirty = true; });
    add(
      el('p', { text: 'Decide what happens in each app when a record is created, updated or deleted in the other one, and which app wins a conflict.' }),
      el('div', { class: 'table-wrap' }, el('table', { class: 'table rules-table' },
        el('caption', { text: 'Sync rules' }),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'When a record is…' }),
          el('th', { scope: 'col', text: 'In HubSpot (changes from Salesforce)' }),
          el('th', { scope: 'col', text: 'In Salesforce (changes from HubSpot)' }))),
        el('tbody', {},
          el('tr', {}, el('th', { scope: 'row', text: 'Created' }),
            el('td', {}, check('salesforce_to_hubspot', 'create', 'Create it in HubSpot', 'A new Salesforce record gets a HubSpot record.')),
            el('td', {}, check('hubspot_to_salesforce', 'create', 'Create it in Salesforce', 'A new HubSpot record gets a Salesforce record.'))),
          el('tr', {}, el('th', { scope: 'row', text: 'Updated' }),
            el('td', {}, check('salesforce_to_hubspot', 'update', 'Update it in HubSpot', 'Salesforce edits are written to the linked HubSpot record.')),
            el('td', {}, check('hubspot_to_salesforce', 'update', 'Update it in Salesforce', 'HubSpot edits are written to the linked Salesforce record.'))),
          el('tr', {}, el('th', { scope: 'row', text: 'Deleted' }),
            el('td', {}, del('salesforce_to_hubspot', 'HubSpot', 'Salesforce')),
            el('td', {}, del('hubspot_to_salesforce', 'Salesforce', 'HubSpot')))))),
      el('div', { class: 'field' }, el('h2', { text: 'Resolve sync conflicts' }),
        el('label', { for: 'conflict-winner', text: 'When a field changed in both apps, keep the value from' }), winner,
        el('p', { id: 'conflict-winner-help', class: 'explain', text: 'Applies to two-way fields edited in both apps since the last sync: the winner\'s value is written to the other app, and the conflict is recorded.' }),
        ...problemNodes(problemsAt('rules.conflict_winner'))),
      problemList(problemsAt('rules').filter((p) => !/^rules\.(salesforce_to_hubspot|hubspot_to_salesforce|conflict_winner)/.test(p.path))));
    navButtons({ onNext: async (btn) => { if (!st.dirty || await save(btn)) go(3); } });
  }

  // ---- step 3: associations ----
  function step3() {
    const lookups = st.sf.fields.filter((f) => f.lookup);
    const cat = st.catalog;
    const list = el('ul', { class: 'assoc-list' });
    const hsAssocs = st.hs.associations || [];
    function draw() {
      list.replaceChildren();
      const on = new Map(st.doc.associations.map((a, i) => [a.salesforce_field, i]));
      const options = associationOptions(lookups, cat.mappings, st.id, st.doc.salesforce_object, st.doc.hubspot_object, st.doc.associations);
      if (!lookups.length) {
        list.append(el('li', {}, el('p', { text: `${labelSf(st)} has no lookup fields in Salesforce, so there is nothing to associate. If you expected one, ask your Salesforce admin.` })));
      }
      for (const { field: f, target, mapping, why } of options) {
        const id = `assoc-${f.name}`;
        const idx = on.get(f.name);
        const box = el('input', { type: 'checkbox', id, checked: idx !== undefined, disabled: Boolean(why) && idx === undefined, 'aria-describedby': `${id}-why` });
        const hsTarget = mapping ? findHs(cat, mapping.hubspot_object) : null;
        const labels = hsTarget ? hsAssocs.filter((a) => a.to_object_type_id === hsTarget.object_type_id) : [];
        const typeSel = el('select', { id: `${id}-type`, disabled: idx === undefined },
          el('option', { value: '', text: 'HubSpot\'s default association' }),
          labels.map((a) => el('option', { value: String(a.id), text: a.name || `Association type ${a.id}` })));
        if (idx !== undefined && st.doc.associations[idx].association_type_id) typeSel.value = String(st.doc.associations[idx].association_type_id);
        box.addEventListener('change', () => {
          if (box.checked) {
            st.doc.associations.push({
              salesforce_field: f.name, hubspot_object: mapping.hubspot_object,
              association_type_id: typeSel.value ? Number(typeSel.value) : null, enabled: true, resolver: null,
            });
          } else {
            st.doc.associations = st.doc.associations.filter((a) => a.salesforce_field !== f.name);
          }
          st.dirty = true;
          draw();
          document.getElementById(id)?.focus();
        });
        typeSel.addEventListener('change', () => {
          const a = st.doc.associations.find((x) => x.salesforce_field === f.name);
          if (a) a.association_type_id = typeSel.value ? Number(typeSel.value) : null;
          st.dirty = true;
        });
        const probs = idx !== undefined ? problemsAt(`associations[${idx}]`) : [];
        list.append(el('li', {}, box,
          el('div', {},
            el('label', { for: id }, `${f.label} (${f.name})`, ' → ', mapping ? `${target}, synced by ${mapping.name}` : target),
            el('p', { id: `${id}-why`, class: why ? 'why-not' : 'explain', text: why || `Associates each ${labelHs(st)} record with the HubSpot record of the ${target} this lookup points to.` }),
            mapping ? el('div', { class: 'field' }, el('label', { for: `${id}-type`, text: 'Association label' }), typeSel) : null,
            ...problemNodes(probs))));
      }
    }
    add(
      el('p', { text: `The lookups below are what Salesforce has set up on ${labelSf(st)}. Turn on the ones whose associations should sync to HubSpot. Associations sync only between objects that are themselves synced; an object syncs with Contacts or Leads, never both. If a lookup is missing, ask your Salesforce admin.` }),
      list,
      problemList(problemsAt('associations').filter((p) => !/^associations\[\d+\]/.test(p.path))));
    draw();
    navButtons({ onNext: async (btn) => { if (!st.dirty || await save(btn)) go(4); } });
  }

  // ---- step 4: field mappings ----
  function step4() {
    const sfFields = st.sf.fields;
    const hsProps = st.hs.properties;
    const required = new Set((st.hs.required_properties || []).filter((n) => n !== st.doc.identity.hubspot_property));
    if (!st.rows) {
      st.rows = rowsFromDoc(st);
      st.fieldIndexOfRow = null;
    }
    const rows = st.rows;
    for (const name of required) if (!rows.some((r) => r.hubspot === name)) rows.unshift({ salesforce: '', hubspot: name, rule: 'prefer_salesforce_unless_blank', required: true });
    for (const r of rows) r.required = required.has(r.hubspot);
    const sfByName = new Map(sfFields.map((f) => [f.name, f]));
    const hsByName = new Map(hsProps.map((p) => [p.name, p]));
    const identityBox = el('fieldset', {});
    const tableBody = el('tbody', {});
    const general = el('div', {});
    let controls = null;
    let serverChecked = !st.dirty && st.checkedAt;

    function identitySection() {
      const hsOpts = hsProps.filter((p) => p.type === 'string' && !p.calculated && !p.read_only);
      const sfOpts = sfFields.filter((f) => f.type === 'string' && (f.external_id || f.unique));
      const hsSel = el('select', { id: 'identity-hs', 'aria-describedby': 'identity-hs-help' },
        el('option', { value: '', text: 'None' }), hsOpts.map((p) => el('option', { value: p.name, text: `${p.label} (${p.name})${p.has_unique_value ? '' : ' — not unique'}` })));
      hsSel.value = st.doc.identity.hubspot_property || '';
      const sfSel = el('select', { id: 'identity-sf', 'aria-describedby': 'identity-sf-help' },
        el('option', { value: '', text: 'None' }), sfOpts.map((f) => el('option', { value: f.name, text: `${f.label} (${f.name})${f.external_id ? '' : ' — not an external id'}` })));
      sfSel.value = st.doc.identity.salesforce_field || '';
      hsSel.addEventListener('change', () => { st.doc.identity.hubspot_property = hsSel.value || null; changed(); step4Redraw(); });
      sfSel.addEventListener('change', () => { st.doc.identity.salesforce_field = sfSel.value || null; changed(); });
      identityBox.replaceChildren(el('legend', { text: 'Record matching' }),
        el('p', { class: 'explain', text: 'synkro links the two records of a pair by these ids: a unique HubSpot property holds the Salesforce record id, and an external-id field in Salesforce holds the HubSpot record id.' }),
        el('div', { class: 'field-row' },
          el('div', { class: 'field', dataset: { path: 'identity.hubspot_property' } }, el('label', { for: 'identity-hs', text: 'HubSpot property that stores the Salesforce ID' }), hsSel,
            el('p', { id: 'identity-hs-help', class: 'explain', text: 'Needed when Salesforce creates or updates HubSpot records.' }),
            ...problemNodes(problemsAt('identity.hubspot_property'))),
          el('div', { class: 'field', dataset: { path: 'identity.salesforce_field' } }, el('label', { for: 'identity-sf', text: 'Salesforce field that stores the HubSpot ID' }), sfSel,
            el('p', { id: 'identity-sf-help', class: 'explain', text: 'Needed when HubSpot creates or updates Salesforce records.' }),
            ...problemNodes(problemsAt('identity.salesforce_field')))),
        ...problemNodes(problemsAt('identity', true)));
    }

    // Client-side problems of a row (shown until fixed, whatever the server said).
    function rowErrors(r) {
      const errs = [];
      const f = sfByName.get(r.salesforce);
      const p = hsByName.get(r.hubspot);
      if (r.required && !r.salesforce) errs.push(`Required: HubSpot needs ${p ? p.label : r.hubspot} on every record. Choose the Salesforce field that fills it.`);
      else if (!r.salesforce || !r.hubspot) errs.push('Choose both a Salesforce field and a HubSpot property, or remove this row.');
      else if (f && p && !compatible(f, p)) errs.push(`${f.label} (${f.type}) does not convert to ${p.label} (${hsKind(p)}). Choose another property or field.`);
      if (r.required && r.salesforce && !RULES_WRITING_HUBSPOT.has(r.rule)) errs.push('HubSpot requires this property, so the rule must write it from Salesforce (two-way, prefer Salesforce unless blank, or always Salesforce).');
      const dupSf = r.salesforce && rows.filter((x) => x.salesforce === r.salesforce).length > 1;
      const dupHs = r.hubspot && rows.filter((x) => x.hubspot === r.hubspot).length > 1;
      if (dupSf) errs.push(`${r.salesforce} is mapped more than once.`);
      if (dupHs) errs.push(`${r.hubspot} is mapped more than once.`);
      return errs;
    }

    function rowView(r, i) {
      const f = sfByName.get(r.salesforce);
      const p = hsByName.get(r.hubspot);
      const fieldIndex = st.fieldIndexOfRow ? st.fieldIndexOfRow.get(r) : undefined;
      const server = fieldIndex !== undefined && !st.dirtyRows?.has(r) ? problemsAt(`fields[${fieldIndex}]`) : [];
      const errs = rowErrors(r);
      const rid = `row-${i}`;
      const hsSel = el('select', { id: `${rid}-hs`, 'aria-label': `HubSpot property of row ${i + 1}`, disabled: r.required },
        el('option', { value: '', text: 'Choose a HubSpot property…' }),
        hsProps.filter((x) => !x.calculated && !x.read_only && x.name !== st.doc.identity.hubspot_property).map((x) =>
          el('option', { value: x.name, text: `${x.label} (${x.name})${required.has(x.name) ? ' — required' : ''}` })));
      hsSel.value = r.hubspot;
      const sfSel = el('select', { id: `${rid}-sf`, 'aria-label': `Salesforce field for ${p ? p.label : `row ${i + 1}`}`, 'aria-invalid': errs.length || server.some((x) => x.severity === 'error') ? 'true' : null, 'aria-describedby': `${rid}-problems` },
        el('option', { value: '', text: 'Choose a Salesforce field…' }),
        sfFields.filter((x) => !x.lookup && x.name !== st.doc.identity.salesforce_field).map((x) => {
          const ok = !p || compatible(x, p);
          return el('option', { value: x.name, text: `${x.label} (${x.name}, ${x.type})${ok ? '' : ' — does not convert'}` });
        }));
      sfSel.value = r.salesforce;
      const ruleSel = el('select', { id: `${rid}-rule`, 'aria-label': `Sync rule for ${p ? p.label : `row ${i + 1}`}` },
        FIELD_RULES.map(([v, label]) => el('option', { value: v, text: label })));
      ruleSel.value = r.rule;
      const ruleHelp = el('span', { class: 'field-meta', text: (FIELD_RULES.find((x) => x[0] === r.rule) || [])[2] || '' });
      const change = (fn) => () => {
        fn();
        (st.dirtyRows ||= new Set()).add(r);
        changed();
        redrawRow();
      };
      hsSel.addEventListener('change', change(() => { r.hubspot = hsSel.value; r.suggested = false; r.value_map = null; }));
      sfSel.addEventListener('change', change(() => { r.salesforce = sfSel.value; r.suggested = false; r.value_map = null; }));
      ruleSel.addEventListener('change', change(() => { r.rule = ruleSel.value; }));
      const remove = r.required ? el('span', { class: 'field-meta', text: 'Required by HubSpot' }) : el('button', {
        type: 'button', class: 'secondary small', text: 'Remove', 'aria-label': `Remove the mapping of ${p ? p.label : `row ${i + 1}`}`,
        on: { click: () => { rows.splice(rows.indexOf(r), 1); changed(); drawRows(); tableBody.querySelector('select')?.focus(); } },
      });
      const valueMap = f && p && f.type === 'picklist' && hsKind(p) === 'select' ? valueMapView(r, f, p, rid) : null;
      const problemsNode = el('div', { id: `${rid}-problems` }, errs.map((m) => el('p', { class: 'problem', text: m })), ...problemNodes(server));
      const tr = el('tr', { class: errs.length || server.some((x) => x.severity === 'error') ? 'needs-fix' : null, dataset: { hubspot: r.hubspot || '', row: String(i) } },
        el('td', {}, hsSel, p ? el('span', { class: 'field-meta', text: `${hsKind(p)}${p.has_unique_value ? ', unique' : ''}` }) : null,
          r.required ? el('span', { class: r.salesforce ? 'badge ok' : 'badge required', text: r.salesforce ? 'Required · mapped' : 'Required' }) : null),
        el('td', {}, sfSel, f ? el('span', { class: 'field-meta', text: `${f.type}${f.length ? `, ${f.length} characters` : ''}` }) : null,
          r.suggested ? el('span', { class: 'suggest', text: 'Suggested: same name or label' }) : null, valueMap, problemsNode),
        el('td', {}, ruleSel, ruleHelp),
        el('td', {}, remove));
      function redrawRow() {
        const focusId = document.activeElement && document.activeElement.id;
        drawRows();
        if (focusId) document.getElementById(focusId)?.focus();
      }
      return tr;
    }

    function valueMapView(r, f, p, rid) {
      if (!r.value_map) r.value_map = suggestValueMap(f, p, {});
      const values = (f.picklist_values || []).filter((v) => v.active);
      return el('fieldset', { class: 'value-map-box' }, el('legend', { text: `Values: Salesforce ${f.label} → HubSpot ${p.label}` }),
        el('div', { class: 'value-map' }, values.map((v, k) => {
          const id = `${rid}-vm-${k}`;
          const sel = el('select', { id },
            el('option', { value: '', text: 'Not mapped (records with it fail)' }),
            (p.options || []).filter((o) => !o.hidden).map((o) => el('option', { value: o.value, text: o.label })));
          sel.value = r.value_map[v.value] || '';
          sel.addEventListener('change', () => {
            if (sel.value) r.value_map[v.value] = sel.value;
            else delete r.value_map[v.value];
            (st.dirtyRows ||= new Set()).add(r);
            changed();
          });
          return [el('label', { for: id, text: v.label || v.value }), sel];
        })));
    }

    function drawRows() {
      tableBody.replaceChildren(...rows.map((r, i) => rowView(r, i)));
      general.replaceChildren();
      // required properties show their own problem at their row
      const leftover = st.problems.filter((p) => stepOfPath(p.path) === 4 && !/^fields\[\d+\]/.test(p.path) &&
        !p.path.startsWith('identity') && !(p.code === 'required_property_unmapped' && p.path === 'fields'));
      const pl = problemList(leftover);
      if (pl) general.append(pl);
      refreshNext();
    }

    function clientErrors() {
      return rows.flatMap(rowErrors);
    }
    function refreshNext() {
      if (!controls) return;
      const ce = clientErrors();
      const se = st.problems.filter((p) => p.severity === 'error' && stepOfPath(p.path) <= 4);
      if (ce.length) controls.setBlocked(`${ce.length} field ${ce.length === 1 ? 'mapping needs' : 'mappings need'} fixing first.`);
      else if (se.length && serverChecked) controls.setBlocked(`${se.length} ${se.length === 1 ? 'problem' : 'problems'} to fix (shown above) before you continue.`);
      else controls.setBlocked('');
    }
    function changed() {
      st.dirty = true;
      serverChecked = false;
      syncDoc();
      refreshNext();
    }
    function syncDoc() {
      const map = new Map();
      st.doc.fields = [];
      rows.forEach((r) => {
        if (!r.salesforce || !r.hubspot) return;
        map.set(r, st.doc.fields.length);
        const f = { salesforce: r.salesforce, hubspot: r.hubspot, rule: r.rule };
        if (r.value_map && Object.keys(r.value_map).length) f.value_map = r.value_map;
        st.doc.fields.push(f);
      });
      st.pendingIndex = map;
    }
    function step4Redraw() {
      identitySection();
      drawRows();
    }

    const addRow = el('button', {
      type: 'button', class: 'secondary', text: 'Add a field mapping',
      on: { click: () => { rows.push({ salesforce: '', hubspot: '', rule: 'prefer_salesforce_unless_blank' }); changed(); drawRows(); document.getElementById(`row-${rows.length - 1}-hs`)?.focus(); } },
    });
    const suggestBtn = el('button', {
      type: 'button', class: 'secondary', text: 'Add suggested pairs',
      on: {
        click: () => {
          const more = suggestPairs(sfFields.filter((x) => x.name !== st.doc.identity.salesforce_field),
            hsProps.filter((x) => x.name !== st.doc.identity.hubspot_property),
            { sf: rows.map((r) => r.salesforce).filter(Boolean), hs: rows.map((r) => r.hubspot).filter(Boolean) });
          for (const s of more) {
            const req = rows.find((r) => r.required && r.hubspot === s.hubspot && !r.salesforce);
            if (req) Object.assign(req, { salesforce: s.salesforce, suggested: true });
            else if (!rows.some((r) => r.hubspot === s.hubspot)) rows.push(s);
          }
          toast(more.length ? `${more.length} suggested ${more.length === 1 ? 'pair' : 'pairs'} added.` : 'No more pairs with the same name or label.', 'info');
          changed();
          drawRows();
        },
      },
    });
    add(
      el('p', { text: `Choose the Salesforce field for each HubSpot property. HubSpot custom objects need at least one required property; required properties are marked until they are mapped. Pairs with the same name or label are suggested; edit or remove any of them. Resolve every error before you continue.` }),
      identityBox,
      general,
      el('div', { class: 'table-wrap' }, el('table', { class: 'table fields-table' },
        el('caption', { text: `Field mappings: ${labelHs(st)} ↔ ${labelSf(st)}` }),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'HubSpot property' }), el('th', { scope: 'col', text: 'Salesforce field' }),
          el('th', { scope: 'col', text: 'Sync rule' }), el('th', { scope: 'col', text: 'Actions' }))),
        tableBody)),
      el('div', { class: 'button-row' }, addRow, suggestBtn));
    identitySection();
    controls = navButtons({
      nextLabel: 'Next',
      onNext: async (btn) => {
        syncDoc();
        if (clientErrors().length) { refreshNext(); return; }
        btn.disabled = true;
        if (st.dirty && !(await save(btn))) { btn.disabled = false; return; }
        st.fieldIndexOfRow = st.pendingIndex || new Map();
        st.dirtyRows = new Set();
        try {
          await withProgress(banner, 'Checking the mapping against both CRMs…', validate());
        } catch (e) {
          banner.replaceChildren(errorBox(e, 'The mapping could not be checked'));
          btn.disabled = false;
          return;
        }
        serverChecked = true;
        const errs = st.problems.filter((p) => p.severity === 'error' && stepOfPath(p.path) <= 4);
        if (errs.length) {
          drawStepper();
          step4Redraw();
          banner.replaceChildren(el('div', { class: 'error-box', role: 'alert' }, el('strong', { text: 'Not yet: fix the problems shown at their fields' }),
            el('p', { text: `${errs.length} ${errs.length === 1 ? 'problem' : 'problems'} found by checking the mapping against Salesforce and HubSpot.` })));
          return;
        }
        go(5);
      },
    });
    syncDoc();
    if (!st.fieldIndexOfRow) st.fieldIndexOfRow = st.pendingIndex;
    drawRows();
  }

  // ---- step 5: preview ----
  function step5() {
    const slot = el('div', {});
    add(el('p', { text: 'Review the setup: every mapped field as synkro will sync it, and a dry run on up to 20 real Salesforce records (newest first). Nothing is written. Use Back or the steps above to change anything.' }), slot);
    const controls = navButtons({ onNext: () => go(6), disabledWhy: 'Loading the preview…' });
    (async () => {
      let pv;
      try {
        pv = await withProgress(slot, 'Reading up to 20 Salesforce records for the dry run…', ctx.api('GET', `/api/mappings/${st.id}/preview`));
      } catch (e) {
        slot.replaceChildren(errorBox(e, 'The preview could not be made'));
        controls.setBlocked('The preview failed; fix the problem above or go back.');
        return;
      }
      if (!alive) return;
      st.problems = pv.problems || st.problems;
      drawStepper();
      const { table } = ctx.ui;
      const arrow = (f) => f.salesforce_to_hubspot && f.hubspot_to_salesforce ? '↔ both ways' : f.salesforce_to_hubspot ? '→ HubSpot' : f.hubspot_to_salesforce ? '← Salesforce' : 'not synced';
      const ruleLabel = (r) => (FIELD_RULES.find((x) => x[0] === r) || [r, r])[1];
      const recs = pv.records || [];
      const withErrors = recs.filter((r) => (r.errors || []).length);
      const props = pv.fields.filter((f) => f.salesforce_to_hubspot).map((f) => f.hubspot);
      const idProp = st.doc.identity.hubspot_property;
      slot.replaceChildren(...[
        problemList((pv.problems || []).filter((p) => p.severity === 'error')) || el('p', {}, el('span', { class: 'badge ok', text: 'The mapping is valid.' })),
        el('h2', { text: 'Fields' }),
        table([
          { label: 'Salesforce field', render: (f) => `${f.salesforce} (${f.salesforce_type || 'unknown'})` },
          { label: 'Direction', render: arrow },
          { label: 'HubSpot property', render: (f) => `${f.hubspot} (${f.hubspot_type || 'unknown'})` },
          { label: 'Rule', render: (f) => ruleLabel(f.rule) },
        ], pv.fields, { caption: 'Resolved field mappings', empty: 'No field is mapped.' }),
        el('h2', { text: 'Dry run on real records' }),
        el('p', { id: 'preview-summary', class: withErrors.length ? 'problem' : null, text: recs.length
          ? withErrors.length
            ? `${withErrors.length} of ${recs.length} records have values that do not convert. Those records would fail to sync: fix the value map or the field's rule (step 4), or the values in Salesforce.`
            : `All ${recs.length} records convert without errors.`
          : `There are no ${labelSf(st)} records in Salesforce to try yet.` }),
        recs.length ? table([
          { label: 'Salesforce ID', render: (r) => r.salesforce_id },
          ...[...(idProp ? [idProp] : []), ...props.filter((p) => p !== idProp)].map((prop) => ({
            label: prop, class: 'preview-cell',
            render: (r) => {
              const err = (r.errors || []).find((x) => x.hubspot === prop);
              if (err) return ctx.ui.el('span', { class: 'conv-error', text: `Does not convert: ${err.message}` });
              const v = (r.hubspot_properties || {})[prop];
              return v === undefined || v === null || v === '' ? '–' : String(v);
            },
          })),
        ], recs, { caption: 'As these records would be written to HubSpot' }) : null].filter(Boolean));
      const errs = (pv.problems || []).filter((p) => p.severity === 'error');
      controls.setBlocked(errs.length ? 'Fix the problems above first (Back to the step concerned).' : '');
    })();
  }

  // ---- step 6: turn on sync ----
  function step6() {
    const name = 'turn-on';
    const start = el('input', { type: 'radio', name, id: 'turn-on-start', value: 'start', checked: true });
    const later = el('input', { type: 'radio', name, id: 'turn-on-later', value: 'later' });
    const result = el('div', { 'aria-live': 'polite' });
    add(
      el('fieldset', {}, el('legend', { text: 'When should this mapping start syncing?' }),
        el('div', { class: 'radio-cards' },
          el('label', { class: 'radio-card', for: 'turn-on-start' }, start, el('span', {}, el('strong', { text: 'Start continuous sync' }),
            'Records sync as they are created or updated in Salesforce and HubSpot, within seconds.')),
          el('label', { class: 'radio-card', for: 'turn-on-later' }, later, el('span', {}, el('strong', { text: 'Save for later' }),
            'The mapping stays a draft (or paused): changes wait until you turn the sync on from the mappings list.')))),
      el('p', { class: 'explain', text: 'To bring in the records that already exist, start an import from Salesforce once the sync is on (Imports).' }),
      result);
    const controls = navButtons({
      nextLabel: 'Turn on sync',
      onNext: async (btn) => {
        btn.disabled = true;
        btn.setAttribute('aria-busy', 'true');
        try {
          if (st.dirty && !(await save())) return;
          if (start.checked) {
            await ctx.api('POST', `/api/mappings/${st.id}/enable`, { version: st.version });
            toast(`${st.doc.name}: continuous sync is on.`, 'success');
          } else {
            if (st.state === 'enabled') await ctx.api('POST', `/api/mappings/${st.id}/pause`, { version: st.version });
            toast(`${st.doc.name} is saved for later.`, 'success');
          }
          drafts.delete(String(st.id));
          result.replaceChildren(el('div', { class: 'notice' },
            el('p', { text: start.checked ? 'The sync is on.' : 'Saved for later.' }),
            el('div', { class: 'button-row' },
              el('a', { class: 'button primary', href: `#/imports?mapping=${st.id}`, text: 'Import existing records' }),
              el('a', { class: 'button secondary', href: '#/mappings', text: 'Back to the mappings' }))));
          ctx.navigate('#/mappings');
        } catch (e) {
          if (e.body && Array.isArray(e.body.problems)) st.problems = e.body.problems;
          result.replaceChildren(errorBox(e, start.checked ? 'The sync could not be turned on' : 'Not saved'));
          drawStepper();
        } finally {
          btn.disabled = false;
          btn.removeAttribute('aria-busy');
        }
      },
    });
    const relabel = () => { controls.nextBtn.textContent = start.checked ? 'Turn on sync' : 'Save for later'; };
    start.addEventListener('change', relabel);
    later.addEventListener('change', relabel);
  }

  show(step);
  return () => { alive = false; };
}

// ---- data ----

async function loadCatalog(ctx) {
  const [sf, hs, ms] = await Promise.all([
    ctx.api('GET', '/api/salesforce/objects'),
    ctx.api('GET', '/api/hubspot/objects'),
    ctx.api('GET', '/api/mappings'),
  ]);
  const byCustomThenLabel = (a, b) => (b.custom - a.custom) || a.label.localeCompare(b.label);
  return {
    sfObjects: (sf.objects || []).filter((o) => o.queryable !== false).sort(byCustomThenLabel),
    hsObjects: (hs.objects || []).slice().sort((a, b) => (b.custom - a.custom)),
    mappings: ms.mappings || [],
    limit: ms.limit || 10,
  };
}

async function ensureCatalog(ctx, st) {
  if (!st.catalog || Date.now() - st.catalog.at > 60000) st.catalog = { ...(await loadCatalog(ctx)), at: Date.now() };
}

// A draft kept in memory with nothing unsaved takes the server's version when it moved on (the
// mapping was enabled, paused or edited elsewhere meanwhile); one with unsaved changes keeps them
// (saving it then shows the other change).
async function refresh(ctx, st) {
  const [row] = await Promise.all([st.id && !st.dirty ? ctx.api('GET', `/api/mappings/${st.id}`) : null, ensureCatalog(ctx, st)]);
  if (!row) return;
  st.state = row.state;
  if (row.version === st.version) return;
  const objectsMoved = row.salesforce_object !== st.doc.salesforce_object || row.hubspot_object !== st.doc.hubspot_object;
  st.doc = docOf(row);
  st.base = docOf(row);
  st.version = row.version;
  st.problems = row.problems || [];
  st.rows = null;
  st.checkedAt = null;
  if (objectsMoved) {
    st.sf = null;
    st.hs = null;
  }
}

async function loadState(ctx, key) {
  const st = { id: null, version: null, state: null, doc: emptyDoc(), base: null, problems: [], catalog: null, sf: null, hs: null, rows: null, dirty: false, visited: new Set(), staleInfo: null };
  if (key !== 'new') {
    const row = await ctx.api('GET', `/api/mappings/${key}`);
    st.id = row.id;
    st.version = row.version;
    st.state = row.state;
    st.doc = docOf(row);
    st.base = docOf(row);
    st.problems = row.problems || [];
  }
  await ensureCatalog(ctx, st);
  return st;
}

async function loadSchemas(ctx, st) {
  const hsType = st.doc.hubspot_object;
  const [sf, hs] = await Promise.all([
    ctx.api('GET', `/api/salesforce/objects/${encodeURIComponent(st.doc.salesforce_object)}`),
    ctx.api('GET', `/api/hubspot/objects/${encodeURIComponent(hsType)}`),
  ]);
  st.sf = sf;
  st.hs = hs;
  st.rows = null;
}

function applyIdentityGuess(st) {
  const hsId = st.hs.properties.find((p) => p.type === 'string' && p.has_unique_value && /salesforce.?id/i.test(p.name + ' ' + p.label));
  const sfId = st.sf.fields.find((f) => f.external_id && f.type === 'string' && /hubspot/i.test(f.name + ' ' + f.label));
  st.doc.identity = { hubspot_property: hsId ? hsId.name : null, salesforce_field: sfId ? sfId.name : null };
  if (!st.doc.fields.length) {
    st.doc.fields = suggestPairs(st.sf.fields.filter((f) => !sfId || f.name !== sfId.name),
      st.hs.properties.filter((p) => !hsId || p.name !== hsId.name), { sf: [], hs: [] })
      .map(({ salesforce, hubspot, rule }) => ({ salesforce, hubspot, rule }));
    for (const f of st.doc.fields) {
      const sff = st.sf.fields.find((x) => x.name === f.salesforce);
      const hp = st.hs.properties.find((x) => x.name === f.hubspot);
      if (sff && hp && sff.type === 'picklist' && hsKind(hp) === 'select') {
        const vm = suggestValueMap(sff, hp, {});
        if (Object.keys(vm).length) f.value_map = vm;
      }
    }
    st.suggestedFields = new Set(st.doc.fields.map((f) => f.hubspot));
  }
}

function rowsFromDoc(st) {
  return st.doc.fields.map((f) => ({
    salesforce: f.salesforce, hubspot: f.hubspot, rule: f.rule || 'two_way',
    value_map: f.value_map ? { ...f.value_map } : null,
    suggested: Boolean(st.suggestedFields && st.suggestedFields.has(f.hubspot)),
  }));
}

function findHs(cat, v) {
  if (!v) return null;
  const lv = String(v).toLowerCase();
  return cat.hsObjects.find((o) => [o.object_type_id, o.name, o.fully_qualified_name].filter(Boolean).some((x) => x.toLowerCase() === lv)) || null;
}
function hsValueOf(cat, v) {
  const o = findHs(cat, v);
  return o ? o.object_type_id : v || '';
}
function labelSf(st) {
  const o = st.catalog && st.catalog.sfObjects.find((x) => x.name === st.doc.salesforce_object);
  return o ? o.label : st.doc.salesforce_object;
}
function labelHs(st) {
  const o = st.catalog && findHs(st.catalog, st.doc.hubspot_object);
  return o ? o.label : st.doc.hubspot_object;
}
