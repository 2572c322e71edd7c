// pages/mappings.js: the list of sync mappings (one Salesforce object <-> one HubSpot object each)
// with their state and the actions on each: edit (the wizard), enable or pause, health, import.
export async function render(root, ctx) {
  const { el, table, errorBox, toast, withProgress } = ctx.ui;
  const heading = el('h1', { text: 'Mappings' });
  const usage = el('p', { class: 'usage' });
  const body = el('div', {});
  const newButton = el('a', { class: 'button primary', href: '#/wizard/new', text: 'New mapping' });
  root.append(el('div', { class: 'page-head' }, heading, newButton),
    el('p', { class: 'lead', text: 'Each mapping syncs one Salesforce object with one HubSpot object: its sync rules, associations and field mappings.' }),
    usage, body);

  async function load() {
    let data;
    // HubSpot's object labels, best effort (the list works without HubSpot)
    const hsObjects = ctx.api('GET', '/api/hubspot/objects').then((r) => r.objects || [], () => []);
    try {
      data = await withProgress(body, 'Loading the mappings…', ctx.api('GET', '/api/mappings'));
    } catch (e) {
      body.replaceChildren(errorBox(e, 'The mappings could not be loaded'));
      return;
    }
    const list = data.mappings || [];
    const limit = data.limit || 10;
    usage.textContent = `${list.length} of ${limit} mappings used`;
    if (list.length >= limit) {
      usage.append(' — the limit is reached: delete a mapping or raise SYNKRO_MAX_MAPPINGS to add another.');
      newButton.setAttribute('aria-disabled', 'true');
      newButton.classList.add('disabled');
    }
    if (!list.length) {
      body.replaceChildren(el('div', { class: 'card empty-state' },
        el('h2', { text: 'No mapping yet' }),
        el('p', { text: 'Start with a Salesforce object and the HubSpot custom object it should sync with. The wizard walks you through sync rules, associations, field mappings and a preview on real records.' }),
        el('a', { class: 'button primary', href: '#/wizard/new', text: 'Set up your first mapping' })));
      return;
    }
    const hs = await hsObjects;
    const hsLabel = (v) => {
      const o = hs.find((x) => [x.object_type_id, x.name, x.fully_qualified_name].includes(v));
      return o ? `${o.label} (${v})` : v;
    };
    body.replaceChildren(table([
      { label: 'Name', render: (m) => el('a', { href: `#/wizard/${m.id}/1`, text: m.name }) },
      { label: 'Salesforce object', key: 'salesforce_object' },
      { label: 'HubSpot object', render: (m) => hsLabel(m.hubspot_object) },
      { label: 'State', render: (m) => stateBadge(el, m) },
      { label: 'Updated', render: (m) => ctx.ui.fmtAgo(m.updated_at) },
      { label: 'Actions', class: 'actions', render: (m) => actions(m) },
    ], list, { caption: 'Sync mappings' }));
  }

  function actions(m) {
    const toggle = el('button', {
      type: 'button', class: m.state === 'enabled' ? 'secondary small' : 'primary small',
      text: m.state === 'enabled' ? 'Pause' : 'Turn on sync',
      'aria-label': `${m.state === 'enabled' ? 'Pause' : 'Turn on sync for'} ${m.name}`,
      on: {
        click: async () => {
          toggle.disabled = true;
          const action = m.state === 'enabled' ? 'pause' : 'enable';
          try {
            await ctx.api('POST', `/api/mappings/${m.id}/${action}`, { version: m.version });
            toast(action === 'enable' ? `${m.name}: continuous sync is on.` : `${m.name} is paused; changes wait until you turn it on again.`, 'success');
            await load();
          } catch (e) {
            toggle.disabled = false;
            body.prepend(errorBox(e, `${m.name} could not be ${action === 'enable' ? 'turned on' : 'paused'}`));
          }
        },
      },
    });
    return el('div', { class: 'button-row' },
      el('a', { class: 'button secondary small', href: `#/wizard/${m.id}/1`, text: 'Edit', 'aria-label': `Edit ${m.name}` }),
      toggle,
      el('a', { class: 'button secondary small', href: `#/health/${m.id}`, text: 'Health', 'aria-label': `Health of ${m.name}` }),
      el('a', { class: 'button secondary small', href: `#/imports?mapping=${m.id}`, text: 'Import', 'aria-label': `Import ${m.name} records from Salesforce` }));
  }

  await load();
}

export function stateBadge(el, m) {
  const errors = (m.problems || []).filter((p) => p.severity === 'error').length;
  const label = { enabled: 'Syncing', paused: 'Paused', draft: 'Draft' }[m.state] || m.state;
  return el('span', { class: ['badge', m.state] }, label,
    errors && m.state !== 'enabled' ? el('span', { class: 'badge-note', text: ` · ${errors} to fix` }) : null);
}
