// pages/signin.js: exchanges the admin token (or a user's token) for a console session.
// The token is sent once, to POST /api/session, and never stored by the page.
import { signIn } from '../api.js';

export async function render(root, ctx) {
  const { el, errorBox } = ctx.ui;
  const next = ctx.params.query.get('next');
  const status = el('div', { class: 'form-status', 'aria-live': 'polite' });
  const input = el('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'current-password',
    required: true, spellcheck: 'false', 'aria-describedby': 'token-help',
  });
  const button = el('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  const form = el('form', { class: 'card signin', novalidate: true },
    el('h1', { text: 'Sign in to synkro' }),
    el('p', { class: 'lead', text: 'The console sets up and watches the sync between Salesforce and HubSpot.' }),
    el('label', { for: 'token', text: 'Admin token' }),
    input,
    el('div', { id: 'token-help', class: 'help' },
      el('p', {}, 'Where to find it: with ', el('code', { text: 'make run' }), ', the token is in ',
        el('code', { text: '.data/admin-token' }), ' (run ', el('code', { text: 'cat .data/admin-token' }),
        ' in the synkro folder). Otherwise it is the value of ', el('code', { text: 'SYNKRO_ADMIN_TOKEN' }),
        ' in synkro\'s environment (or the file named by ', el('code', { text: 'SYNKRO_ADMIN_TOKEN_FILE' }), ').'),
      el('p', {}, 'A named user signs in with their own token, so the history shows who changed what.')),
    button,
    status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    status.replaceChildren();
    if (!token) {
      input.setAttribute('aria-invalid', 'true');
      status.append(errorBox('Enter the admin token: paste the contents of .data/admin-token (make run) or the value of SYNKRO_ADMIN_TOKEN.', 'No token entered'));
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      await signIn(token);
      input.value = '';
      ctx.navigate(next && next.startsWith('#/') && !next.startsWith('#/signin') ? next : '#/mappings');
    } catch (e) {
      input.setAttribute('aria-invalid', 'true');
      let msg = e.message;
      if (e.status === 401) msg = 'synkro does not know this token. Check that you copied the whole of .data/admin-token (make run) or SYNKRO_ADMIN_TOKEN, without spaces, and that synkro was not restarted with another token.';
      else if (e.status === 429) msg = 'Too many sign-in attempts. Wait a minute, then try again.';
      status.append(errorBox({ ...e, message: msg }, 'Sign-in failed'));
      input.focus();
      input.select();
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  });
  root.append(el('div', { class: 'center' }, form));
  input.focus();
}
