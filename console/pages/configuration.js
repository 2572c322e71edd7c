// configuration.js: the Configuration page (#/configuration): the mappings, export of the whole
// configuration as a JSON file (GET /api/mappings/export), import of such a file (what it will
// change, then POST /api/mappings/import, which replaces every mapping; its problems shown),
// each mapping's history (who changed what), and synkro doctor's checks (GET /api/doctor).
// Must not: import without showing the changes and asking first.
import {h, clear, table, errorBox, section, badge, fmtTime, spinner, busy, toast, loadMappings, plural} from './kit.js';

const KEY_FIELDS = ['id', 'version', 'problems', 'validated_at', 'created_at', 'updated_at'];

function comparable(m) {
  const c = {...m};
  for (const k of KEY_FIELDS) delete c[k];
  return JSON.stringify(c, Object.keys(c).sort());
}
function pairKey(m) {
  return `${m.salesforce_object}|${m.hubspot_object}`;
}

// What importing `incoming` (the file's mappings) does to `current` (the export now).
export function diffConfig(current, incoming) {
  const now = new Map(current.map(m => [pairKey(m), m]));
  const next = new Map(incoming.map(m => [pairKey(m), m]));
  const out = [];
  for (const [k, m] of next) {
    const old = now.get(k);
    if (!old) out.push({change: 'added', name: m.name, objects: k, state: m.state});
    else if (comparable(old) !== comparable(m)) {
      const fields = Object.keys({...old, ...m}).filter(f => !KEY_FIELDS.includes(f) &&
        JSON.stringify(old[f]) !== JSON.stringify(m[f]));
      out.push({change: 'changed', name: m.name, objects: k, state: m.state, what: fields.join(', ')});
    } else out.push({change: 'unchanged', name: m.name, objects: k, state: m.state});
  }
  for (const [k, m] of now) if (!next.has(k)) out.push({change: 'removed', name: m.name, objects: k, state: m.state});
  return out;
}

function diffTable(rows) {
  return table([
    {label: 'Change', cell: r => badge(r.change, `change-${r.change}`)},
    {label: 'Mapping', cell: r => r.name},
    {label: 'Objects', cell: r => r.objects.replace('|', ' ↔ ')},
    {label: 'State after', cell: r => (r.change === 'removed' ? 'deleted' : r.state || 'draft')},
    {label: 'What differs', cell: r => r.what || ''},
  ], rows, {caption: 'What the import changes', cls: 'diff-table'});
}

function problemsList(problems) {
  return h('ul', {class: 'problems'}, (problems || []).map(p =>
    h('li', {class: `problem-${p.severity}`}, h('span', {class: 'mono'}, p.path), `: ${p.message}`)));
}

function historyTable(ctx, hist) {
  return table([
    {label: 'Version', cell: r => String(r.version)},
    {label: 'When', cell: r => fmtTime(ctx, r.changed_at)},
    {label: 'Who', cell: r => r.actor || '–'},
    {label: 'Action', cell: r => r.action},
    {label: 'What changed', cell: r => {
      const ch = r.changes || [];
      if (!ch.length) return '–';
      const shown = ch.slice(0, 8).map(c => h('li', {}, h('span', {class: 'mono'}, c.path || '(whole mapping)'),
        'to' in c ? `: ${c.from != null ? `${JSON.stringify(c.from)} → ` : 'set to '}${JSON.stringify(c.to)}` : ''));
      return h('ul', {class: 'changes'}, shown, ch.length > 8 ? h('li', {}, `and ${ch.length - 8} more`) : null);
    }},
  ], [...hist].reverse(), {caption: 'Changes, newest first', cls: 'history-table'});
}

const CHECK_ICON = {ok: '✓', warn: '!', fail: '✗'};

function doctorView(ctx, doc) {
  const checks = doc.checks || [];
  return h('div', {},
           h('p', {class: `doctor-overall status-${doc.status}`}, badge(doc.status), ' ',
             doc.status === 'ok' ? 'Every check passed.' : doc.status === 'warn' ? 'synkro works, but look at the warnings.' : 'Some checks failed: synkro cannot sync fully until they are fixed.'),
           table([
             {label: 'Status', cell: c => h('span', {class: `badge badge-${c.status}`}, h('span', {'aria-hidden': 'true'}, `${CHECK_ICON[c.status] || ''} `), c.status)},
             {label: 'Check', cell: c => h('span', {}, h('strong', {}, c.title || c.id), h('br'), h('span', {class: 'mono muted'}, c.id))},
             {label: 'Finding', cell: c => c.detail || ''},
             {label: 'How to fix', cell: c => c.fix || (c.status === 'ok' ? '' : '–')},
           ], checks, {caption: 'Checks', cls: 'doctor-table', empty: 'No checks ran.'}));
}

export async function render(root, ctx) {
  clear(root);
  const page = h('div', {class: 'page page-configuration'});
  root.append(page);
  page.append(h('h1', {}, 'Configuration'),
              h('p', {class: 'lede'}, 'Your mappings, a backup of the whole configuration as a file, what changed when, and whether synkro is set up right.'));

  // ---- mappings ----
  const listBox = h('div', {id: 'config-mappings'}, spinner(ctx, 'Loading mappings…'));
  page.append(section('Mappings', listBox));
  const histSelect = h('select', {id: 'history-mapping', name: 'mapping'});
  const histBox = h('div', {id: 'config-history', 'aria-live': 'polite'});
  let mappings = [];

  async function showHistory(id) {
    if (!id) return;
    histSelect.value = String(id);
    clear(histBox).append(spinner(ctx, 'Loading history…'));
    try {
      const r = await ctx.api('GET', `/api/mappings/${encodeURIComponent(id)}/history`);
      clear(histBox).append(historyTable(ctx, r.history || []));
    } catch (e) {
      clear(histBox).append(errorBox(ctx, e));
    }
  }

  async function loadList() {
    try {
      mappings = await loadMappings(ctx);
    } catch (e) {
      clear(listBox).append(errorBox(ctx, e));
      return;
    }
    clear(listBox).append(table([
      {label: 'Mapping', cell: m => m.name},
      {label: 'Salesforce', cell: m => h('span', {class: 'mono'}, m.salesforce_object)},
      {label: 'HubSpot', cell: m => h('span', {class: 'mono'}, m.hubspot_object)},
      {label: 'State', cell: m => badge(m.state)},
      {label: 'Version', cell: m => String(m.version ?? '')},
      {label: 'Last changed', cell: m => fmtTime(ctx, m.updated_at)},
      {label: 'Actions', cell: m => h('span', {class: 'actions'},
        h('a', {href: `#/wizard/${m.id}/1`, 'aria-label': `Edit ${m.name}`}, 'Edit'), ' · ',
        h('a', {href: `#/health/${m.id}`, 'aria-label': `Sync health of ${m.name}`}, 'Health'), ' · ',
        h('button', {type: 'button', class: 'linklike', 'aria-label': `History of ${m.name}`,
                     on: {click: () => { showHistory(m.id); histSelect.focus(); }}}, 'History'))},
    ], mappings, {caption: 'Mappings', empty: 'No mappings yet.'}),
    h('p', {}, h('a', {href: '#/wizard/new', class: 'button secondary'}, 'New mapping')));
    const chosen = histSelect.value;
    clear(histSelect).append(h('option', {value: ''}, 'Choose a mapping'),
                             ...mappings.map(m => h('option', {value: m.id}, m.name)));
    if (chosen) histSelect.value = chosen;
  }

  // ---- export / import ----
  const exportBtn = h('button', {type: 'button', class: 'button', id: 'config-export'}, 'Export configuration');
  const exportOut = h('div', {'aria-live': 'polite'});
  const file = h('input', {type: 'file', id: 'config-file', accept: 'application/json,.json'});
  const importOut = h('div', {id: 'config-import-result', 'aria-live': 'polite'});
  page.append(section('Export and import',
    h('p', {}, 'Export saves every mapping to a JSON file: keep it as a backup or move it to another synkro. ',
      'Importing a file replaces all mappings with the file\'s (mappings not in the file are deleted); enabled ones must validate against both CRMs.'),
    h('div', {class: 'toolbar'}, exportBtn), exportOut,
    h('div', {class: 'field'}, h('label', {for: 'config-file'}, 'Import a configuration file'), file),
    importOut));

  exportBtn.addEventListener('click', async () => {
    try {
      const doc = await busy(exportBtn, 'Exporting…', () => ctx.api('GET', '/api/mappings/export'));
      const text = JSON.stringify(doc, null, 2);
      const a = h('a', {href: URL.createObjectURL(new Blob([text], {type: 'application/json'})),
                        download: `synkro-configuration-${new Date().toISOString().slice(0, 10)}.json`});
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      exportOut.replaceChildren(h('p', {class: 'success', role: 'status', id: 'config-export-done'},
        `Exported ${plural(doc.mappings?.length ?? 0, 'mapping')} to ${a.download}.`));
    } catch (e) {
      exportOut.replaceChildren(errorBox(ctx, e));
    }
  });

  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    clear(importOut);
    if (!f) return;
    let doc;
    try {
      if (f.size > 5 * 1024 * 1024) throw new Error('the file is larger than 5 MB');
      doc = JSON.parse(await f.text());
      if (!doc || !Array.isArray(doc.mappings)) throw new Error('it has no "mappings" list');
    } catch (e) {
      importOut.append(errorBox(ctx, e, `${f.name} is not a synkro configuration file (${e.message}). Choose a file made by Export configuration.`));
      return;
    }
    let current;
    try {
      current = (await ctx.api('GET', '/api/mappings/export')).mappings || [];
    } catch (e) {
      importOut.append(errorBox(ctx, e));
      return;
    }
    const changes = diffConfig(current, doc.mappings);
    const effective = changes.filter(c => c.change !== 'unchanged').length;
    const apply = h('button', {type: 'button', class: 'button primary', id: 'config-import-apply', disabled: !effective},
                    `Import ${f.name}`);
    const cancel = h('button', {type: 'button', class: 'button secondary', on: {click: () => { file.value = ''; clear(importOut); }}}, 'Cancel');
    const result = h('div', {});
    importOut.append(h('h3', {}, `${f.name}: ${plural(doc.mappings.length, 'mapping')}`),
                     effective ? h('p', {}, `Importing it changes ${plural(effective, 'mapping')}:`) : h('p', {}, 'The file is the same as your configuration: nothing to import.'),
                     diffTable(changes), h('div', {class: 'toolbar'}, apply, cancel), result);
    apply.addEventListener('click', async () => {
      try {
        const r = await busy(apply, 'Importing…', () => ctx.api('POST', '/api/mappings/import', doc));
        result.replaceChildren(h('p', {class: 'success', role: 'status', id: 'config-import-done'},
          `Imported: your configuration now has ${plural(r?.imported ?? doc.mappings.length, 'mapping')}.`));
        toast(ctx, 'Configuration imported.', 'success');
        apply.disabled = true;
        loadList();
      } catch (e) {
        const problems = e.body?.problems;
        result.replaceChildren(errorBox(ctx, e, problems?.length
          ? 'Nothing was imported. Fix these problems in the file (or in the CRMs), then import it again:' : undefined),
          problems?.length ? problemsList(problems) : '');
      }
    });
  });

  // ---- history ----
  histSelect.addEventListener('change', () => showHistory(histSelect.value));
  page.append(section('Mapping history',
    h('p', {}, 'Every change to a mapping: who made it, when, and which settings it changed.'),
    h('div', {class: 'field'}, h('label', {for: 'history-mapping'}, 'Mapping'), histSelect), histBox));

  // ---- doctor ----
  const runBtn = h('button', {type: 'button', class: 'button', id: 'doctor-run'}, 'Run the checks again');
  const doctorBox = h('div', {id: 'config-doctor', 'aria-live': 'polite'});
  page.append(section('Checks',
    h('p', {}, 'synkro doctor\'s checks: database, both CRMs\' credentials and permissions, webhooks and outbound messages.'),
    h('div', {class: 'toolbar'}, runBtn), doctorBox));
  async function runDoctor() {
    clear(doctorBox).append(spinner(ctx, 'Running the checks (this asks both CRMs, it can take a few seconds)…'));
    try {
      const doc = await ctx.api('GET', '/api/doctor');
      clear(doctorBox).append(doctorView(ctx, doc));
    } catch (e) {
      clear(doctorBox).append(errorBox(ctx, e));
    }
  }
  runBtn.addEventListener('click', () => busy(runBtn, 'Checking…', runDoctor));

  await loadList();
  if (mappings.length) showHistory(mappings[0].id);
  runDoctor();
  return undefined;
}
