// Unit converter: the browser version of the command-line tool (same units and factors).

(() => {
  // [symbol, name, factor to the category's base unit]
  const CATEGORIES = {
    length: [
      ['mm', 'millimetre', 0.001],
      ['cm', 'centimetre', 0.01],
      ['m', 'metre', 1],
      ['km', 'kilometre', 1000],
      ['in', 'inch', 0.0254],
      ['ft', 'foot', 0.3048],
      ['yd', 'yard', 0.9144],
      ['mi', 'mile', 1609.344],
      ['nmi', 'nautical mile', 1852],
    ],
    weight: [
      ['mg', 'milligram', 1e-6],
      ['g', 'gram', 0.001],
      ['kg', 'kilogram', 1],
      ['t', 'tonne', 1000],
      ['oz', 'ounce', 0.028349523125],
      ['lb', 'pound', 0.45359237],
      ['st', 'stone', 6.35029318],
    ],
    temperature: [
      ['°C', 'Celsius', 0],
      ['°F', 'Fahrenheit', 0],
      ['K', 'kelvin', 0],
    ],
    volume: [
      ['ml', 'millilitre', 0.001],
      ['cl', 'centilitre', 0.01],
      ['l', 'litre', 1],
      ['m3', 'cubic metre', 1000],
      ['tsp', 'teaspoon', 0.00492892159375],
      ['tbsp', 'tablespoon', 0.01478676478125],
      ['fl oz', 'US fluid ounce', 0.0295735295625],
      ['cup', 'US cup', 0.2365882365],
      ['pt', 'US pint', 0.473176473],
      ['qt', 'US quart', 0.946352946],
      ['gal', 'US gallon', 3.785411784],
    ],
    speed: [
      ['m/s', 'metres per second', 1],
      ['km/h', 'kilometres per hour', 1 / 3.6],
      ['mph', 'miles per hour', 0.44704],
      ['kn', 'knot', 1852 / 3600],
      ['ft/s', 'feet per second', 0.3048],
    ],
  };
  const DEFAULTS = {
    length: ['km', 'mi'],
    weight: ['kg', 'lb'],
    temperature: ['°C', '°F'],
    volume: ['l', 'gal'],
    speed: ['km/h', 'mph'],
  };

  function toCelsius(v, sym) {
    if (sym === '°F') return ((v - 32) * 5) / 9;
    if (sym === 'K') return v - 273.15;
    return v;
  }
  function fromCelsius(c, sym) {
    if (sym === '°F') return (c * 9) / 5 + 32;
    if (sym === 'K') return c + 273.15;
    return c;
  }

  function convert(value, category, from, to) {
    const units = CATEGORIES[category];
    const f = units.find((u) => u[0] === from);
    const t = units.find((u) => u[0] === to);
    if (category === 'temperature') {
      const c = toCelsius(value, from);
      if (c < -273.15 - 1e-9) throw new Error('That temperature is below absolute zero.');
      return fromCelsius(c, to);
    }
    return (value * f[2]) / t[2];
  }

  /** Six significant digits, no exponent for everyday values. */
  function formatNumber(v) {
    if (!Number.isFinite(v) || v === 0) return '0';
    const r = Number(v.toPrecision(6));
    return r === 0 ? '0' : r.toLocaleString(undefined, { maximumFractionDigits: 12, useGrouping: false });
  }

  const $ = (id) => document.getElementById(id);
  const category = $('category');
  const value = $('value');
  const from = $('from');
  const to = $('to');

  for (const name of Object.keys(CATEGORIES)) {
    category.add(new Option(name.charAt(0).toUpperCase() + name.slice(1), name));
  }

  function fillUnits() {
    const units = CATEGORIES[category.value];
    for (const select of [from, to]) {
      select.replaceChildren(...units.map(([sym, name]) => new Option(`${name} (${sym})`, sym)));
    }
    [from.value, to.value] = DEFAULTS[category.value];
  }

  function update() {
    const text = value.value.trim().replace(',', '.');
    const v = Number(text);
    $('value-error').textContent = '';
    if (text === '' || !Number.isFinite(v)) {
      $('value-error').textContent = 'Enter a number, for example 12.5.';
      $('result').textContent = '';
      $('formula').textContent = '';
      return;
    }
    try {
      const r = convert(v, category.value, from.value, to.value);
      $('result').textContent = `${formatNumber(r)} ${to.value}`;
      $('formula').textContent = `${formatNumber(v)} ${from.value} = ${formatNumber(r)} ${to.value}`;
    } catch (err) {
      $('value-error').textContent = err.message;
      $('result').textContent = '';
      $('formula').textContent = '';
    }
  }

  category.addEventListener('change', () => {
    fillUnits();
    update();
  });
  for (const el of [from, to]) el.addEventListener('change', update);
  value.addEventListener('input', update);
  $('swap').addEventListener('click', () => {
    [from.value, to.value] = [to.value, from.value];
    update();
  });
  $('form').addEventListener('submit', (e) => e.preventDefault());
  fillUnits();
  update();
})();
