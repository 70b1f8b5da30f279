// Checklist: the browser version of the command-line tool. The list is kept in localStorage on this device.

(() => {
  const KEY = `checklist:v1:${location.pathname}`;
  const MAX_ITEMS = 1000;
  const MAX_TEXT = 500;

  const $ = (id) => document.getElementById(id);
  const list = $('items');
  const input = $('new-item');
  let items = [];
  let persistent = true;

  function load() {
    try {
      const parsed = JSON.parse(localStorage.getItem(KEY) || '[]');
      if (Array.isArray(parsed)) {
        items = parsed
          .filter((it) => it && typeof it.text === 'string')
          .map((it) => ({ text: it.text.slice(0, MAX_TEXT), done: it.done === true }));
      }
    } catch {
      persistent = false;
      $('storage-note').textContent =
        'This browser does not allow saving, so the list is kept only until you close the page.';
    }
  }

  function save() {
    if (!persistent) return;
    try {
      localStorage.setItem(KEY, JSON.stringify(items));
    } catch {
      $('storage-note').textContent = 'The list could not be saved on this device.';
    }
  }

  function render() {
    const rows = items.map((item, i) => {
      const li = document.createElement('li');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.id = `item-${i}`;
      box.checked = item.done;
      box.addEventListener('change', () => {
        item.done = box.checked;
        save();
        render();
      });
      const label = document.createElement('label');
      label.htmlFor = box.id;
      label.className = item.done ? 'grow done' : 'grow';
      label.textContent = item.text;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', `Remove ${item.text}`);
      remove.addEventListener('click', () => {
        items.splice(i, 1);
        save();
        render();
        input.focus();
      });
      li.append(box, label, remove);
      return li;
    });
    list.replaceChildren(...rows);
    const done = items.filter((it) => it.done).length;
    $('summary').textContent =
      items.length === 0
        ? 'The list is empty. Add your first item above.'
        : `${done} of ${items.length} done`;
    $('clear-done').disabled = done === 0;
  }

  $('add-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.replace(/\s+/g, ' ').trim();
    let error = '';
    if (!text) error = 'Type the item first.';
    else if (items.length >= MAX_ITEMS) error = `The list is full (${MAX_ITEMS} items).`;
    $('error').textContent = error;
    if (error) return;
    items.push({ text: text.slice(0, MAX_TEXT), done: false });
    input.value = '';
    save();
    render();
  });

  $('clear-done').addEventListener('click', () => {
    items = items.filter((it) => !it.done);
    save();
    render();
  });

  load();
  render();
})();
