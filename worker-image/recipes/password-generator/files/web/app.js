// Password generator: the browser version of the command-line tool, using crypto.getRandomValues.

(() => {
  const SETS = {
    lower: 'abcdefghijklmnopqrstuvwxyz',
    upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    digits: '0123456789',
    symbols: '!@#$%^&*()-_=+[]{};:,.?/',
  };
  const AMBIGUOUS = 'Il1O0o';

  /** Uniform random integer in [0, n) without modulo bias. */
  function randIndex(n) {
    const limit = Math.floor(0x100000000 / n) * n;
    const buf = new Uint32Array(1);
    for (;;) {
      crypto.getRandomValues(buf);
      if (buf[0] < limit) return buf[0] % n;
    }
  }

  function generate(length, sets) {
    const all = sets.join('');
    const out = sets.map((s) => s[randIndex(s.length)]);
    while (out.length < length) out.push(all[randIndex(all.length)]);
    for (let i = out.length - 1; i > 0; i--) {
      const j = randIndex(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out.join('');
  }

  const $ = (id) => document.getElementById(id);
  const list = $('passwords');
  const status = $('copy-status');

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = 'Copied to the clipboard.';
    } catch {
      status.textContent = 'Copying is not available here; select the password and copy it.';
    }
  }

  function render() {
    const length = Math.floor(Number($('length').value));
    const count = Math.floor(Number($('count').value));
    const sets = [];
    for (const key of Object.keys(SETS)) {
      if (!$(key).checked) continue;
      let set = SETS[key];
      if ($('ambiguous').checked) set = [...set].filter((c) => !AMBIGUOUS.includes(c)).join('');
      sets.push(set);
    }
    let error = '';
    if (sets.length === 0) error = 'Choose at least one kind of character.';
    else if (!(length >= 4 && length <= 256)) error = 'The length must be between 4 and 256.';
    else if (length < sets.length) error = `The length must be at least ${sets.length}.`;
    else if (!(count >= 1 && count <= 100)) error = 'How many must be between 1 and 100.';
    $('error').textContent = error;
    status.textContent = '';
    if (error) {
      list.replaceChildren();
      $('strength').textContent = '';
      return;
    }
    const bits = Math.round(length * Math.log2(sets.join('').length));
    const word = bits >= 100 ? 'very strong' : bits >= 70 ? 'strong' : bits >= 50 ? 'fair' : 'weak';
    $('strength').textContent = `Strength: about ${bits} bits (${word}).`;
    const items = [];
    for (let i = 0; i < count; i++) {
      const pw = generate(length, sets);
      const li = document.createElement('li');
      const span = document.createElement('span');
      span.className = 'grow';
      span.textContent = pw;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Copy';
      button.setAttribute('aria-label', `Copy password ${i + 1}`);
      button.addEventListener('click', () => copy(pw));
      li.append(span, button);
      items.push(li);
    }
    list.replaceChildren(...items);
  }

  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    render();
  });
  for (const id of ['length', 'count', 'lower', 'upper', 'digits', 'symbols', 'ambiguous']) {
    $(id).addEventListener('change', render);
  }
  render();
})();
