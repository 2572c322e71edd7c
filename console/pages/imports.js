// imports.js: the Imports page (#/imports), as in HubSpot's "Import custom objects from
// Salesforce": pick a synced object, Review to see how many records the import will bring in,
// Start import, watch its progress (queued, synced, failed; polled every 2 s), cancel it, and the
// imports table (status, counts, started, finished, error).
// Must not: count records itself (GET /api/mappings/{id}/import/estimate does) or poll after the
// page is left (render returns the cleanup).
import {h, clear, table, errorBox, poll, busy, section, badge, fmtNumber, fmtTime, toast, spinner,
        loadMappings, mappingName, queryParam} from './kit.js';

const DIRECTIONS = {
  salesforce_to_hubspot: 'Salesforce → HubSpot',
  hubspot_to_salesforce: 'HubSpot → Salesforce',
};
const ACTIVE = new Set(['queued', 'running']);

function progressOf(imp) {
  const total = Number(imp.total) || 0;
  const done = (Number(imp.synced) || 0) + (Number(imp.failed) || 0);
  return {total, done, pct: total ? Math.min(100, Math.round((100 * done) / total)) : (ACTIVE.has(imp.status) ? 0 : 100)};
}

function progressBlock(ctx, imp, mappings, onCancel) {
  const p = progressOf(imp);
  const labelId = `imp-${imp.id}-label`;
  const bar = h('progress', {max: 100, value: p.pct, 'aria-labelledby': labelId, class: 'import-progress'});
  const cancel = h('button', {type: 'button', class: 'button secondary', id: `cancel-${imp.id}`,
                              'data-import': imp.id}, 'Cancel import');
  cancel.addEventListener('click', () => onCancel(imp, cancel));
  return h('div', {class: 'import-active', 'data-import-id': imp.id, 'data-status': imp.status},
           h('p', {id: labelId, class: 'import-label'},
             h('strong', {}, mappingName(mappings, imp.mapping_id)), ` (${DIRECTIONS[imp.direction] || imp.direction}): `,
             imp.status === 'queued' ? 'waiting to start' : `${p.pct}% done`),
           bar,
           h('p', {class: 'import-counts'},
             `${fmtNumber(ctx, imp.total)} records: `,
             h('span', {class: 'count-queued'}, `${fmtNumber(ctx, imp.queued)} queued`), ', ',
             h('span', {class: 'count-synced'}, `${fmtNumber(ctx, imp.synced)} synced`), ', ',
             h('span', {class: 'count-failed'}, `${fmtNumber(ctx, imp.failed)} failed`)),
           cancel);
}

function importsTable(ctx, imports, mappings) {
  return table([
    {label: 'Import', cell: i => `#${i.id}`},
    {label: 'Object', cell: i => mappingName(mappings, i.mapping_id)},
    {label: 'Direction', cell: i => DIRECTIONS[i.direction] || i.direction},
    {label: 'Status', cell: i => badge(i.status)},
    {label: 'Records', cls: 'num', cell: i => fmtNumber(ctx, i.total)},
    {label: 'Synced', cls: 'num', cell: i => fmtNumber(ctx, i.synced)},
    {label: 'Failed', cls: 'num', cell: i => fmtNumber(ctx, i.failed)},
    {label: 'Started', cell: i => fmtTime(ctx, i.started_at || i.created_at)},
    {label: 'Finished', cell: i => fmtTime(ctx, i.finished_at)},
    {label: 'Started by', cell: i => i.actor || '–'},
    {label: 'Error', cell: i => i.error || ''},
  ], imports, {caption: 'Imports, newest first', empty: 'No imports yet. Start one above.', cls: 'imports-table'});
}

export async function render(root, ctx) {
  clear(root);
  const page = h('div', {class: 'page page-imports'});
  root.append(page);
  page.append(h('h1', {}, 'Imports'),
              h('p', {class: 'lede'}, 'Bring in the records that already exist in Salesforce (or HubSpot) for an object you sync. ',
                'New and changed records sync by themselves once a mapping is on; an import is for what was there before.'));
  const loading = spinner(ctx, 'Loading your synced objects…');
  page.append(loading);
  let mappings;
  try {
    mappings = await loadMappings(ctx);
  } catch (e) {
    loading.replaceWith(errorBox(ctx, e));
    return undefined;
  }
  loading.remove();

  // ---- start an import: object, direction, Review (the estimate), Start import ----
  const enabled = mappings.filter(m => m.state === 'enabled');
  const select = h('select', {id: 'import-mapping', name: 'mapping'},
                   mappings.map(m => h('option', {value: m.id, disabled: m.state !== 'enabled'},
                                       m.state === 'enabled' ? `${m.name} (${m.salesforce_object} ↔ ${m.hubspot_object})`
                                                             : `${m.name} — turn on sync first (${m.state})`)));
  const asked = enabled.find(m => String(m.id) === queryParam(ctx, 'mapping'));
  if (asked || enabled.length) select.value = String((asked || enabled[0]).id);
  const direction = h('select', {id: 'import-direction', name: 'direction'},
                      Object.entries(DIRECTIONS).map(([v, l]) => h('option', {value: v}, l)));
  const review = h('button', {type: 'submit', class: 'button', id: 'import-review'}, 'Review');
  const estimateOut = h('div', {id: 'import-estimate', 'aria-live': 'polite'});
  const form = h('form', {class: 'form-row', id: 'import-form'},
                 h('div', {class: 'field'}, h('label', {for: 'import-mapping'}, 'Object to import'), select),
                 h('div', {class: 'field'}, h('label', {for: 'import-direction'}, 'From'), direction),
                 h('div', {class: 'field field-button'}, review));
  const startSection = section('Start an import', form, estimateOut);
  if (!mappings.length) {
    startSection.append(h('p', {}, 'You have no synced objects yet. ', h('a', {href: '#/wizard/new'}, 'Set one up'), ' first.'));
    form.hidden = true;
  } else if (!enabled.length) {
    startSection.append(h('p', {class: 'note'}, 'No mapping is turned on. Turn on sync for a mapping (', h('a', {href: '#/mappings'}, 'Mappings'),
                          ') to import its records.'));
    review.disabled = true;
  }
  page.append(startSection);

  const activeBox = h('div', {id: 'imports-active'});
  const tableBox = h('div', {id: 'imports-table'});
  const listError = h('div', {});
  page.append(section('In progress', activeBox), section('Imports', listError, tableBox));

  let shownActive = '';
  let timer = null;

  async function cancelImport(imp, button) {
    if (!window.confirm(`Cancel import #${imp.id}? Records already synced stay synced; the rest are not imported.`)) return;
    try {
      await busy(button, 'Cancelling…', () => ctx.api('POST', `/api/imports/${imp.id}/cancel`));
      toast(ctx, `Import #${imp.id} cancelled.`, 'success');
    } catch (e) {
      listError.replaceChildren(errorBox(ctx, e, e.status === 409 ? 'The import had already finished: nothing to cancel.' : undefined));
    }
    timer?.now();
  }

  async function refresh() {
    let list;
    try {
      list = (await ctx.api('GET', '/api/imports'))?.imports || [];
      listError.replaceChildren();
    } catch (e) {
      listError.replaceChildren(errorBox(ctx, e));
      return;
    }
    const active = list.filter(i => ACTIVE.has(i.status));
    const ids = active.map(i => i.id).join(',');
    if (ids !== shownActive) {
      shownActive = ids;
      clear(activeBox).append(active.length ? h('div', {}, active.map(i => progressBlock(ctx, i, mappings, cancelImport)))
                                            : h('p', {class: 'empty-note'}, 'No import is running.'));
    } else {
      // same imports: update the numbers in place so the Cancel button keeps focus
      for (const i of active) {
        const old = activeBox.querySelector(`[data-import-id="${i.id}"]`);
        if (!old) continue;
        const fresh = progressBlock(ctx, i, mappings, cancelImport);
        old.dataset.status = i.status;
        old.querySelector('progress').value = progressOf(i).pct;
        old.querySelector('.import-label').replaceWith(fresh.querySelector('.import-label'));
        old.querySelector('.import-counts').replaceWith(fresh.querySelector('.import-counts'));
      }
    }
    const key = JSON.stringify(list);
    if (tableBox.dataset.key !== key) {
      tableBox.dataset.key = key;
      clear(tableBox).append(importsTable(ctx, list, mappings));
    }
  }

  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const id = select.value;
    const dir = direction.value;
    clear(estimateOut).append(spinner(ctx, 'Counting the records to import…'));
    let est;
    try {
      est = await busy(review, 'Counting…', () =>
        ctx.api('GET', `/api/mappings/${encodeURIComponent(id)}/import/estimate?direction=${dir}`));
    } catch (e) {
      clear(estimateOut).append(errorBox(ctx, e, e.status === 503
        ? 'synkro has no API access to that CRM yet: add its credentials (see Configuration > Checks), then try again.'
        : undefined));
      return;
    }
    const n = Number(est.records) || 0;
    const start = h('button', {type: 'button', class: 'button primary', id: 'import-start'}, 'Start import');
    const msg = h('p', {class: 'estimate', id: 'import-estimate-text'},
                  n === 1 ? 'This will import 1 record' : `This will import ${fmtNumber(ctx, n)} records`,
                  ` from ${dir === 'salesforce_to_hubspot' ? 'Salesforce' : 'HubSpot'} (${mappingName(mappings, id)}).`);
    clear(estimateOut).append(msg, n ? start : h('p', {}, 'There is nothing to import.'));
    start.addEventListener('click', async () => {
      try {
        const imp = await busy(start, 'Starting…', () =>
          ctx.api('POST', `/api/mappings/${encodeURIComponent(id)}/imports`, {direction: dir}));
        clear(estimateOut).append(h('p', {class: 'success', role: 'status'},
                                    `Import #${imp.id} started. Its progress shows below; you can leave this page, it goes on.`));
        toast(ctx, `Import #${imp.id} started.`, 'success');
        timer?.now();
      } catch (e) {
        const next = e.code === 'import_running'
          ? 'This object already has an import running: wait for it to finish or cancel it below.'
          : e.code === 'mapping_not_enabled'
            ? 'Turn on sync for this mapping first (Mappings), then start the import.' : undefined;
        clear(estimateOut).append(msg, errorBox(ctx, e, next));
      }
    });
    start.focus();
  });

  timer = poll(refresh, 2000);
  return () => timer.stop();
}
