// Base64 encoder and decoder: the browser version of the command-line tool (text is UTF-8).

(() => {
  function encode(text, url, padding) {
    const bytes = new TextEncoder().encode(text);
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    let out = btoa(bin);
    if (url) out = out.replace(/\+/g, '-').replace(/\//g, '_');
    if (!padding) out = out.replace(/=+$/, '');
    return out;
  }

  function decode(text) {
    let clean = text.replace(/\s+/g, '');
    if (clean === '') throw new Error('There is nothing to decode.');
    const unpadded = clean.replace(/=+$/, '');
    const pad = clean.length - unpadded.length;
    if (pad > 0 && (clean.length % 4 !== 0 || pad > 2))
      throw new Error('The input is not valid Base64 (wrong padding).');
    const bad = unpadded.search(/[^A-Za-z0-9+/\-_]/);
    if (bad >= 0) throw new Error(`The input is not valid Base64 (problem at character ${bad + 1}).`);
    if (unpadded.length % 4 === 1) throw new Error('The input is not valid Base64 (wrong length).');
    clean = unpadded.replace(/-/g, '+').replace(/_/g, '/');
    clean += '='.repeat((4 - (clean.length % 4)) % 4);
    const bin = atob(clean);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new Error('The decoded data is not text (it may be a file or an image).');
    }
  }

  const $ = (id) => document.getElementById(id);
  const input = $('input');
  const output = $('output');
  const status = $('status');

  function run(mode) {
    try {
      output.textContent =
        mode === 'encode' ? encode(input.value, $('url').checked, !$('nopad').checked) : decode(input.value);
      status.className = 'ok';
      status.textContent = mode === 'encode' ? 'Encoded.' : 'Decoded.';
    } catch (err) {
      output.textContent = '';
      status.className = 'error';
      status.textContent = err.message;
    }
  }

  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    run('encode');
  });
  $('decode').addEventListener('click', () => run('decode'));
  $('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(output.textContent);
      status.className = 'ok';
      status.textContent = 'Copied to the clipboard.';
    } catch {
      status.className = 'muted';
      status.textContent = 'Copying is not available here; select the result and copy it.';
    }
  });
})();
