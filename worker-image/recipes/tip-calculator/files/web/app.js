// Tip calculator: the browser version of the command-line tool (amounts are whole cents).

(() => {
  function validGrouping(whole) {
    const hasComma = whole.includes(',');
    const hasDot = whole.includes('.');
    if (hasComma && hasDot) return false;
    if (!hasComma && !hasDot) return true;
    const groups = whole.split(hasComma ? ',' : '.');
    if (groups[0].length < 1 || groups[0].length > 3) return false;
    return groups.slice(1).every((g) => g.length === 3);
  }

  /** "84.50", "84,50", "$1,234.56", "1.234,56" -> cents, or null. */
  function parseAmount(text) {
    const clean = text.trim().replace(/[\s\u00a0'$€£¥₹]/g, '');
    if (!/^[0-9.,]+$/.test(clean)) return null;
    const dot = clean.lastIndexOf('.');
    const comma = clean.lastIndexOf(',');
    const count = (ch) => clean.split(ch).length - 1;
    let decimal = -1;
    if (dot >= 0 && comma >= 0) decimal = Math.max(dot, comma);
    else if (dot >= 0 && count('.') === 1 && clean.length - dot - 1 !== 3) decimal = dot;
    else if (comma >= 0 && count(',') === 1 && clean.length - comma - 1 !== 3) decimal = comma;
    let whole = clean;
    let frac = '';
    if (decimal >= 0) {
      whole = clean.slice(0, decimal);
      frac = clean.slice(decimal + 1);
    }
    if (/[.,]/.test(frac) || !validGrouping(whole)) return null;
    whole = whole.replace(/[.,]/g, '');
    if (whole.length > 12 || (whole === '' && frac === '') || frac.length > 2) return null;
    return Number(whole || '0') * 100 + Number(`${frac}00`.slice(0, 2));
  }

  const ceilDiv = (a, b) => Math.floor((a + b - 1) / b);

  function calculate(bill, percent, people, roundUp) {
    let tip = Math.round((bill * percent) / 100);
    let total = bill + tip;
    let per = ceilDiv(total, people);
    if (roundUp) {
      per = ceilDiv(per, 100) * 100;
      total = per * people;
      tip = total - bill;
    }
    return { tip, total, per };
  }

  const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const fmt = (cents) => money.format(cents / 100);

  const $ = (id) => document.getElementById(id);
  const bill = $('bill');
  const percent = $('percent');
  const people = $('people');
  const round = $('round');
  const presets = document.querySelectorAll('#presets button');

  function update() {
    const cents = bill.value.trim() === '' ? 0 : parseAmount(bill.value);
    const pct = Number(percent.value);
    const n = Math.floor(Number(people.value));
    let error = '';
    if (cents === null) error = 'Enter an amount such as 84.50.';
    else if (!Number.isFinite(pct) || pct < 0 || pct > 100) error = 'The tip must be between 0 and 100%.';
    else if (!Number.isFinite(n) || n < 1 || n > 1000)
      error = 'The number of people must be between 1 and 1000.';
    $('bill-error').textContent = error;
    bill.setAttribute('aria-invalid', cents === null ? 'true' : 'false');
    presets.forEach((b) => {
      b.setAttribute('aria-pressed', String(Number(b.dataset.percent) === pct));
    });
    if (error) return;
    const r = calculate(cents, pct, n, round.checked);
    $('out-bill').textContent = fmt(cents);
    $('out-tip-label').textContent = `Tip (${pct}%)`;
    $('out-tip').textContent = fmt(r.tip);
    $('out-total').textContent = fmt(r.total);
    $('each-label').textContent = n > 1 ? `Each of ${n} people pays` : 'Total to pay';
    $('big').textContent = fmt(n > 1 ? r.per : r.total);
  }

  presets.forEach((b) => {
    b.addEventListener('click', () => {
      percent.value = b.dataset.percent;
      update();
    });
  });
  for (const el of [bill, percent, people]) el.addEventListener('input', update);
  round.addEventListener('change', update);
  $('form').addEventListener('submit', (e) => e.preventDefault());
  update();
})();
