// BusDK Artifact Builder: the chat portal. Plain modern JavaScript, no build step, no inline
// scripts or styles (the pages are served with a strict CSP). All text from the API is inserted
// with textContent, never as HTML.

const API = '/api/v1';
const RUN_KEY = 'busdk.builder.run';

/** Phases (the nine lifecycle phases) → five visible steps. */
const STEPS = [
  { label: 'Describe', phases: ['drafting'] },
  { label: 'Quote', phases: ['quoted'] },
  { label: 'Build', phases: ['authorized', 'repo_ready', 'worker_running'] },
  { label: 'Verify', phases: ['artifact_pending'] },
  { label: 'Ready', phases: ['artifact_ready', 'delivered'] },
];
/** Event types that are part of the build story shown in the conversation. */
const HIDDEN_EVENTS = new Set([
  'bus.build.run.requested',
  'bus.build.message.added',
  'bus.build.quote.ready',
  'bus.build.run.delivered',
]);
const BUILDING = new Set(['authorized', 'repo_ready', 'worker_running', 'artifact_pending']);
const DONE = new Set(['artifact_ready', 'delivered']);
const WAITING_PAYMENT = new Set(['manual_requested', 'checkout_pending']);

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const state = {
  runId: /** @type {string|null} */ (null),
  run: /** @type {any} */ (null),
  after: 0,
  shownEvents: new Set(),
  pollToken: 0,
  busy: false,
  caps: {
    contact: false,
    checkout: false,
    emailLogin: false,
    listRuns: false,
  },
  /** Payment methods the API offers for runs (`run.payment_methods`); null until known. */
  paymentMethods: /** @type {string[]|null} */ (null),
  quoteCard: /** @type {HTMLElement|null} */ (null),
  artifactsShown: false,
};

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  let res;
  try {
    res = await fetch(API + path, {
      method,
      credentials: 'same-origin',
      headers:
        body === undefined
          ? { accept: 'application/json' }
          : { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The connection was interrupted. Check your network and try again.');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data?.error ? data.error : {};
    throw new ApiError(res.status, err.code || 'error', err.message || `The request failed (${res.status}).`);
  }
  return data;
}

const runPath = (suffix = '') => `/build-runs/${encodeURIComponent(state.runId || '')}${suffix}`;

/** Which optional routes the API offers (read from its OpenAPI description). */
async function loadCapabilities() {
  try {
    const doc = await api('GET', '/openapi.json');
    const paths = doc?.paths ? doc.paths : {};
    const has = (re, method) => Object.keys(paths).some((p) => re.test(p) && (!method || paths[p]?.[method]));
    state.caps.contact = has(/\/build-runs\/\{[^}]+\}\/contact$/, 'post');
    state.caps.checkout = has(/\/build-runs\/\{[^}]+\}\/checkout$/, 'post');
    state.caps.emailLogin = has(/\/sessions\/email-code$/, 'post') && has(/\/sessions\/verify$/, 'post');
    state.caps.listRuns = has(/\/api\/v1\/build-runs$/, 'get');
  } catch {
    // Optional features stay off; the chat itself does not depend on them.
  }
}

// ---------------------------------------------------------------- DOM helpers

/** h('p', {class: 'x'}, 'text', child) — attributes as properties/attributes, children as nodes or text. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const transcript = () => $('transcript');

function scrollToEnd() {
  const t = transcript();
  const last = t.lastElementChild;
  if (last && typeof last.scrollIntoView === 'function') last.scrollIntoView({ block: 'end' });
}

function append(node) {
  transcript().append(node);
  scrollToEnd();
  return node;
}

function bubble(role, text, at) {
  const who = role === 'visitor' ? 'You' : 'Builder';
  return append(
    h(
      'div',
      { class: `msg msg-${role}` },
      h('span', { class: 'visually-hidden' }, `${who}: `),
      h('div', { class: 'msg-text' }, text),
      at ? h('time', { class: 'msg-time', datetime: at }, formatTime(at)) : null,
    ),
  );
}

function statusLine(text, kind = 'info') {
  return append(
    h('p', { class: `status-line status-${kind}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }), text),
  );
}

function notice(text, actions = []) {
  return append(
    h(
      'div',
      { class: 'card notice', role: 'status' },
      h('p', {}, text),
      actions.length ? h('div', { class: 'actions' }, actions) : null,
    ),
  );
}

function errorLine(err, retry) {
  const msg = err instanceof ApiError ? err.message : 'Something went wrong. Please try again.';
  const node = h('div', { class: 'card error', role: 'alert' }, h('p', {}, msg));
  if (retry) {
    const btn = h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: () => {
          node.remove();
          retry();
        },
      },
      'Try again',
    );
    node.append(h('div', { class: 'actions' }, btn));
  }
  return append(node);
}

function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function humanSize(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

const OS = { linux: 'Linux', darwin: 'macOS', windows: 'Windows', freebsd: 'FreeBSD' };
const ARCH = { amd64: 'x86-64', arm64: 'ARM64', 386: 'x86 (32-bit)', arm: 'ARM' };
function platformLabel(p) {
  if (!p) return '';
  const [os, arch] = String(p).split(/[-/]/);
  const o = OS[os] || os;
  if (os === 'darwin' && arch === 'arm64') return 'macOS (Apple silicon)';
  if (os === 'darwin' && arch === 'amd64') return 'macOS (Intel)';
  return arch ? `${o} (${ARCH[arch] || arch})` : o;
}

// ---------------------------------------------------------------- phase indicator

function renderPhase(phase) {
  const bar = $('phase-bar');
  const list = $('steps');
  if (!phase) {
    bar.hidden = true;
    return;
  }
  bar.hidden = false;
  const failed = phase === 'failed';
  let current = STEPS.findIndex((s) => s.phases.includes(phase));
  if (failed) current = Math.max(0, stepBeforeFailure());
  list.replaceChildren(
    ...STEPS.map((s, i) => {
      const status =
        i < current || (phase === 'delivered' && i === current)
          ? 'done'
          : i === current
            ? failed
              ? 'failed'
              : 'current'
            : 'todo';
      return h(
        'li',
        { class: `step step-${status}`, 'aria-current': i === current ? 'step' : null },
        h(
          'span',
          { class: 'step-num', 'aria-hidden': 'true' },
          status === 'done' ? '✓' : status === 'failed' ? '!' : String(i + 1),
        ),
        h('span', { class: 'step-label' }, s.label),
        h(
          'span',
          { class: 'visually-hidden' },
          status === 'done'
            ? ' (done)'
            : status === 'current'
              ? ' (current)'
              : status === 'failed'
                ? ' (stopped)'
                : '',
        ),
      );
    }),
  );
  const label = failed ? 'stopped' : STEPS[current] ? STEPS[current].label : '';
  $('phase-text').textContent = `Step ${current + 1} of ${STEPS.length}: ${label}`;
  document.body.dataset.phase = phase;
}

function stepBeforeFailure() {
  if (state.run?.quote)
    return state.lastLivePhase ? STEPS.findIndex((s) => s.phases.includes(state.lastLivePhase)) : 2;
  return 0;
}

function setPhase(phase) {
  if (!phase) return;
  if (phase !== 'failed') state.lastLivePhase = phase;
  if (state.run) state.run.phase = phase;
  renderPhase(phase);
  updateComposer();
}

// ---------------------------------------------------------------- composer

function updateComposer() {
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  const send = /** @type {HTMLButtonElement} */ ($('composer-send'));
  const phase = state.run ? state.run.phase : 'drafting';
  // A delivered tool (also after a change that failed) takes change requests in the same chat.
  const delivered = Boolean(state.run?.version) && (DONE.has(phase) || phase === 'failed');
  const open = phase === 'drafting' || phase === 'quoted' || delivered;
  input.disabled = !open || state.busy;
  send.disabled = !open || state.busy;
  input.placeholder = open
    ? phase === 'quoted' || delivered
      ? 'Ask for a change…'
      : 'Describe the tool you need…'
    : DONE.has(phase)
      ? 'Your tool is ready.'
      : phase === 'failed'
        ? 'This build stopped.'
        : 'Your build is under way…';
}

function autoGrow() {
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  input.rows = Math.min(6, Math.max(1, input.value.split('\n').length));
}

async function onSend(ev) {
  ev.preventDefault();
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  const text = input.value.trim();
  if (!text || state.busy) return;
  state.busy = true;
  updateComposer();
  bubble('visitor', text);
  input.value = '';
  autoGrow();
  const typing = append(
    h(
      'p',
      { class: 'typing', 'aria-label': 'The builder is typing' },
      h('span', {}),
      h('span', {}),
      h('span', {}),
    ),
  );
  try {
    if (!state.runId) await createRun();
    const data = await api('POST', runPath('/messages'), { text });
    typing.remove();
    const prevQuote = state.run?.quote ? state.run.quote.version : 0;
    setRun(data.run);
    bubble('assistant', data.reply.text, data.reply.at);
    setPhase(data.run.phase);
    if (data.run.quote && data.run.phase === 'quoted' && data.run.quote.version !== prevQuote) {
      state.failureShown = false;
      await learnPaymentMethods();
      renderQuote(data.run, { focus: true });
      startPolling();
    }
  } catch (err) {
    typing.remove();
    if (err instanceof ApiError && (err.status === 401 || err.status === 404)) {
      lostRun();
    } else {
      input.value = text;
      errorLine(err);
    }
  } finally {
    state.busy = false;
    updateComposer();
    if (!input.disabled && !document.activeElement?.closest('.card')) input.focus();
  }
}

async function createRun() {
  const data = await api('POST', '/build-runs', {});
  state.runId = data.run.run_id;
  setRun(data.run);
  state.after = 0;
  state.shownEvents.clear();
  try {
    localStorage.setItem(RUN_KEY, state.runId);
  } catch {
    // storage unavailable: the run still works for this page view
  }
}

// ---------------------------------------------------------------- quote card

function list(items, cls) {
  return h(
    'ul',
    { class: cls },
    items.map((i) => h('li', {}, i)),
  );
}

function renderQuote(run, opts = {}) {
  if (state.quoteCard) state.quoteCard.classList.add('superseded');
  if (state.quoteCard) state.quoteCard.querySelector('.quote-actions')?.remove();
  const s = run.scope || { title: 'Your tool', summary: '', features: [], out_of_scope: [], platforms: [] };
  const q = run.quote;
  const headingId = `quote-title-${q.version}`;
  const card = h(
    'section',
    { class: 'card quote', 'aria-labelledby': headingId },
    h(
      'p',
      { class: 'eyebrow' },
      run.revision ? `Version ${run.revision.version}: the change and its price` : 'Scope and price',
    ),
    h('h2', { id: headingId, tabindex: '-1' }, s.title),
    s.summary ? h('p', { class: 'summary' }, s.summary) : null,
    s.features.length ? h('div', {}, h('h3', {}, 'What it does'), list(s.features, 'features')) : null,
    s.out_of_scope.length
      ? h('div', {}, h('h3', {}, 'Not included'), list(s.out_of_scope, 'out-of-scope'))
      : null,
    checksSection(q.checks),
    h(
      'div',
      {},
      h('h3', {}, 'You get'),
      h('p', { class: 'platforms' }, deliverable(run.artifact_type, s.platforms)),
    ),
    h(
      'table',
      { class: 'price' },
      h('caption', { class: 'visually-hidden' }, 'Price'),
      h(
        'tbody',
        {},
        q.line_items.map((li) =>
          h('tr', {}, h('th', { scope: 'row' }, li.label), h('td', {}, money(li.amount_cents, q.currency))),
        ),
        h(
          'tr',
          { class: 'total' },
          h('th', { scope: 'row' }, 'Total'),
          h('td', { class: 'amount' }, q.amount_display),
        ),
      ),
    ),
    h('p', { class: 'delivery' }, q.delivery),
    h('p', { class: 'promise' }, 'You pay only for a verified, working tool.'),
  );
  state.quoteCard = card;
  append(card);
  renderQuoteActions(run);
  if (opts.focus) {
    const target =
      card.querySelector('.quote-actions input, .quote-actions button') || card.querySelector('h2');
    /** @type {HTMLElement} */ (target)?.focus();
  }
}

/** "How we will check it": the acceptance checks approved with this quote (titles only). */
function checksSection(checks) {
  if (!Array.isArray(checks) || checks.length === 0) return null;
  const kindLabel = { cli: 'Program', web: 'Web app' };
  return h(
    'div',
    { class: 'checks-section' },
    h('h3', {}, 'How we will check it'),
    h('p', { class: 'hint' }, 'Before delivery, the finished tool must pass each of these checks:'),
    h(
      'ul',
      { class: 'checks' },
      checks.map((c) =>
        h(
          'li',
          { 'data-kind': c.kind },
          h('span', { class: 'check-kind' }, kindLabel[c.kind] || 'Check'),
          ' ',
          h('span', { class: 'check-title' }, c.title),
        ),
      ),
    ),
  );
}

function deliverable(type, platforms) {
  const names = platforms.map(platformLabel).join(', ');
  const web = 'A web app you open in your browser';
  if (type === 'web') return `${web}.`;
  if (type === 'binary') return `A program to download and run on ${names || 'your computer'}.`;
  if (type === 'both') return `${web}, and a program to download for ${names || 'your computer'}.`;
  return 'A verified, working tool.';
}

function money(cents, currency) {
  try {
    return new Intl.NumberFormat('en', {
      style: 'currency',
      currency: String(currency).toUpperCase(),
    }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

function renderQuoteActions(run) {
  const card = state.quoteCard;
  if (!card) return;
  card.querySelector('.quote-actions')?.remove();
  const box = h('div', { class: 'quote-actions' });
  card.append(box);
  if (run.phase !== 'quoted') {
    box.append(h('p', { class: 'approved' }, run.phase === 'failed' ? 'This build stopped.' : 'Approved.'));
    return;
  }
  if (WAITING_PAYMENT.has(run.payment_status)) {
    box.append(
      h(
        'p',
        { class: 'waiting' },
        run.payment_status === 'checkout_pending'
          ? 'Waiting for the card payment to complete. The build starts as soon as it does.'
          : 'Approval requested. The build starts as soon as the BusDK team approves it; progress appears here.',
      ),
    );
    if (run.payment_status === 'checkout_pending' && state.caps.checkout) box.append(payButtons(run));
    return;
  }
  if (state.caps.contact && !run.contact_email_set) {
    box.append(emailForm());
    return;
  }
  if (state.caps.contact && run.contact_email_confirmed === false) {
    box.append(confirmForm());
    return;
  }
  if (state.caps.contact && run.contact_email_set)
    box.append(h('p', { class: 'muted' }, 'We will email you when your tool is ready.'));
  box.append(payButtons(run));
}

function emailForm() {
  const id = `contact-email-${Date.now()}`;
  const hint = `${id}-hint`;
  const input = h('input', {
    type: 'email',
    id,
    name: 'email',
    required: true,
    autocomplete: 'email',
    inputmode: 'email',
    'aria-describedby': hint,
    placeholder: 'you@example.com',
  });
  const msg = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'inline-form contact-form', novalidate: true },
    h('label', { for: id }, 'Your email'),
    h(
      'p',
      { class: 'hint', id: hint },
      'We use it only to reach you about this build and to let you continue on another device.',
    ),
    h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'primary' }, 'Continue')),
    msg,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = /** @type {HTMLInputElement} */ (input).value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      msg.textContent = 'Please enter a valid email address.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    msg.textContent = '';
    setFormBusy(form, true);
    try {
      const data = await api('POST', runPath('/contact'), { email });
      setRun(data?.run ? data.run : { ...state.run, contact_email_set: true });
      renderQuoteActions(state.run);
      /** @type {HTMLElement|null} */ (
        state.quoteCard?.querySelector('.quote-actions input, .quote-actions button')
      )?.focus();
    } catch (err) {
      setFormBusy(form, false);
      msg.textContent = err instanceof ApiError ? err.message : 'That did not work. Please try again.';
      input.focus();
    }
  });
  return form;
}

/** The code mailed to the contact address: only a confirmed address counts (approval needs one). */
function confirmForm() {
  const id = `contact-code-${Date.now()}`;
  const input = h('input', {
    type: 'text',
    id,
    name: 'code',
    required: true,
    autocomplete: 'one-time-code',
    inputmode: 'numeric',
    pattern: '[0-9]{6}',
    maxlength: '6',
    placeholder: '123456',
  });
  const msg = h('p', { class: 'form-error', role: 'alert' });
  const change = h('button', { type: 'button', class: 'link-button' }, 'Use another address');
  change.addEventListener('click', () => {
    setRun({ ...state.run, contact_email_set: false, contact_email_confirmed: false });
    renderQuoteActions(state.run);
  });
  const form = h(
    'form',
    { class: 'inline-form confirm-form', novalidate: true },
    h('label', { for: id }, 'Code from the email'),
    h(
      'p',
      { class: 'hint' },
      'We sent a 6-digit code to your address. Enter it to confirm the address is yours.',
    ),
    h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'primary' }, 'Confirm')),
    change,
    msg,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const code = /** @type {HTMLInputElement} */ (input).value.trim();
    if (!/^\d{6}$/.test(code)) {
      msg.textContent = 'Please enter the 6-digit code from the email.';
      input.focus();
      return;
    }
    msg.textContent = '';
    setFormBusy(form, true);
    try {
      const data = await api('POST', runPath('/contact/confirm'), { code });
      setRun(data?.run ? data.run : { ...state.run, contact_email_confirmed: true });
      renderQuoteActions(state.run);
      /** @type {HTMLElement|null} */ (state.quoteCard?.querySelector('.quote-actions button'))?.focus();
    } catch (err) {
      setFormBusy(form, false);
      msg.textContent = err instanceof ApiError ? err.message : 'That did not work. Please try again.';
      input.focus();
    }
  });
  return form;
}

function setFormBusy(form, busy) {
  for (const el of form.querySelectorAll('input, button')) el.toggleAttribute('disabled', busy);
}

function canPayByCard() {
  return (
    state.caps.checkout && Array.isArray(state.paymentMethods) && state.paymentMethods.includes('stripe')
  );
}

/** Remembers the payment methods a run response carries (not every response has them). */
function setRun(run) {
  if (run && Array.isArray(run.payment_methods)) state.paymentMethods = run.payment_methods;
  state.run = run;
}

async function learnPaymentMethods() {
  if (state.paymentMethods || !state.caps.checkout) return;
  try {
    const data = await api('GET', runPath());
    if (data.run && Array.isArray(data.run.payment_methods)) state.paymentMethods = data.run.payment_methods;
  } catch {
    // card payment stays hidden
  }
}

function payButtons(run) {
  const wrap = h('div', { class: 'actions' });
  const err = h('p', { class: 'form-error', role: 'alert' });
  const request = h(
    'button',
    { type: 'button', class: 'primary', 'data-action': 'request-approval' },
    'Request approval',
  );
  request.addEventListener('click', async () => {
    request.disabled = true;
    err.textContent = '';
    if (!state.caps.checkout) {
      // No approval route on this API: the operator approves quoted runs directly.
      state.run = { ...state.run, payment_status: 'manual_requested' };
      renderQuoteActions(state.run);
      statusLine('Your request is with the BusDK team. The build starts as soon as they approve it.');
      startPolling();
      return;
    }
    try {
      const data = await api('POST', runPath('/checkout'), { method: 'manual' });
      setRun(data?.run ? data.run : { ...state.run, payment_status: 'manual_requested' });
      if (state.run.payment_status === 'none') state.run.payment_status = 'manual_requested';
      renderQuoteActions(state.run);
      startPolling();
    } catch (e) {
      request.disabled = false;
      if (e instanceof ApiError && (e.code === 'contact_required' || e.code === 'contact_unconfirmed')) {
        state.run = {
          ...state.run,
          contact_email_set: e.code === 'contact_unconfirmed',
          contact_email_confirmed: false,
        };
        state.caps.contact = true;
        renderQuoteActions(state.run);
        return;
      }
      err.textContent = e instanceof ApiError ? e.message : 'That did not work. Please try again.';
    }
  });
  wrap.append(request);
  if (canPayByCard()) {
    const pay = h(
      'button',
      { type: 'button', class: 'secondary', 'data-action': 'pay' },
      `Pay ${run.quote.amount_display} by card`,
    );
    pay.addEventListener('click', async () => {
      pay.disabled = true;
      err.textContent = '';
      try {
        const data = await api('POST', runPath('/checkout'), { method: 'stripe' });
        const url = data && (data.checkout_url || data.url);
        if (url && /^https?:\/\//.test(url)) {
          window.location.assign(url);
          return;
        }
        setRun(data?.run ? data.run : state.run);
        renderQuoteActions(state.run);
        startPolling();
      } catch (e) {
        pay.disabled = false;
        if (
          e instanceof ApiError &&
          (e.code === 'payments_unavailable' || e.status === 501 || e.status === 503)
        ) {
          state.paymentMethods = ['manual'];
          pay.remove();
          err.textContent = 'Card payment is not available right now. Request approval instead.';
          return;
        }
        err.textContent = e instanceof ApiError ? e.message : 'That did not work. Please try again.';
      }
    });
    wrap.append(pay);
  }
  const note = h(
    'p',
    { class: 'hint' },
    canPayByCard()
      ? 'Pay now to start right away, or request approval and pay later.'
      : 'Card payment is not available here yet: request approval and the BusDK team confirms your build before it starts. Nothing is charged for a tool that fails verification.',
  );
  return h('div', {}, wrap, note, err);
}

// ---------------------------------------------------------------- progress (long-poll)

function showEvent(e) {
  if (state.shownEvents.has(e.seq)) return;
  state.shownEvents.add(e.seq);
  if (HIDDEN_EVENTS.has(e.type)) return;
  // Two events can carry the same sentence (e.g. the progress note and the verification result).
  if (e.message === state.lastProgress) return;
  state.lastProgress = e.message;
  statusLine(
    e.message,
    e.type === 'bus.build.run.failed' ? 'failed' : e.type === 'bus.build.artifact.verified' ? 'done' : 'info',
  );
}

async function handleEvents(events) {
  let phase = null;
  for (const e of events) {
    showEvent(e);
    if (e.phase) phase = e.phase;
  }
  if (phase && (!state.run || phase !== state.run.phase)) {
    const before = state.run ? state.run.phase : null;
    setPhase(phase);
    if (before === 'quoted' && phase !== 'quoted' && state.run) renderQuoteActions(state.run);
  }
  // A new version was published (a change after delivery): its card replaces the current one.
  if (events.some((e) => e.type === 'bus.build.version.published')) state.newVersion = true;
  if (
    state.run &&
    DONE.has(state.run.phase) &&
    (state.newVersion || state.artifactsShown !== shownVersion(state.run))
  ) {
    state.newVersion = false;
    await showArtifacts();
  }
  if (state.run && state.run.phase === 'failed') renderFailure();
}

/** The version a delivered card shows (runs from before versions count as version 1). */
function shownVersion(run) {
  return run.version ?? 1;
}

function shouldPoll() {
  const r = state.run;
  return Boolean(state.runId && r && (r.phase === 'quoted' || BUILDING.has(r.phase)));
}

function startPolling() {
  if (!shouldPoll()) return;
  const token = ++state.pollToken;
  void pollLoop(token);
}

async function pollLoop(token) {
  let backoff = 1000;
  while (token === state.pollToken && shouldPoll()) {
    try {
      const data = await api('GET', runPath(`/events?after=${state.after}&wait=20`));
      if (token !== state.pollToken) return;
      state.after = data.next_after;
      await handleEvents(data.events);
      backoff = 1000;
    } catch (err) {
      if (token !== state.pollToken) return;
      if (err instanceof ApiError && (err.status === 401 || err.status === 404)) {
        lostRun();
        return;
      }
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 15000);
    }
  }
}

function renderFailure() {
  if (state.failureShown) return;
  state.failureShown = true;
  if (state.run?.version) {
    // A change that failed: the delivered version stays; the visitor can ask again.
    notice(
      `The change was not delivered and you will not be charged for it. Version ${state.run.version} is still yours, unchanged: ask for another change below, or start a new tool.`,
      [h('button', { type: 'button', class: 'secondary', onclick: newBuild }, 'Build another tool')],
    );
    return;
  }
  notice('Nothing unverified was delivered and you will not be charged for it.', [
    h('button', { type: 'button', class: 'primary', onclick: newBuild }, 'Start a new build'),
  ]);
}

// ---------------------------------------------------------------- artifacts

/**
 * The receipt: every agreed check the delivered artifacts passed (their titles are the approved
 * quote's own words), when they were verified, and the web app as the last check left it.
 */
let receiptCount = 0;

function renderReceipt(artifacts) {
  const titles = [];
  let at = '';
  let shot;
  for (const a of artifacts) {
    const r = a.receipt;
    if (!r) continue;
    if (r.verified_at > at) at = r.verified_at;
    if (!shot && r.screenshot_url) shot = r.screenshot_url;
    for (const c of r.checks) if (c.passed && !titles.includes(c.title)) titles.push(c.title);
  }
  if (!titles.length) return null;
  const receiptId = `receipt-title-${++receiptCount}`;
  return h(
    'section',
    { class: 'receipt', 'aria-labelledby': receiptId },
    h('h3', { id: receiptId }, 'Checked before delivery'),
    h(
      'ul',
      { class: 'receipt-checks' },
      titles.map((t) =>
        h(
          'li',
          {},
          h('span', { class: 'check-mark', 'aria-hidden': 'true' }, '✓'),
          h('span', { class: 'visually-hidden' }, 'Passed: '),
          t,
        ),
      ),
    ),
    at ? h('p', { class: 'muted receipt-time' }, `Verified at ${formatTime(at)}.`) : null,
    shot
      ? h(
          'figure',
          { class: 'receipt-shot' },
          h('img', { src: shot, alt: 'The web app at the end of the checks', loading: 'lazy' }),
          h('figcaption', { class: 'muted' }, 'The web app as the last check left it.'),
        )
      : null,
  );
}

async function showArtifacts() {
  state.artifactsShown = shownVersion(state.run);
  let data;
  try {
    // The run as it is now (its versions), then the current version's artifacts.
    setRun((await api('GET', runPath())).run);
    data = await api('GET', runPath('/artifacts'));
  } catch (err) {
    state.artifactsShown = false;
    errorLine(err, showArtifacts);
    return;
  }
  const run = state.run;
  const version = data.version ?? shownVersion(run);
  state.artifactsShown = version;
  const versions = run?.versions || [];
  const title = run?.scope?.title || 'Your tool';
  const headingId = `ready-title-${version}`;
  const card = h(
    'section',
    { class: 'card ready', 'aria-labelledby': headingId, 'data-version': String(version) },
    h('p', { class: 'eyebrow' }, versions.length > 1 ? `Version ${version} (current)` : 'Verified and ready'),
    h('h2', { id: headingId, tabindex: '-1' }, `${title} is ready`),
    h('p', { class: 'muted' }, 'It was built, checked and started successfully before we delivered it.'),
  );
  // An earlier card in the transcript now shows an older version.
  for (const old of document.querySelectorAll('.card.ready[data-version]')) {
    if (old.getAttribute('data-version') !== String(version)) old.classList.add('superseded');
  }
  renderArtifactList(card, data.artifacts || [], title);
  const earlier = versions.filter((v) => v.version !== version).reverse();
  if (earlier.length) card.append(earlierVersions(earlier, title));
  card.append(
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: newBuild }, 'Build another tool'),
    ),
  );
  append(card);
  updateComposer();
}

/** Earlier versions, each opened on demand with its own receipt, preview and downloads. */
function earlierVersions(versions, title) {
  return h(
    'section',
    { class: 'earlier-versions', 'aria-label': 'Earlier versions' },
    h('h3', {}, 'Earlier versions'),
    versions.map((v) => {
      const body = h('div', { class: 'version-body' });
      const details = h(
        'details',
        { class: 'version', 'data-version': String(v.version) },
        h(
          'summary',
          {},
          `Version ${v.version}`,
          h('span', { class: 'muted' }, ` · verified ${formatTime(v.verified_at)}`),
        ),
        body,
      );
      details.addEventListener('toggle', async () => {
        if (!details.open || body.childElementCount) return;
        try {
          const data = await api('GET', runPath(`/artifacts?version=${v.version}`));
          renderArtifactList(body, data.artifacts || [], `${title} (version ${v.version})`);
        } catch (err) {
          body.append(h('p', { class: 'muted' }, err instanceof Error ? err.message : 'Could not load it.'));
        }
      });
      return details;
    }),
  );
}

/** One version's web app, downloads and receipt, appended to `card`. */
function renderArtifactList(card, artifacts, title) {
  const web = artifacts.filter((a) => a.preview_url);
  const bins = artifacts.filter((a) => a.download_url);
  for (const a of web) {
    const frameWrap = h('div', { class: 'preview-frame', hidden: true });
    const toggle = h(
      'button',
      { type: 'button', class: 'secondary', 'aria-expanded': 'false' },
      'Show it here',
    );
    toggle.addEventListener('click', () => {
      const open = frameWrap.hidden;
      frameWrap.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? 'Hide the preview' : 'Show it here';
      if (open && !frameWrap.firstChild)
        frameWrap.append(
          h('iframe', {
            src: a.preview_url,
            title: `${title} preview`,
            sandbox: 'allow-scripts allow-forms allow-same-origin',
            referrerpolicy: 'no-referrer',
            loading: 'lazy',
          }),
        );
    });
    card.append(
      h(
        'div',
        { class: 'artifact artifact-web' },
        h('h3', {}, 'Web app'),
        h(
          'div',
          { class: 'actions' },
          h(
            'a',
            {
              class: 'button primary',
              href: a.preview_url,
              target: '_blank',
              rel: 'noopener noreferrer',
              'data-action': 'open-preview',
            },
            'Open the web app',
            h('span', { class: 'visually-hidden' }, ' (opens in a new tab)'),
          ),
          toggle,
        ),
        frameWrap,
      ),
    );
  }
  if (bins.length) {
    card.append(h('h3', {}, bins.length > 1 ? 'Downloads' : 'Download'));
    card.append(
      h(
        'ul',
        { class: 'downloads' },
        bins.map((a) => {
          const shaId = `sha-${a.artifact_id}`;
          const copy = h(
            'button',
            { type: 'button', class: 'link-button copy', 'aria-describedby': shaId },
            'Copy',
          );
          copy.addEventListener('click', () => copyText(a.sha256, copy));
          return h(
            'li',
            { class: 'download' },
            h(
              'div',
              { class: 'download-main' },
              h('span', { class: 'file-name' }, a.name),
              h(
                'span',
                { class: 'file-meta' },
                [platformLabel(a.platform), humanSize(a.size_bytes)].filter(Boolean).join(' · '),
              ),
            ),
            h(
              'a',
              {
                class: 'button primary',
                href: a.download_url,
                download: a.name,
                'data-action': 'download',
                'data-platform': a.platform || '',
              },
              'Download',
              h('span', { class: 'visually-hidden' }, ` ${a.name}`),
            ),
            h(
              'div',
              { class: 'sha' },
              h('span', { class: 'sha-label' }, 'SHA-256 '),
              h('code', { id: shaId, class: 'sha-value' }, a.sha256),
              copy,
            ),
          );
        }),
      ),
    );
  }
  if (!web.length && !bins.length)
    card.append(h('p', {}, 'The artifacts are being prepared. Reload in a moment.'));
  const receipt = renderReceipt(artifacts);
  if (receipt) card.append(receipt);
}

async function copyText(text, btn) {
  try {
    await navigator.clipboard.writeText(text);
    btn.textContent = 'Copied';
  } catch {
    const sel = window.getSelection();
    const code = btn.parentElement?.querySelector('code');
    if (sel && code) {
      const range = document.createRange();
      range.selectNodeContents(code);
      sel.removeAllRanges();
      sel.addRange(range);
    }
    btn.textContent = 'Selected: press Ctrl+C';
  }
  setTimeout(() => {
    btn.textContent = 'Copy';
  }, 2500);
}

// ---------------------------------------------------------------- run lifecycle in the page

function welcome() {
  bubble(
    'assistant',
    'Hi! Tell me about the small tool you need, for example “a tip calculator” or “a unit converter for the command line”. I will ask a question or two, then show you the scope and a fixed price before anything is built.',
  );
}

function resetView() {
  state.pollToken++;
  state.runId = null;
  state.run = null;
  state.after = 0;
  state.shownEvents.clear();
  state.quoteCard = null;
  state.artifactsShown = false;
  state.failureShown = false;
  state.lastLivePhase = null;
  state.lastProgress = null;
  transcript().replaceChildren();
  renderPhase(null);
  updateComposer();
}

function newBuild() {
  try {
    localStorage.removeItem(RUN_KEY);
  } catch {
    // ignore
  }
  resetView();
  welcome();
  $('composer-input').focus();
}

function lostRun() {
  try {
    localStorage.removeItem(RUN_KEY);
  } catch {
    // ignore
  }
  state.pollToken++;
  state.runId = null;
  state.run = null;
  updateComposer();
  notice(
    'This conversation is not available in this browser any more. Start a new build, or continue with your email if you gave one.',
    [
      h('button', { type: 'button', class: 'primary', onclick: newBuild }, 'Start a new build'),
      h('button', { type: 'button', class: 'secondary', onclick: () => openLogin() }, 'Continue with email'),
    ],
  );
}

async function loadRun(runId) {
  resetView();
  state.runId = runId;
  let data;
  try {
    data = await api('GET', runPath());
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 404)) {
      lostRun();
      return;
    }
    errorLine(err, () => loadRun(runId));
    return;
  }
  const run = data.run;
  setRun(run);
  try {
    localStorage.setItem(RUN_KEY, runId);
  } catch {
    // ignore
  }
  const msgs = run.messages || [];
  if (!msgs.length) welcome();
  for (const m of msgs) bubble(m.role, m.text, m.at);
  if (run.phase !== 'drafting') state.lastLivePhase = run.phase === 'failed' ? 'worker_running' : run.phase;
  if (run.quote) renderQuote(run);
  if (run.phase !== 'drafting') {
    try {
      const ev = await api('GET', runPath(`/events?after=0&wait=0`));
      for (const e of ev.events) {
        if (e.phase && e.phase !== 'failed') state.lastLivePhase = e.phase;
        showEvent(e);
      }
      state.after = ev.next_after;
    } catch {
      // progress lines are optional on resume
    }
  }
  setPhase(run.phase);
  // Every delivered version stays listed, whatever a later change is doing.
  if (DONE.has(run.phase) || run.version) await showArtifacts();
  if (run.phase === 'failed') renderFailure();
  else if (!DONE.has(run.phase)) startPolling();
}

// ---------------------------------------------------------------- email login / my builds

function openLogin(mode) {
  const dlg = /** @type {HTMLDialogElement} */ ($('login-dialog'));
  const body = $('login-body');
  const title = $('login-title');
  if (mode === 'runs' && state.caps.listRuns) {
    title.textContent = 'Your builds';
    body.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    void showRunList(body);
  } else {
    title.textContent = 'Continue on another device';
    body.replaceChildren(loginStart());
  }
  if (!dlg.open) dlg.showModal();
  /** @type {HTMLElement|null} */ (body.querySelector('input, button'))?.focus();
}

function loginStart() {
  if (!state.caps.emailLogin) {
    return h(
      'div',
      {},
      h(
        'p',
        {},
        'Signing in with your email is not available yet. Your conversation resumes automatically in this browser: just come back to this page.',
      ),
      h(
        'form',
        { method: 'dialog', class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, 'OK'),
      ),
    );
  }
  const input = h('input', {
    type: 'email',
    id: 'login-email',
    required: true,
    autocomplete: 'email',
    inputmode: 'email',
  });
  const msg = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'inline-form', novalidate: true },
    h('p', {}, 'Enter the email you gave for your build. We send you a one-time code.'),
    h('label', { for: 'login-email' }, 'Email'),
    h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'primary' }, 'Send code')),
    msg,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = /** @type {HTMLInputElement} */ (input).value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      msg.textContent = 'Please enter a valid email address.';
      input.focus();
      return;
    }
    setFormBusy(form, true);
    try {
      await api('POST', '/sessions/email-code', { email });
      const body = $('login-body');
      body.replaceChildren(loginCode(email));
      /** @type {HTMLElement|null} */ (body.querySelector('input'))?.focus();
    } catch (err) {
      setFormBusy(form, false);
      msg.textContent = err instanceof ApiError ? err.message : 'That did not work. Please try again.';
    }
  });
  return form;
}

function loginCode(email) {
  const input = h('input', {
    type: 'text',
    id: 'login-code',
    required: true,
    autocomplete: 'one-time-code',
    inputmode: 'numeric',
    maxlength: '12',
  });
  const msg = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'inline-form', novalidate: true },
    h('p', {}, 'If that email has builds, a code is on its way to ', h('strong', {}, email), '.'),
    h('label', { for: 'login-code' }, 'Code from the email'),
    h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'primary' }, 'Continue')),
    msg,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const code = /** @type {HTMLInputElement} */ (input).value.trim();
    if (!code) {
      msg.textContent = 'Enter the code from the email.';
      input.focus();
      return;
    }
    setFormBusy(form, true);
    try {
      const data = await api('POST', '/sessions/verify', { email, code });
      const body = $('login-body');
      $('login-title').textContent = 'Your builds';
      const ids = (data && (data.runs || data.run_ids)) || null;
      if (state.caps.listRuns) await showRunList(body);
      else if (Array.isArray(ids) && ids.length)
        renderRunList(
          body,
          ids.map((r) => (typeof r === 'string' ? { run_id: r } : r)),
        );
      else body.replaceChildren(h('p', {}, 'You are signed in.'));
    } catch (err) {
      setFormBusy(form, false);
      msg.textContent = err instanceof ApiError ? err.message : 'That did not work. Please try again.';
      input.focus();
    }
  });
  return form;
}

async function showRunList(body) {
  try {
    const data = await api('GET', '/build-runs');
    renderRunList(body, data.runs || data.items || []);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      // No session in this browser yet: sign in with the email given for a build.
      $('login-title').textContent = 'Continue on another device';
      body.replaceChildren(loginStart());
      /** @type {HTMLElement|null} */ (body.querySelector('input, button'))?.focus();
      return;
    }
    body.replaceChildren(
      h('p', { class: 'form-error' }, err instanceof ApiError ? err.message : 'Could not load your builds.'),
    );
  }
}

function renderRunList(body, runs) {
  const items = runs.map((r) => {
    const label = r.scope?.title || r.title || 'Untitled build';
    const when = r.updated_at || r.created_at;
    return h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: 'run-item',
          'data-run': r.run_id,
          onclick: () => {
            /** @type {HTMLDialogElement} */ ($('login-dialog')).close();
            void loadRun(r.run_id);
          },
        },
        h('span', { class: 'run-title' }, label),
        h(
          'span',
          { class: 'run-meta' },
          [r.status_message || r.phase, when ? new Date(when).toLocaleDateString() : '']
            .filter(Boolean)
            .join(' · '),
        ),
      ),
    );
  });
  body.replaceChildren(
    runs.length ? h('ul', { class: 'run-list' }, items) : h('p', {}, 'No builds yet.'),
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onclick: () => {
            body.replaceChildren(loginStart());
            $('login-title').textContent = 'Continue on another device';
            /** @type {HTMLElement|null} */
            (body.querySelector('input,button'))?.focus();
          },
        },
        'Sign in with email',
      ),
    ),
  );
}

// ---------------------------------------------------------------- start

async function main() {
  const form = /** @type {HTMLFormElement} */ ($('composer'));
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  form.addEventListener('submit', onSend);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener('input', autoGrow);
  $('btn-new').addEventListener('click', newBuild);
  $('btn-my-builds').addEventListener('click', () => openLogin('runs'));
  const caps = loadCapabilities();
  let stored = null;
  try {
    stored = localStorage.getItem(RUN_KEY);
  } catch {
    stored = null;
  }
  await caps;
  const params = new URLSearchParams(window.location.search);
  const returned = params.get('run_id');
  const checkout = params.get('checkout');
  if (returned) {
    history.replaceState(null, '', window.location.pathname);
    if (/^run_[a-z2-7]{26}$/.test(returned)) stored = returned;
  }
  if (stored && /^run_[a-z2-7]{26}$/.test(stored)) {
    await loadRun(stored);
    if (returned && checkout === 'success' && state.run && state.run.phase === 'quoted')
      statusLine('Thank you. The payment is being confirmed; the build starts as soon as it is.');
    else if (returned && checkout === 'cancelled' && state.run && state.run.phase === 'quoted')
      statusLine('The payment was cancelled. Nothing was charged. You can pay or request approval below.');
  } else {
    welcome();
    updateComposer();
  }
  document.body.dataset.ready = 'true';
  if (!input.disabled && !state.quoteCard) input.focus();
}

void main();
