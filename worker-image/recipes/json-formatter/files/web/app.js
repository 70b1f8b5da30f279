// JSON formatter: the browser version of the command-line tool. Valid input is re-indented token by token,
// so key order and number spelling are kept exactly unless keys are sorted.

(() => {
  function position(text, offset) {
    let line = 1;
    let col = 1;
    for (const ch of text.slice(0, offset)) {
      if (ch === '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    return { line, col };
  }

  /** Parses and returns null, or a readable error with line and column when the engine tells. */
  function validate(text) {
    if (text.trim() === '') return 'The input is empty.';
    try {
      JSON.parse(text);
      return null;
    } catch (err) {
      const msg = String(err.message);
      const lc = msg.match(/line (\d+) column (\d+)/);
      if (lc) return `Invalid JSON at line ${lc[1]}, column ${lc[2]}: ${msg}`;
      const pos = msg.match(/position (\d+)/);
      if (pos) {
        const p = position(text, Number(pos[1]));
        return `Invalid JSON at line ${p.line}, column ${p.col}: ${msg}`;
      }
      return `Invalid JSON: ${msg}`;
    }
  }

  /** Re-indents already valid JSON text without changing any value. */
  function reindent(text, indent) {
    let out = '';
    let depth = 0;
    let i = 0;
    const nl = () => (indent === '' ? '' : `\n${indent.repeat(depth)}`);
    while (i < text.length) {
      const ch = text[i];
      if (ch === '"') {
        let j = i + 1;
        while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
        out += text.slice(i, j + 1);
        i = j + 1;
        continue;
      }
      if (/\s/.test(ch)) {
        i++;
        continue;
      }
      if (ch === '{' || ch === '[') {
        const close = ch === '{' ? '}' : ']';
        let j = i + 1;
        while (/\s/.test(text[j])) j++;
        if (text[j] === close) {
          out += ch + close;
          i = j + 1;
          continue;
        }
        depth++;
        out += ch + nl();
      } else if (ch === '}' || ch === ']') {
        depth--;
        out += nl() + ch;
      } else if (ch === ',') {
        out += `,${nl()}`;
      } else if (ch === ':') {
        out += indent === '' ? ':' : ': ';
      } else {
        out += ch;
      }
      i++;
    }
    return out;
  }

  function sortKeys(value) {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value && typeof value === 'object') {
      const sorted = {};
      for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key]);
      return sorted;
    }
    return value;
  }

  const $ = (id) => document.getElementById(id);
  const input = $('input');
  const output = $('output');
  const status = $('status');

  function format() {
    const text = input.value;
    const error = validate(text);
    if (error) {
      status.className = 'error';
      status.textContent = error;
      output.textContent = '';
      return;
    }
    const choice = $('indent').value;
    const indent = choice === 'min' ? '' : choice === 'tab' ? '\t' : ' '.repeat(Number(choice));
    output.textContent = $('sort').checked
      ? JSON.stringify(sortKeys(JSON.parse(text)), null, indent)
      : reindent(text, indent);
    status.className = 'ok';
    status.textContent = 'Valid JSON.';
  }

  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    format();
  });
  $('indent').addEventListener('change', () => input.value.trim() && format());
  $('sort').addEventListener('change', () => input.value.trim() && format());
  $('clear').addEventListener('click', () => {
    input.value = '';
    output.textContent = '';
    status.textContent = '';
    input.focus();
  });
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
