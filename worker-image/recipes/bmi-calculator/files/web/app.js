// BMI calculator: the browser version of the command-line tool.

(() => {
  const LB_PER_KG = 2.2046226218;

  function category(bmi) {
    if (bmi < 18.5) return 'Underweight';
    if (bmi < 25) return 'Healthy weight';
    if (bmi < 30) return 'Overweight';
    return 'Obesity';
  }

  const $ = (id) => document.getElementById(id);
  const round1 = (v) => (Math.round(v * 10) / 10).toFixed(1);

  function update() {
    const imperial = $('imperial').checked;
    $('weight-label').textContent = imperial ? 'Weight (lb)' : 'Weight (kg)';
    $('cm-field').hidden = imperial;
    $('ft-field').hidden = !imperial;
    $('in-field').hidden = !imperial;

    const weight = Number($('weight').value);
    const kg = imperial ? weight / LB_PER_KG : weight;
    const cm = imperial
      ? (Number($('ft').value) * 12 + Number($('in').value || 0)) * 2.54
      : Number($('cm').value);
    let error = '';
    if (!(kg >= 2 && kg <= 650)) error = 'Enter a weight between 2 and 650 kg (4 and 1400 lb).';
    else if (!(cm >= 40 && cm <= 280))
      error = 'Enter a height between 40 and 280 cm (1 ft 4 in and 9 ft 2 in).';
    $('error').textContent = error;
    if (error) {
      for (const id of ['bmi', 'category', 'range']) $(id).textContent = '';
      return;
    }
    const m = cm / 100;
    const bmi = kg / (m * m);
    const factor = imperial ? LB_PER_KG : 1;
    $('bmi').textContent = round1(bmi);
    $('category').textContent = category(bmi);
    $('range').textContent =
      `${round1(18.5 * m * m * factor)}–${round1(24.9 * m * m * factor)} ${imperial ? 'lb' : 'kg'}`;
  }

  for (const id of ['weight', 'cm', 'ft', 'in']) $(id).addEventListener('input', update);
  for (const id of ['metric', 'imperial']) $(id).addEventListener('change', update);
  $('form').addEventListener('submit', (e) => e.preventDefault());
  update();
})();
