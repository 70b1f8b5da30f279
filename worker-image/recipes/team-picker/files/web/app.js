// Random team picker: the browser version of the command-line tool, using crypto.getRandomValues.

(() => {
  function randIndex(n) {
    const limit = Math.floor(0x100000000 / n) * n;
    const buf = new Uint32Array(1);
    for (;;) {
      crypto.getRandomValues(buf);
      if (buf[0] < limit) return buf[0] % n;
    }
  }

  function parseNames(text) {
    return text
      .split(/[,\n;]/)
      .map((n) => n.replace(/\s+/g, ' ').trim())
      .filter(Boolean);
  }

  function shuffle(names) {
    const out = names.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = randIndex(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  function makeTeams(names, n) {
    const teams = Array.from({ length: n }, () => []);
    shuffle(names).forEach((name, i) => {
      teams[i % n].push(name);
    });
    return teams;
  }

  const $ = (id) => document.getElementById(id);
  const names = $('names');
  const number = $('number');
  const result = $('result');

  function mode() {
    return $('mode-pick').checked ? 'pick' : 'teams';
  }

  function refresh() {
    const count = parseNames(names.value).length;
    $('name-count').textContent = `${count} ${count === 1 ? 'name' : 'names'}`;
    $('number-label').textContent = mode() === 'pick' ? 'Number of winners' : 'Number of teams';
    $('go').textContent = mode() === 'pick' ? 'Draw' : 'Shuffle';
  }

  function go() {
    const list = parseNames(names.value);
    const n = Math.floor(Number(number.value));
    let error = '';
    if (list.length === 0) error = 'Add some names first.';
    else if (mode() === 'teams' && !(n >= 2 && n <= list.length))
      error = `Choose between 2 and ${Math.max(2, list.length)} teams.`;
    else if (mode() === 'pick' && !(n >= 1 && n <= list.length))
      error = `Choose between 1 and ${list.length} winners.`;
    $('error').textContent = error;
    if (error) {
      result.replaceChildren();
      return;
    }
    const blocks = [];
    if (mode() === 'pick') {
      const winners = shuffle(list).slice(0, n);
      const p = document.createElement('p');
      p.className = 'big';
      p.textContent = winners.join(', ');
      blocks.push(p);
    } else {
      makeTeams(list, n).forEach((team, i) => {
        const h = document.createElement('h3');
        h.textContent = `Team ${i + 1}`;
        const ul = document.createElement('ul');
        ul.className = 'list';
        for (const name of team) {
          const li = document.createElement('li');
          li.textContent = name;
          ul.append(li);
        }
        blocks.push(h, ul);
      });
    }
    result.replaceChildren(...blocks);
  }

  names.addEventListener('input', refresh);
  for (const id of ['mode-teams', 'mode-pick']) {
    $(id).addEventListener('change', () => {
      number.value = mode() === 'pick' ? '1' : '2';
      refresh();
    });
  }
  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    go();
  });
  refresh();
})();
