// health.js: the Sync health page (#/health/<mapping id>): the mapping's state, throughput and
// sync latency over the last hour as charts, queue depth and the age of the oldest waiting
// change, both CRMs' API budget and recent rate-limit refusals (429), failed changes by category
// with retry, and the mapping's conflicts with filters; polled every 2 s while shown.
// Without an id it lists the mappings to choose from.
// Must not: poll after the page is left (render returns the cleanup) or change anything
// without a click.
import {h, clear, errorBox, poll, section, badge, fmtNumber, fmtTime, fmtAge, fmtMs, spinner,
        param, loadMappings, renderIfChanged, table} from './kit.js';
import {barChart, lineChart} from '../chart.js';
import {errorCategories} from './errors.js';
import {conflictsPanel} from './conflicts.js';

const STATE_TEXT = {
  enabled: 'Syncing: changes in either CRM are synced as they arrive.',
  paused: 'Paused: changes are kept and will sync when you turn sync back on.',
  draft: 'Not turned on yet: finish the setup and start continuous sync.',
};

function tile(label, value, note, cls = '') {
  return h('div', {class: `tile ${cls}`.trim()},
           h('div', {class: 'tile-label'}, label),
           h('div', {class: 'tile-value'}, value),
           note ? h('div', {class: 'tile-note'}, note) : null);
}

function overview(ctx, d) {
  const q = d.queue || {};
  const t = d.totals || {};
  const oldest = q.oldest_pending_age_s;
  return h('div', {class: 'tiles'},
           tile('Synced (last hour)', fmtNumber(ctx, t.synced), null, 'tile-good'),
           tile('Failed (last hour)', fmtNumber(ctx, t.failed), t.failed ? 'See failed changes below' : null, t.failed ? 'tile-bad' : ''),
           tile('Conflicts (last hour)', fmtNumber(ctx, t.conflicts)),
           tile('Waiting to sync', fmtNumber(ctx, (q.pending || 0) + (q.processing || 0)),
                `${fmtNumber(ctx, q.processing || 0)} being written now${q.held ? `, ${fmtNumber(ctx, q.held)} held while paused` : ''}`),
           tile('Oldest waiting change', oldest == null ? '–' : fmtAge(oldest), oldest == null ? 'nothing waiting' : (oldest > 300 ? 'Changes are waiting long: check the API budget and errors' : null),
                oldest > 300 ? 'tile-warn' : ''),
           tile('Imports running', fmtNumber(ctx, d.imports?.active ?? 0), d.imports?.active ? h('a', {href: '#/imports'}, 'See progress') : null));
}

function charts(ctx, d) {
  const s = d.series || [];
  const times = s.map(b => b.t);
  const minutes = Math.round((d.window?.bucket_s || 60) / 60);
  return h('div', {class: 'charts'},
           barChart({title: `Throughput: changes synced per ${minutes} min`, desc: 'synced and failed changes per time bucket',
                     times, series: [{label: 'Synced', cls: 'series-good', values: s.map(b => b.synced)},
                                     {label: 'Failed', cls: 'series-bad', values: s.map(b => b.failed)}]}),
           lineChart({title: 'Sync latency: from the CRM\'s notice to written', desc: 'median and 95th percentile per time bucket',
                      times, fmt: fmtMs,
                      series: [{label: 'Median (p50)', cls: 'series-p50', values: s.map(b => b.latency_p50_ms)},
                               {label: 'Slowest 5% (p95)', cls: 'series-p95', values: s.map(b => b.latency_p95_ms)}]}));
}

const open429 = new Set(); // the CRMs whose 429 list the user opened (kept across refreshes)

// The account's daily allocation (every integration's calls) and the share at which every synkro instance stops.
function dailyLine(ctx, daily) {
  const used = daily.used != null ? daily.used : daily.max - daily.remaining;
  const stopped = daily.stop_percent && used * 100 >= daily.max * daily.stop_percent;
  return h('p', {class: 'budget-daily'}, `Daily API requests: ${fmtNumber(ctx, used)} of ${fmtNumber(ctx, daily.max)} used`,
           daily.stop_percent ? h('span', {class: stopped ? 'bad' : 'note'},
             stopped ? ` — synkro stopped at ${daily.stop_percent}%, leaving the rest to your other integrations; it tries again later`
                     : ` (synkro stops at ${daily.stop_percent}%)`) : null, '.');
}

function budgetCard(ctx, name, b) {
  if (!b || !b.configured)
    return h('article', {class: 'budget-card'}, h('h3', {}, name),
             h('p', {class: 'note'}, `synkro has no API access to ${name} yet: add its credentials, then check Configuration > Checks.`));
  const daily = b.daily_api_requests;
  const shared = b.shared && b.shared.available ? b.shared : null; // else this instance's own buckets
  return h('article', {class: 'budget-card', 'data-crm': name},
           h('h3', {}, name),
           h('p', {}, `${fmtNumber(ctx, b.calls_last_hour)} API calls in the last hour; `,
             h('strong', {class: b.rate_limited_last_hour ? 'bad' : ''}, `${fmtNumber(ctx, b.rate_limited_last_hour)} refused for rate limits (429)`), '.'),
           daily ? dailyLine(ctx, daily) : null,
           shared ? h('p', {class: 'note budget-shared'}, `One budget for ${shared.account}, shared by every synkro instance on this database.`) : null,
           ...(shared ? shared.limits.filter(l => l.pauses || l.taken || l.name !== 'daily') : b.limits || []).map(l => {
             const used = Math.max(0, (l.capacity || 0) - (l.available || 0));
             if (l.paused_s > 0)
               return h('p', {class: 'budget-limit'}, h('strong', {class: 'bad'}, `${l.name}: paused for every instance for ${Math.ceil(l.paused_s)} s`),
                        l.pause_reason ? ` (${l.pause_reason})` : '', '.');
             return h('div', {class: 'budget-limit'},
                      h('label', {for: `lim-${name}-${l.name}`}, `${l.name}: ${fmtNumber(ctx, Math.round(used))} of ${fmtNumber(ctx, l.capacity)} used per ${l.interval_s} s`),
                      h('meter', {id: `lim-${name}-${l.name}`, min: 0, max: l.capacity || 1, value: used,
                                  high: (l.capacity || 1) * 0.8, optimum: 0}));
           }),
           (b.recent_429 || []).length
             ? h('details', {open: open429.has(name), on: {toggle: ev => (ev.target.open ? open429.add(name) : open429.delete(name))}},
                 h('summary', {}, `Recent 429 refusals (${b.recent_429.length})`),
                 h('ul', {}, b.recent_429.map(r => h('li', {}, `${fmtTime(ctx, r.at)}: ${r.policy || 'rate limit'}`,
                                                      r.retry_after_s != null ? `, retry after ${r.retry_after_s} s` : ''))))
             : h('p', {class: 'muted'}, 'No rate-limit refusals recently.'));
}

function chooser(ctx, mappings) {
  return table([
    {label: 'Mapping', cell: m => h('a', {href: `#/health/${m.id}`}, m.name)},
    {label: 'Objects', cell: m => `${m.salesforce_object} ↔ ${m.hubspot_object}`},
    {label: 'State', cell: m => badge(m.state)},
  ], mappings, {caption: 'Pick a mapping to see its sync health', empty: 'No mappings yet.'});
}

export async function render(root, ctx) {
  clear(root);
  const page = h('div', {class: 'page page-health'});
  root.append(page);
  const id = param(ctx);
  if (!id) {
    page.append(h('h1', {}, 'Sync health'));
    try {
      page.append(section('Mappings', chooser(ctx, await loadMappings(ctx))));
    } catch (e) {
      page.append(errorBox(ctx, e));
    }
    return undefined;
  }
  const title = h('h1', {}, 'Sync health');
  const state = h('div', {class: 'state-line', 'aria-live': 'polite'});
  const updated = h('p', {class: 'muted updated', 'aria-live': 'off'});
  const problem = h('div', {});
  const overviewBox = h('div', {id: 'health-overview'}, spinner(ctx, 'Loading sync health…'));
  const chartsBox = h('div', {id: 'health-charts'});
  const budgetBox = h('div', {id: 'health-budget', class: 'budget-cards'});
  const errorsMsg = h('div', {'aria-live': 'polite'});
  const errorsBox = h('div', {id: 'health-errors'});
  let timer = null;
  const conflicts = conflictsPanel(ctx, {mappingId: id, prefix: 'hc'});
  page.append(title, state, updated, problem,
              section('Now', overviewBox),
              section('Last hour', chartsBox),
              section('API budget', h('p', {class: 'lede'}, 'How much of each CRM\'s API allowance synkro uses. Refusals (429) slow syncing down; synkro waits and retries.'), budgetBox),
              section('Failed changes', errorsMsg, errorsBox),
              section('Conflicts', conflicts.node));

  async function refresh() {
    const [health, budget] = await Promise.allSettled([
      ctx.api('GET', `/api/mappings/${encodeURIComponent(id)}/health?minutes=60`),
      ctx.api('GET', '/api/budget'),
    ]);
    if (health.status === 'rejected') {
      const e = health.reason;
      renderIfChanged(problem, {e: e.message}, () => errorBox(ctx, e, e.status === 404
        ? 'This mapping does not exist (any more): pick one from Mappings.' : undefined));
      if (e.status === 404) timer?.stop();
    } else {
      const d = health.value;
      problem.replaceChildren();
      title.textContent = `Sync health: ${d.mapping?.name || `mapping ${id}`}`;
      renderIfChanged(state, d.mapping, m => h('p', {}, badge(m.state), ' ', STATE_TEXT[m.state] || ''));
      updated.textContent = `Updated ${fmtTime(ctx, d.window?.to)} · refreshes every 2 seconds`;
      renderIfChanged(overviewBox, {q: d.queue, t: d.totals, i: d.imports}, () => overview(ctx, d));
      renderIfChanged(chartsBox, d.series, () => charts(ctx, d));
      renderIfChanged(errorsBox, d.errors, errs => errorCategories(ctx, errs || [], {
        onChange: () => timer?.now(), status: errorsMsg,
        scopeNote: 'Retrying a category retries it in every mapping.'}));
    }
    if (budget.status === 'fulfilled') {
      renderIfChanged(budgetBox, budget.value, b => h('div', {class: 'budget-grid'},
        budgetCard(ctx, 'Salesforce', b.salesforce), budgetCard(ctx, 'HubSpot', b.hubspot)));
    } else {
      renderIfChanged(budgetBox, {e: budget.reason?.message}, () => errorBox(ctx, budget.reason));
    }
    await conflicts.refresh();
  }
  timer = poll(refresh, 2000);
  return () => timer.stop();
}
