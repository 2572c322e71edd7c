// errors.js: the Errors page (#/errors): failed changes of every mapping grouped by category,
// what each category means and what to do, the newest examples, and retry (one change, one
// category, everything). errorCategories() is also the Sync health page's errors panel.
// Must not: retry anything without the user's click.
import {h, clear, errorBox, poll, busy, section, fmtNumber, fmtTime, toast, spinner, plural,
        CATEGORY_HELP, categoryLabel, renderIfChanged} from './kit.js';

// categories: [{category, count, oldest?, newest?, examples:[{id|event_id, source?, object_type?,
// record_id, last_error, finished_at}]}]; onChange() is called after a retry.
// status: an element outside the rebuilt part that keeps the last retry's outcome.
export function errorCategories(ctx, categories, {onChange, scopeNote, status} = {}) {
  if (!categories.length)
    return h('p', {class: 'empty-note all-good'}, 'No failed changes. Everything that arrived was synced or is on its way.');
  const out = h('div', {class: 'error-categories'});
  if (!status) {
    status = h('div', {'aria-live': 'polite'});
    out.append(status);
  }
  for (const c of categories) {
    const cat = c.category || 'unknown';
    const [what, todo] = CATEGORY_HELP[cat] || CATEGORY_HELP.unknown;
    const headId = `errcat-${cat}`;
    const retryAll = h('button', {type: 'button', class: 'button secondary', 'data-category': cat,
                                  id: `retry-cat-${cat}`},
                       c.count === 1 ? `Retry this ${categoryLabel(cat).toLowerCase()} failure` : `Retry all ${fmtNumber(ctx, c.count)} ${categoryLabel(cat).toLowerCase()} failures`);
    retryAll.addEventListener('click', async () => {
      try {
        const r = await busy(retryAll, 'Retrying…', () =>
          ctx.api('POST', `/api/errors/retry?category=${encodeURIComponent(cat)}`));
        const msg = `${plural(r?.requeued ?? 0, 'change')} queued again.`;
        status.replaceChildren(h('p', {class: 'success', role: 'status'}, msg));
        toast(ctx, msg, 'success');
        onChange?.();
      } catch (e) {
        status.replaceChildren(errorBox(ctx, e));
      }
    });
    const examples = (c.examples || []).map(ex => {
      const id = ex.id ?? ex.event_id;
      const retry = h('button', {type: 'button', class: 'button small', 'data-event': id, id: `retry-event-${id}`,
                                 'aria-label': `Retry change ${id}`}, 'Retry');
      retry.addEventListener('click', async () => {
        try {
          await busy(retry, 'Retrying…', () => ctx.api('POST', `/api/events/${encodeURIComponent(id)}/retry`));
          status.replaceChildren(h('p', {class: 'success', role: 'status'}, `Change ${id} is queued again.`));
          toast(ctx, `Change ${id} is queued again.`, 'success');
          onChange?.();
        } catch (e) {
          status.replaceChildren(errorBox(ctx, e, e.status === 409
            ? 'This change is no longer failed (it was retried already): nothing to do.' : undefined));
        }
      });
      return h('li', {class: 'error-example', 'data-event-id': id},
               h('div', {class: 'example-head'},
                 h('span', {class: 'mono'}, ex.source ? `${ex.source === 'salesforce' ? 'Salesforce' : 'HubSpot'} ${ex.object_type || ''} ` : 'Record '),
                 h('span', {class: 'mono'}, ex.record_id || '–'),
                 h('span', {class: 'muted'}, ` · change ${id} · failed ${fmtTime(ctx, ex.finished_at)}`)),
               h('p', {class: 'error-message'}, ex.last_error || '(no message)'),
               retry);
    });
    out.append(h('article', {class: 'error-category', 'aria-labelledby': headId, 'data-category': cat},
                 h('h3', {id: headId}, `${categoryLabel(cat)}: ${fmtNumber(ctx, c.count)} failed`),
                 h('p', {}, what, ' ', h('strong', {}, 'What to do: '), todo),
                 c.oldest ? h('p', {class: 'muted'}, `Oldest ${fmtTime(ctx, c.oldest)}, newest ${fmtTime(ctx, c.newest)}.`) : null,
                 examples.length ? h('h4', {}, 'Newest examples') : null,
                 examples.length ? h('ul', {class: 'error-examples'}, examples) : null,
                 h('div', {class: 'actions'}, retryAll, scopeNote ? h('span', {class: 'muted'}, ` ${scopeNote}`) : null)));
  }
  return out;
}

export async function render(root, ctx) {
  clear(root);
  const page = h('div', {class: 'page page-errors'});
  root.append(page);
  page.append(h('h1', {}, 'Errors'),
              h('p', {class: 'lede'}, 'Changes synkro could not write to the other CRM, for every mapping, grouped by why. ',
                'Fix the cause, then retry: a retried change is synced again with the records\' current values.'));
  const summary = h('div', {class: 'summary-line', 'aria-live': 'polite'});
  const retryEverything = h('button', {type: 'button', class: 'button secondary', id: 'retry-everything'}, 'Retry every failed change');
  const msg = h('div', {'aria-live': 'polite'});
  const body = h('div', {id: 'errors-body'}, spinner(ctx, 'Loading failed changes…'));
  page.append(section('Failed changes', h('div', {class: 'toolbar'}, summary, retryEverything), msg, body));
  let timer = null;
  retryEverything.addEventListener('click', async () => {
    if (!window.confirm('Queue every failed change again, in every mapping?')) return;
    try {
      const r = await busy(retryEverything, 'Retrying…', () => ctx.api('POST', '/api/errors/retry'));
      msg.replaceChildren(h('p', {class: 'success', role: 'status'}, `${plural(r?.requeued ?? 0, 'change')} queued again.`));
      timer?.now();
    } catch (e) {
      msg.replaceChildren(errorBox(ctx, e));
    }
  });
  async function refresh() {
    let data;
    try {
      data = await ctx.api('GET', '/api/errors?examples=5');
    } catch (e) {
      renderIfChanged(body, {error: e.message}, () => errorBox(ctx, e));
      return;
    }
    const total = data?.total ?? 0;
    summary.textContent = total ? `${plural(total, 'failed change')}` : 'No failed changes';
    retryEverything.disabled = !total;
    renderIfChanged(body, data, d => errorCategories(ctx, d.categories || [], {onChange: () => timer?.now(), status: msg}));
  }
  timer = poll(refresh, 2000);
  return () => timer.stop();
}
