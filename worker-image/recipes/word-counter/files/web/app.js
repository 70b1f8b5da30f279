// Word counter: the browser version of the command-line tool (same rules).

(() => {
  const WORD_CHAR = /[\p{L}\p{Nd}]/u;

  function analyze(input, wpm = 200) {
    const text = input.replace(/\r\n/g, '\n');
    const words = text.split(/\s+/u).filter((w) => WORD_CHAR.test(w)).length;
    const characters = [...text].length;
    const noSpaces = [...text].filter((c) => !/\s/u.test(c)).length;
    const sentences = text.split(/[.!?…]/u).filter((s) => WORD_CHAR.test(s)).length;
    let paragraphs = 0;
    let lines = 0;
    let inPara = false;
    for (const line of text.split('\n')) {
      if (line.trim() === '') {
        inPara = false;
        continue;
      }
      lines++;
      if (!inPara) {
        paragraphs++;
        inPara = true;
      }
    }
    return { words, characters, noSpaces, sentences, paragraphs, lines, minutes: Math.ceil(words / wpm) };
  }

  const $ = (id) => document.getElementById(id);
  const text = $('text');
  const number = new Intl.NumberFormat();

  function update() {
    const s = analyze(text.value);
    $('words').textContent = number.format(s.words);
    $('words-label').textContent = s.words === 1 ? 'word' : 'words';
    $('characters').textContent = number.format(s.characters);
    $('characters-no-spaces').textContent = number.format(s.noSpaces);
    $('sentences').textContent = number.format(s.sentences);
    $('paragraphs').textContent = number.format(s.paragraphs);
    $('lines').textContent = number.format(s.lines);
    $('reading').textContent = `${s.minutes} min`;
  }

  text.addEventListener('input', update);
  $('clear').addEventListener('click', () => {
    text.value = '';
    update();
    text.focus();
  });
  update();
})();
