// records.js: a record's history. #/records: find a record by Salesforce id, HubSpot id or
// identity value (GET /api/records?q=). #/records/<link id>: the link between the two records,
// the values last synced, and the timeline of everything synkro saw and did for it (events,
// decisions, writes, conflicts, errors), newest first, with paging.
// Must not: poll (the timeline has a Refresh button) or show secrets from event payloads.
import {h, clear, table, errorBox, section, badge, fmtTime, spinner, param, queryParam, routeMissing, busy,
        sideName, valueText} from './kit.js';

const MISSING = 'Record history is not available on this synkro server: its version has no /api/records. ' +
                'Update synkro to a version with record history, then reload this page.';

const KIND_TEXT = {
  event: 'Change received', decision: 'Decision', write: 'Written', conflict: 'Conflict',
  error: 'Error', association: 'Association', skip: 'Skipped',
};

const RULE_TEXT = {
  two_way: 'two-way', always_salesforce: 'always Salesforce', always_hubspot: 'always HubSpot',
  prefer_salesforce_unless_blank: 'Salesforce unless blank', prefer_sf_unless_blank: 'Salesforce unless blank',
  none: 'don\'t sync',
};

function missingBox(e) {
  return routeMissing(e) ? h('div', {class: 'error-box', role: 'alert', id: 'records-unavailable'}, h('p', {}, MISSING)) : null;
}

async function renderSearch(page, ctx) {
  page.append(h('h1', {}, 'Records'),
              h('p', {class: 'lede'}, 'Find a record to see why it holds the values it holds: every change synkro received for it, ',
                'every decision and every write, newest first.'));
  const q = h('input', {id: 'records-q', name: 'q', type: 'search', required: true, maxlength: 200, autocomplete: 'off',
                        'aria-describedby': 'records-q-help'});
  const go = h('button', {type: 'submit', class: 'button primary'}, 'Search');
  const form = h('form', {class: 'form-row', role: 'search', 'aria-label': 'Find a record'},
                 h('div', {class: 'field grow'}, h('label', {for: 'records-q'}, 'Salesforce id, HubSpot id or identity value'), q,
                   h('p', {id: 'records-q-help', class: 'help'}, 'For example 0015g00000AbCdE, 1001, or the record\'s name.')),
                 h('div', {class: 'field field-button'}, go));
  const results = h('div', {id: 'records-results', 'aria-live': 'polite'});
  const more = h('button', {type: 'button', class: 'button secondary', hidden: true}, 'More results');
  page.append(section('Find a record', form, results, more));
  let next = null;
  let rows = [];

  function show() {
    clear(results).append(table([
      {label: 'Record', cell: r => h('a', {href: `#/records/${r.link_id}`}, r.label || r.salesforce_id || r.hubspot_id || `link ${r.link_id}`)},
      {label: 'Mapping', cell: r => r.mapping_name || `Mapping ${r.mapping_id}`},
      {label: 'Salesforce', cell: r => h('span', {class: 'mono'}, `${r.salesforce_object || ''} ${r.salesforce_id || '–'}`)},
      {label: 'HubSpot', cell: r => h('span', {class: 'mono'}, `${r.hubspot_object || ''} ${r.hubspot_id || '–'}`)},
      {label: 'Last synced', cell: r => fmtTime(ctx, r.last_synced_at)},
    ], rows, {caption: 'Matching records', empty: 'No synced record matches. Check the id, or search by the record\'s name.'}));
    more.hidden = !next;
  }

  async function search(append) {
    const params = new URLSearchParams({q: q.value.trim(), limit: '25'});
    if (append && next) params.set('after', next);
    if (!append) clear(results).append(spinner(ctx, 'Searching…'));
    try {
      const data = await ctx.api('GET', `/api/records?${params}`);
      rows = append ? rows.concat(data.records || []) : (data.records || []);
      next = data.next ?? null;
      show();
    } catch (e) {
      clear(results).append(missingBox(e) || errorBox(ctx, e, e.status === 400 ? `${e.message}. Correct the search and try again.` : undefined));
      more.hidden = true;
    }
  }
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    if (!q.value.trim()) return;
    history.replaceState(null, '', `#/records?q=${encodeURIComponent(q.value.trim())}`);
    search(false);
  });
  more.addEventListener('click', () => busy(more, 'Loading…', () => search(true)));
  const initial = queryParam(ctx, 'q');
  if (initial) {
    q.value = initial;
    search(false);
  }
  q.focus();
}

function entryNode(ctx, e) {
  const details = e.details && typeof e.details === 'object' && Object.keys(e.details).length
    ? h('details', {}, h('summary', {}, 'Details'),
        h('dl', {class: 'kv'}, Object.entries(e.details).flatMap(([k, v]) => [h('dt', {}, k.replace(/_/g, ' ')), h('dd', {}, valueText(v))])))
    : null;
  return h('li', {class: `tl-entry tl-${e.kind}`, 'data-kind': e.kind, 'data-id': e.id},
           h('div', {class: 'tl-head'},
             h('span', {class: `badge kind-${e.kind}`}, KIND_TEXT[e.kind] || e.kind),
             e.side ? h('span', {class: 'tl-side'}, sideName(e.side)) : null,
             h('time', {datetime: e.at}, fmtTime(ctx, e.at)),
             e.actor ? h('span', {class: 'muted'}, `by ${e.actor}`) : null),
           h('p', {class: 'tl-summary'}, e.summary || ''),
           details);
}

async function renderRecord(page, ctx, linkId) {
  page.append(h('p', {}, h('a', {href: '#/records'}, '← Find another record')));
  const title = h('h1', {}, 'Record history');
  page.append(title);
  const loading = spinner(ctx, 'Loading the record…');
  page.append(loading);
  let rec;
  try {
    rec = await ctx.api('GET', `/api/records/${encodeURIComponent(linkId)}`);
  } catch (e) {
    loading.replaceWith(missingBox(e) || errorBox(ctx, e, e.status === 404
      ? 'No synced record has that link: search for it again.' : undefined));
    return;
  }
  loading.remove();
  title.textContent = `Record history: ${rec.label || rec.salesforce_id || rec.hubspot_id || `link ${linkId}`}`;
  page.append(section('Link',
    h('dl', {class: 'kv link-kv'},
      h('dt', {}, 'Mapping'), h('dd', {}, h('a', {href: `#/health/${rec.mapping_id}`}, rec.mapping_name || `Mapping ${rec.mapping_id}`)),
      h('dt', {}, `Salesforce ${rec.salesforce_object || ''}`), h('dd', {class: 'mono', id: 'rec-sf-id'}, rec.salesforce_id || '– (not created yet)'),
      h('dt', {}, `HubSpot ${rec.hubspot_object || ''}`), h('dd', {class: 'mono', id: 'rec-hs-id'}, rec.hubspot_id || '– (not created yet)'),
      h('dt', {}, 'State'), h('dd', {}, rec.state ? badge(rec.state) : '–'),
      h('dt', {}, 'Last synced'), h('dd', {}, fmtTime(ctx, rec.last_synced_at)))));
  page.append(section('Values last synced',
    h('p', {class: 'lede'}, 'What each CRM held right after the last sync, per mapped field. A change on either side is compared with it.'),
    table([
      {label: 'Salesforce field', cell: f => h('span', {class: 'mono'}, f.salesforce_field)},
      {label: 'HubSpot property', cell: f => h('span', {class: 'mono'}, f.hubspot_property)},
      {label: 'Rule', cell: f => RULE_TEXT[f.rule] || f.rule || '–'},
      {label: 'Last synced value in Salesforce', cell: f => valueText('base_salesforce' in f ? f.base_salesforce : f.base)},
      {label: 'in HubSpot', cell: f => valueText('base_hubspot' in f ? f.base_hubspot : f.base)},
    ], rec.fields || [], {caption: 'Mapped fields', cls: 'fields-table', empty: 'Nothing synced yet.'})));

  const list = h('ol', {class: 'timeline', id: 'timeline', reversed: true});
  const status = h('div', {'aria-live': 'polite'});
  const older = h('button', {type: 'button', class: 'button secondary', id: 'timeline-older', hidden: true}, 'Show older entries');
  const refresh = h('button', {type: 'button', class: 'button secondary', id: 'timeline-refresh'}, 'Refresh');
  page.append(section('Timeline', h('p', {class: 'lede'}, 'Everything synkro received, decided and wrote for this record, newest first.'),
                      h('div', {class: 'toolbar'}, refresh), status, list, older));
  let next = null;
  async function load(append) {
    const p = new URLSearchParams({limit: '50'});
    if (append && next) p.set('before', next);
    try {
      const data = await ctx.api('GET', `/api/records/${encodeURIComponent(linkId)}/timeline?${p}`);
      if (!append) clear(list);
      const entries = data.entries || [];
      list.append(...entries.map(e => entryNode(ctx, e)));
      if (!list.children.length) status.replaceChildren(h('p', {class: 'empty-note'}, 'Nothing recorded for this record yet.'));
      else status.replaceChildren();
      next = data.next ?? null;
      older.hidden = !next;
    } catch (e) {
      status.replaceChildren(missingBox(e) || errorBox(ctx, e));
    }
  }
  older.addEventListener('click', () => busy(older, 'Loading…', () => load(true)));
  refresh.addEventListener('click', () => busy(refresh, 'Loading…', () => load(false)));
  await load(false);
}

export async function render(root, ctx) {
  clear(root);
  const page = h('div', {class: 'page page-records'});
  root.append(page);
  const id = param(ctx);
  if (id && /^\d+$/.test(String(id))) await renderRecord(page, ctx, id);
  else await renderSearch(page, ctx);
  return undefined;
}
