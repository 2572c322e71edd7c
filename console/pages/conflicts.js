// conflicts.js: the Conflicts page (#/conflicts): fields changed on both sides before synkro
// synced them, which value won and why; filters by mapping, field, record and winner; newest
// first with keyset paging (GET /api/conflicts' next_before). conflictsPanel() is also the Sync
// health page's conflicts panel (one mapping).
// Must not: change any record; it only shows what the engine decided.
import {h, clear, table, errorBox, poll, section, fmtTime, spinner, REASON_TEXT, sideName,
        valueText, loadMappings, mappingName, renderIfChanged} from './kit.js';

const PAGE = 25;

// A filter form and a paged table. mappingId fixes the mapping (Sync health); mappings (optional)
// names them. Returns {node, refresh()}; refresh() reloads the page shown when it is the first.
export function conflictsPanel(ctx, {mappingId, mappings = [], prefix = 'cf'} = {}) {
  const idOf = n => `${prefix}-${n}`;
  const field = h('input', {id: idOf('field'), name: 'field', type: 'text', maxlength: 64, autocomplete: 'off',
                            placeholder: 'e.g. Status__c or status'});
  const record = h('input', {id: idOf('record'), name: 'record', type: 'text', maxlength: 64, autocomplete: 'off',
                             placeholder: 'Salesforce or HubSpot id'});
  const winner = h('select', {id: idOf('winner'), name: 'winner'},
                   h('option', {value: ''}, 'Either side'), h('option', {value: 'salesforce'}, 'Salesforce'),
                   h('option', {value: 'hubspot'}, 'HubSpot'));
  const mapping = mappingId ? null
    : h('select', {id: idOf('mapping'), name: 'mapping'}, h('option', {value: ''}, 'All mappings'),
        mappings.map(m => h('option', {value: m.id}, m.name)));
  const apply = h('button', {type: 'submit', class: 'button'}, 'Show conflicts');
  const reset = h('button', {type: 'reset', class: 'button secondary'}, 'Clear filters');
  const form = h('form', {class: 'form-row filters', role: 'search', 'aria-label': 'Filter conflicts'},
                 mapping ? h('div', {class: 'field'}, h('label', {for: idOf('mapping')}, 'Mapping'), mapping) : null,
                 h('div', {class: 'field'}, h('label', {for: idOf('field')}, 'Field'), field),
                 h('div', {class: 'field'}, h('label', {for: idOf('record')}, 'Record'), record),
                 h('div', {class: 'field'}, h('label', {for: idOf('winner')}, 'Winner'), winner),
                 h('div', {class: 'field field-button'}, apply, reset));
  const results = h('div', {class: 'conflicts-results', 'aria-live': 'polite'});
  const prev = h('button', {type: 'button', class: 'button secondary', id: idOf('newer')}, '← Newer');
  const next = h('button', {type: 'button', class: 'button secondary', id: idOf('older')}, 'Older →');
  const pageInfo = h('span', {class: 'muted'});
  const pager = h('nav', {class: 'pager', 'aria-label': 'Conflict pages'}, prev, pageInfo, next);
  const node = h('div', {class: 'conflicts-panel'}, form, results, pager);

  let cursors = [0]; // before-cursor of each page seen; the last is the page shown
  let nextBefore = null;

  function query() {
    const q = new URLSearchParams({limit: String(PAGE)});
    const mid = mappingId || mapping?.value;
    if (mid) q.set('mapping_id', String(mid));
    if (field.value.trim()) q.set('field', field.value.trim());
    if (record.value.trim()) q.set('record', record.value.trim());
    if (winner.value) q.set('winner', winner.value);
    const before = cursors[cursors.length - 1];
    if (before) q.set('before', String(before));
    return q.toString();
  }

  function rows(list) {
    return table([
      {label: 'When', cell: c => fmtTime(ctx, c.occurred_at)},
      mappingId ? null : {label: 'Mapping', cell: c => mappingName(mappings, c.mapping_id)},
      {label: 'Record', cell: c => {
        const ids = h('span', {class: 'mono'}, c.salesforce_id || '–', ' ↔ ', c.hubspot_id || '–');
        return c.link_id ? h('a', {href: `#/records/${c.link_id}`, title: 'Open this record\'s history'}, ids) : ids;
      }},
      {label: 'Field', cell: c => h('span', {class: 'mono'}, `${c.salesforce_field} ↔ ${c.hubspot_property}`)},
      {label: 'Salesforce value', cell: c => valueText(c.salesforce_value)},
      {label: 'HubSpot value', cell: c => valueText(c.hubspot_value)},
      {label: 'Winner', cell: c => h('span', {class: `badge winner-${c.winner}`, 'data-winner': c.winner}, `${sideName(c.winner)} won`)},
      {label: 'Why', cell: c => REASON_TEXT[c.reason] || c.reason || '–'},
    ].filter(Boolean), list, {caption: 'Conflicts, newest first', cls: 'conflicts-table',
      empty: cursors.length > 1 ? 'No older conflicts.' : 'No conflicts match. A conflict is a field changed in both CRMs before synkro synced it.'});
  }

  async function load() {
    let data;
    try {
      data = await ctx.api('GET', `/api/conflicts?${query()}`);
    } catch (e) {
      renderIfChanged(results, {e: e.message}, () => errorBox(ctx, e, e.status === 400
        ? `${e.message}. Correct the filter and press Show conflicts.` : undefined));
      return;
    }
    nextBefore = data?.next_before ?? null;
    renderIfChanged(results, data, d => rows(d.conflicts || []));
    prev.disabled = cursors.length <= 1;
    next.disabled = !nextBefore;
    pageInfo.textContent = `Page ${cursors.length}`;
  }

  form.addEventListener('submit', ev => { ev.preventDefault(); cursors = [0]; load(); });
  form.addEventListener('reset', () => setTimeout(() => { cursors = [0]; load(); }, 0));
  next.addEventListener('click', () => { if (nextBefore) { cursors.push(nextBefore); load(); } });
  prev.addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); load(); } });
  results.append(spinner(ctx, 'Loading conflicts…'));
  return {node, load, refresh() { if (cursors.length === 1) return load(); return undefined; }};
}

export async function render(root, ctx) {
  clear(root);
  const page = h('div', {class: 'page page-conflicts'});
  root.append(page);
  page.append(h('h1', {}, 'Conflicts'),
              h('p', {class: 'lede'}, 'A conflict is a field someone changed in both Salesforce and HubSpot before synkro synced it. ',
                'synkro keeps one value, by the field\'s rule or the mapping\'s conflict winner, and writes it to both sides. ',
                'Here is every such decision, with the value that lost.'));
  let mappings = [];
  try {
    mappings = await loadMappings(ctx);
  } catch (_) { /* the list still works without names */ }
  const panel = conflictsPanel(ctx, {mappings, prefix: 'conflicts'});
  page.append(section('Resolved conflicts', panel.node));
  const timer = poll(() => panel.refresh(), 2000);
  return () => timer.stop();
}
