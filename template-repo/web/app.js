// Text case converter: the browser version of the command-line tool.

(() => {
  const words = (text) => text.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const capitalize = (w) => (w ? w.charAt(0).toUpperCase() + w.slice(1) : w);

  function convert(text, style) {
    switch (style) {
      case 'upper':
        return text.toUpperCase();
      case 'lower':
        return text.toLowerCase();
      case 'title':
        return text.replace(/\S+/g, (w) => capitalize(w.toLowerCase()));
      case 'sentence': {
        let start = true;
        let out = '';
        for (const ch of text.toLowerCase()) {
          if (start && /\p{L}/u.test(ch)) {
            out += ch.toUpperCase();
            start = false;
          } else {
            out += ch;
          }
          if (ch === '.' || ch === '!' || ch === '?') start = true;
        }
        return out;
      }
      case 'slug':
        return words(text.toLowerCase()).join('-');
      case 'snake':
        return words(text.toLowerCase()).join('_');
      case 'camel':
        return words(text.toLowerCase())
          .map((w, i) => (i === 0 ? w : capitalize(w)))
          .join('');
      default:
        return text;
    }
  }

  const $ = (id) => document.getElementById(id);
  const text = $('text');
  const style = $('style');
  const result = $('result');
  const status = $('copy-status');

  function update() {
    result.textContent = convert(text.value, style.value);
    status.textContent = '';
  }

  async function copy() {
    try {
      await navigator.clipboard.writeText(result.textContent);
      status.textContent = 'Copied.';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(result);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = 'Selected — press Ctrl+C or Cmd+C to copy.';
    }
  }

  text.addEventListener('input', update);
  style.addEventListener('change', update);
  $('copy').addEventListener('click', copy);
  update();
})();
