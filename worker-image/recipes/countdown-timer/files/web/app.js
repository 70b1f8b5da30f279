// Countdown timer: the browser version of the command-line tool. Keeps time against the clock, so a busy
// or backgrounded tab does not drift.

(() => {
  function formatRemaining(ms) {
    const total = Math.max(0, Math.ceil(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor(total / 60) % 60;
    const s = total % 60;
    const pad = (n) => String(n).padStart(2, '0');
    return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
  }

  const $ = (id) => document.getElementById(id);
  const minutes = $('minutes');
  const seconds = $('seconds');
  const display = $('display');
  const startButton = $('start');
  const progress = $('progress');
  const announce = $('announce');
  const baseTitle = document.title;

  let total = 0; // ms
  let remaining = 0; // ms, while paused
  let deadline = 0; // epoch ms, while running
  let timer = 0;
  let audio = null;

  function readInput() {
    const m = Math.floor(Number(minutes.value || 0));
    const s = Math.floor(Number(seconds.value || 0));
    if (!(m >= 0 && s >= 0 && s <= 59) || m * 60 + s <= 0 || m * 60 + s > 24 * 3600) {
      $('error').textContent = 'Choose a time between 1 second and 24 hours.';
      return 0;
    }
    $('error').textContent = '';
    return (m * 60 + s) * 1000;
  }

  function show(ms) {
    display.textContent = formatRemaining(ms);
    progress.value = total > 0 ? 1 - ms / total : 0;
    document.title = timer ? `${formatRemaining(ms)} · ${baseTitle}` : baseTitle;
  }

  function beep() {
    try {
      audio = audio || new AudioContext();
      for (let i = 0; i < 3; i++) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain).connect(audio.destination);
        const at = audio.currentTime + i * 0.4;
        osc.start(at);
        osc.stop(at + 0.25);
      }
    } catch {
      // Sound is optional.
    }
  }

  function tick() {
    const left = deadline - Date.now();
    if (left <= 0) {
      stop();
      remaining = 0;
      show(0);
      announce.textContent = 'Time is up!';
      document.title = `Time is up! · ${baseTitle}`;
      startButton.textContent = 'Start';
      beep();
      return;
    }
    show(left);
  }

  function stop() {
    clearInterval(timer);
    timer = 0;
  }

  function start() {
    if (timer) {
      // Pause.
      remaining = deadline - Date.now();
      stop();
      startButton.textContent = 'Resume';
      show(remaining);
      return;
    }
    if (remaining <= 0) {
      total = readInput();
      if (!total) return;
      remaining = total;
    }
    if (!audio && typeof AudioContext === 'function') audio = new AudioContext();
    announce.textContent = '';
    deadline = Date.now() + remaining;
    timer = setInterval(tick, 250);
    startButton.textContent = 'Pause';
    tick();
  }

  function reset() {
    stop();
    total = readInput();
    remaining = 0;
    announce.textContent = '';
    startButton.textContent = 'Start';
    show(total);
  }

  document.querySelectorAll('#presets button').forEach((b) => {
    b.addEventListener('click', () => {
      const s = Number(b.dataset.seconds);
      minutes.value = String(Math.floor(s / 60));
      seconds.value = String(s % 60);
      reset();
    });
  });
  for (const el of [minutes, seconds]) el.addEventListener('input', () => !timer && reset());
  startButton.addEventListener('click', start);
  $('reset').addEventListener('click', reset);
  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    start();
  });
  reset();
})();
