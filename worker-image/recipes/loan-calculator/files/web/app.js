// Loan calculator: the browser version of the command-line tool (amounts in whole cents).

(() => {
  function calculate(amount, annualRate, months) {
    const r = annualRate / 100 / 12;
    const payment = r === 0 ? amount / months : (amount * r) / (1 - (1 + r) ** -months);
    const pay = Math.round(payment);
    const loan = { payment: pay, total: 0, interest: 0, schedule: [] };
    let balance = amount;
    let year = { paid: 0, interest: 0, principal: 0 };
    for (let m = 1; m <= months && balance > 0; m++) {
      const interest = Math.round(balance * r);
      let principal = pay - interest;
      if (principal > balance || m === months) principal = balance;
      balance -= principal;
      year.paid += principal + interest;
      year.interest += interest;
      year.principal += principal;
      loan.total += principal + interest;
      loan.interest += interest;
      if (m % 12 === 0 || m === months || balance === 0) {
        loan.schedule.push({ ...year, year: Math.floor((m + 11) / 12), balance });
        year = { paid: 0, interest: 0, principal: 0 };
      }
    }
    return loan;
  }

  const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const fmt = (cents) => money.format(cents / 100);

  const $ = (id) => document.getElementById(id);
  const amount = $('amount');
  const rate = $('rate');
  const years = $('years');

  function update() {
    const a = Number(amount.value.replace(/[\s,_$€£]/g, ''));
    const r = Number(rate.value);
    const y = Number(years.value);
    let error = '';
    if (!Number.isFinite(a) || a <= 0 || a > 1e11) error = 'Enter the amount borrowed, for example 200000.';
    else if (rate.value === '' || !Number.isFinite(r) || r < 0 || r > 100)
      error = 'The interest rate must be between 0 and 100%.';
    else if (!Number.isFinite(y) || y <= 0 || y > 50) error = 'The term must be between 1 and 50 years.';
    $('error').textContent = error;
    const body = $('schedule');
    if (error) {
      for (const id of ['payment', 'count', 'total', 'interest']) $(id).textContent = '';
      body.replaceChildren();
      return;
    }
    const months = Math.round(y * 12);
    const loan = calculate(Math.round(a * 100), r, months);
    $('payment').textContent = fmt(loan.payment);
    $('count').textContent = String(months);
    $('total').textContent = fmt(loan.total);
    $('interest').textContent = fmt(loan.interest);
    body.replaceChildren(
      ...loan.schedule.map((row) => {
        const tr = document.createElement('tr');
        for (const v of [
          String(row.year),
          fmt(row.paid),
          fmt(row.interest),
          fmt(row.principal),
          fmt(row.balance),
        ]) {
          const td = document.createElement('td');
          td.textContent = v;
          tr.append(td);
        }
        return tr;
      }),
    );
  }

  for (const el of [amount, rate, years]) el.addEventListener('input', update);
  $('form').addEventListener('submit', (e) => e.preventDefault());
  update();
})();
