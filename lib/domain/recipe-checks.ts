import {
  type AcceptanceCheck,
  type AcceptanceCheckInput,
  AcceptanceChecksSchema,
  checksFor,
} from './acceptance.ts';
import type { ArtifactType } from './build-spec.ts';

/**
 * The acceptance checks every catalog recipe ships (lib/domain/acceptance.ts): what "verified"
 * means for the offline recipe coder's tools. Each recipe has at least two `cli` checks (run on
 * the binary, as its `tool.go` reads its arguments) and two `web` checks (the page addressed by
 * its labels and button names, as a person would), so every artifact type gets at least two that
 * apply. Every check passes on the recipe's own build and fails on the template skeleton
 * (test/template/recipe-checks.test.ts). Deterministic only: random tools are checked by shape
 * (length, character kinds, team sizes), never by a value. Pure: no fs, no AWS.
 *
 * The recipes' optional extras (lib/domain/intake/detect.ts) add no checks: the offline recipe
 * coder builds no extras (its catalog says `buildsExtras: false`), so none is ever quoted.
 */

const cli = (c: Omit<Extract<AcceptanceCheckInput, { kind: 'cli' }>, 'kind'>): AcceptanceCheckInput => ({
  kind: 'cli',
  ...c,
});
const web = (c: Omit<Extract<AcceptanceCheckInput, { kind: 'web' }>, 'kind'>): AcceptanceCheckInput => ({
  kind: 'web',
  ...c,
});
/** A number shown within half a cent (or the given tolerance). */
const num = (value: number, near?: string, tolerance = 0.005) => ({
  value,
  tolerance,
  ...(near ? { near } : {}),
});

const SOURCE: Record<string, AcceptanceCheckInput[]> = {
  'tip-calculator': [
    cli({
      id: 'split-four-ways',
      title: 'A 86.40 bill with a 20% tip split between 4 people is 25.92 each',
      args: ['--percent', '20', '--people', '4', '86.40'],
      expect: [
        { op: 'number', ...num(25.92, 'Each of 4') },
        { op: 'number', ...num(103.68, 'Total') },
      ],
    }),
    cli({
      id: 'default-tip',
      title: 'A 100.00 bill gets the usual 15% tip: 15.00, 115.00 in total',
      args: ['100'],
      expect: [
        { op: 'number', ...num(15, 'Tip') },
        { op: 'number', ...num(115, 'Total') },
      ],
    }),
    cli({
      id: 'round-up',
      title: 'Rounded up, 57.10 with the tip split between 3 people is 22.00 each',
      args: ['--people', '3', '--round', '57.10'],
      expect: [{ op: 'number', ...num(22, 'Each of 3') }],
    }),
    web({
      id: 'web-split-four-ways',
      title: 'In the web app, a 86.40 bill with a 20% tip split between 4 people is 25.92 each',
      steps: [
        { action: 'fill', label: 'Bill amount', value: '86.40' },
        { action: 'click', role: 'button', name: '20%' },
        { action: 'fill', label: 'Number of people', value: '4' },
      ],
      expect: [
        { type: 'text', text: 'Each of 4 people pays' },
        { type: 'number', ...num(25.92) },
        { type: 'number', ...num(103.68) },
      ],
    }),
    web({
      id: 'web-round-up',
      title: 'In the web app, rounding up splits 57.10 between 3 people as 22.00 each',
      steps: [
        { action: 'fill', label: 'Bill amount', value: '57.10' },
        { action: 'fill', label: 'Number of people', value: '3' },
        { action: 'check', label: 'Round each share up to a whole amount' },
      ],
      expect: [
        { type: 'text', text: 'Each of 3 people pays' },
        { type: 'number', ...num(22) },
        { type: 'number', ...num(66) },
      ],
    }),
  ],
  'unit-converter': [
    cli({
      id: 'km-to-miles',
      title: '10 km is shown as 6.21 miles',
      args: ['10', 'km', 'to', 'mi'],
      expect: [{ op: 'number', ...num(6.21371, 'mi', 0.000005) }],
    }),
    cli({
      id: 'celsius-to-fahrenheit',
      title: '100 °C is shown as 212 °F',
      args: [],
      stdin: '100 c f\n',
      expect: [{ op: 'contains', value: '212 °F' }],
    }),
    cli({
      id: 'kg-to-pounds',
      title: '70 kg is shown as 154.324 lb',
      args: ['70kg', 'to', 'lb'],
      expect: [{ op: 'contains', value: '154.324 lb' }],
    }),
    web({
      id: 'web-km-to-miles',
      title: 'In the web app, 10 km is shown as 6.21 miles',
      steps: [
        { action: 'select', label: 'Measure', option: 'Length' },
        { action: 'select', label: 'From', option: 'kilometre (km)' },
        { action: 'select', label: 'To', option: 'mile (mi)' },
        { action: 'fill', label: 'Value', value: '10' },
      ],
      expect: [{ type: 'text', text: '6.21371 mi' }],
    }),
    web({
      id: 'web-celsius-to-fahrenheit',
      title: 'In the web app, 100 °C is shown as 212 °F',
      steps: [
        { action: 'select', label: 'Measure', option: 'Temperature' },
        { action: 'fill', label: 'Value', value: '100' },
      ],
      expect: [{ type: 'text', text: '212 °F' }],
    }),
  ],
  'loan-calculator': [
    cli({
      id: 'mortgage',
      title: '200,000 at 4.5% a year over 30 years is 1,013.37 a month, 164,813.83 interest in total',
      args: ['--amount', '200000', '--rate', '4.5', '--years', '30'],
      expect: [
        { op: 'number', ...num(1013.37, 'Monthly payment') },
        { op: 'number', ...num(164813.83, 'Total interest') },
      ],
    }),
    cli({
      id: 'schedule',
      title: '15,000 at 6.9% over 5 years is 296.31 a month, with a year-by-year schedule',
      args: ['15000', '6.9', '5', '--schedule'],
      expect: [
        { op: 'number', ...num(296.31, 'Monthly payment') },
        { op: 'contains', value: '5 years (60 payments)' },
        { op: 'matches', pattern: '\\n +5 +[0-9,.]+ +[0-9,.]+ +[0-9,.]+ +0\\.00\\n' },
      ],
    }),
    web({
      id: 'web-car-loan',
      title: 'In the web app, 15,000 at 6.9% over 5 years is 296.31 a month',
      steps: [
        { action: 'fill', label: 'Amount borrowed', value: '15000' },
        { action: 'fill', label: 'Interest rate (% a year)', value: '6.9' },
        { action: 'fill', label: 'Term (years)', value: '5' },
      ],
      expect: [
        { type: 'number', ...num(296.31) },
        { type: 'number', value: 60, tolerance: 0 },
      ],
    }),
    web({
      id: 'web-no-interest',
      title: 'In the web app, 12,000 at 0% over 1 year is 1,000.00 a month with no interest',
      steps: [
        { action: 'fill', label: 'Amount borrowed', value: '12000' },
        { action: 'fill', label: 'Interest rate (% a year)', value: '0' },
        { action: 'fill', label: 'Term (years)', value: '1' },
      ],
      expect: [
        { type: 'number', ...num(1000) },
        { type: 'number', ...num(12000) },
        { type: 'text', text: 'Repayment schedule' },
      ],
    }),
  ],
  'password-generator': [
    cli({
      id: 'length-and-kinds',
      title: 'A 24-character password mixes lower-case and upper-case letters, digits and symbols',
      args: ['--length', '24'],
      expect: [
        { op: 'matches', pattern: '^\\S{24}\\n$' },
        { op: 'matches', pattern: '[a-z]' },
        { op: 'matches', pattern: '[A-Z]' },
        { op: 'matches', pattern: '[0-9]' },
        { op: 'matches', pattern: '[^A-Za-z0-9\\s]' },
      ],
    }),
    cli({
      id: 'several-plain',
      title: 'Three 12-character passwords without symbols or look-alike characters',
      args: ['--count', '3', '--length', '12', '--no-symbols', '--no-ambiguous'],
      expect: [
        {
          op: 'matches',
          pattern:
            '^[A-HJ-NP-Za-km-np-z2-9]{12}\\n[A-HJ-NP-Za-km-np-z2-9]{12}\\n[A-HJ-NP-Za-km-np-z2-9]{12}\\n$',
        },
      ],
    }),
    cli({
      id: 'strength',
      title: 'A 16-character password of every kind is rated about 103 bits strong',
      args: ['--strength'],
      expect: [
        { op: 'matches', pattern: '^\\S{16}\\n' },
        { op: 'contains', value: 'Strength: about 103 bits' },
      ],
    }),
    web({
      id: 'web-length',
      title: 'In the web app, 20-character passwords of every kind are rated 129 bits, very strong',
      steps: [
        { action: 'fill', label: 'Length', value: '20' },
        { action: 'click', role: 'button', name: 'Generate' },
      ],
      expect: [{ type: 'text', text: 'Strength: about 129 bits (very strong).' }],
    }),
    web({
      id: 'web-digits-only',
      title: 'In the web app, an 8-digit code of digits only is rated 27 bits, weak',
      steps: [
        { action: 'check', label: 'Lower-case letters (a–z)', checked: false },
        { action: 'check', label: 'Upper-case letters (A–Z)', checked: false },
        { action: 'check', label: 'Symbols (!@#$…)', checked: false },
        { action: 'fill', label: 'Length', value: '8' },
        { action: 'click', role: 'button', name: 'Generate' },
      ],
      expect: [{ type: 'text', text: 'Strength: about 27 bits (weak).' }],
    }),
  ],
  'word-counter': [
    cli({
      id: 'counts',
      title: '“Hello world. This is a test.” has 6 words, 28 characters and 2 sentences',
      args: [],
      stdin: 'Hello world. This is a test.',
      expect: [
        { op: 'number', value: 6, tolerance: 0, near: 'Words' },
        { op: 'number', value: 28, tolerance: 0, near: 'Characters:' },
        { op: 'number', value: 23, tolerance: 0, near: 'no spaces' },
        { op: 'number', value: 2, tolerance: 0, near: 'Sentences' },
      ],
    }),
    cli({
      id: 'json-reading-time',
      title: 'A 201-word text takes 2 minutes to read, also as JSON',
      args: ['--json'],
      stdin: 'word '.repeat(201),
      expect: [
        { op: 'contains', value: '"words": 201' },
        { op: 'contains', value: '"reading_minutes": 2' },
      ],
    }),
    web({
      id: 'web-counts',
      title: 'In the web app, “Hello world. This is a test.” has 6 words and 28 characters',
      steps: [{ action: 'fill', label: 'Text to count', value: 'Hello world. This is a test.' }],
      expect: [
        { type: 'text', text: '6 words' },
        { type: 'number', value: 28, tolerance: 0 },
        { type: 'number', value: 23, tolerance: 0 },
      ],
    }),
    web({
      id: 'web-reading-time',
      title: 'In the web app, a 201-word text takes 2 min to read',
      steps: [{ action: 'fill', label: 'Text to count', value: 'word '.repeat(201) }],
      expect: [
        { type: 'text', text: '201 words' },
        { type: 'text', text: '2 min' },
      ],
    }),
  ],
  'json-formatter': [
    cli({
      id: 'pretty-print',
      title: 'Compact JSON is printed with 2-space indentation',
      args: ['{"b":1,"a":[1,2]}'],
      expect: [{ op: 'equals', value: '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}' }],
    }),
    cli({
      id: 'sort-and-minify',
      title: 'Sorted and minified, the keys come out in order and without spaces',
      args: ['--sort-keys', '--compact'],
      stdin: '{"b": 1, "a": 2}',
      expect: [{ op: 'equals', value: '{"a":2,"b":1}' }],
    }),
    cli({
      id: 'invalid',
      title: 'Invalid JSON is refused with the line and column of the error',
      args: ['--check', '{"a": }'],
      exitCode: 1,
      expect: [{ op: 'contains', stream: 'stderr', value: 'invalid JSON at line 1, column' }],
    }),
    web({
      id: 'web-pretty-print',
      title: 'In the web app, compact JSON is shown valid and indented',
      steps: [
        { action: 'fill', label: 'JSON to format', value: '{"b":1,"a":[1,2]}' },
        { action: 'click', role: 'button', name: 'Format' },
      ],
      expect: [
        { type: 'text', text: 'Valid JSON.' },
        { type: 'text', text: '"b": 1,' },
      ],
    }),
    web({
      id: 'web-sort-and-minify',
      title: 'In the web app, sorted and minified keys come out in order',
      steps: [
        { action: 'fill', label: 'JSON to format', value: '{"b": 1, "a": 2}' },
        { action: 'select', label: 'Indentation', option: 'Minified' },
        { action: 'check', label: 'Sort object keys' },
        { action: 'click', role: 'button', name: 'Format' },
      ],
      expect: [{ type: 'text', text: '"a":2,"b":1' }],
    }),
    web({
      id: 'web-invalid',
      title: 'In the web app, invalid JSON is reported as invalid',
      steps: [
        { action: 'fill', label: 'JSON to format', value: '{"a": }' },
        { action: 'click', role: 'button', name: 'Format' },
      ],
      expect: [
        { type: 'text', text: 'Invalid JSON' },
        { type: 'text', text: 'Valid JSON.', visible: false },
      ],
    }),
  ],
  'countdown-timer': [
    cli({
      id: 'one-second',
      title: 'A 1-second countdown ends with “Time is up!”',
      args: ['1'],
      expect: [{ op: 'equals', value: '00:01\nTime is up!' }],
    }),
    cli({
      id: 'own-message',
      title: 'Your own message is shown when the time is up',
      args: ['--quiet', '--message', 'Tea is ready', '1'],
      expect: [{ op: 'equals', value: 'Tea is ready' }],
    }),
    cli({
      id: 'over-a-day',
      title: 'A time of more than 24 hours is refused',
      args: ['25h'],
      exitCode: 1,
      expect: [{ op: 'contains', stream: 'stderr', value: 'at most 24 hours' }],
    }),
    web({
      id: 'web-preset',
      title: 'In the web app, the 3 min preset sets the timer to 03:00',
      steps: [{ action: 'click', role: 'button', name: '3 min' }],
      expect: [
        { type: 'text', text: '03:00' },
        { type: 'field', label: 'Minutes', equals: '3' },
      ],
    }),
    web({
      id: 'web-time-up',
      title: 'In the web app, a 2-second countdown ends with “Time is up!”',
      steps: [
        { action: 'fill', label: 'Minutes', value: '0' },
        { action: 'fill', label: 'Seconds', value: '2' },
        { action: 'click', role: 'button', name: 'Start' },
        { action: 'wait_for_text', text: 'Time is up!', timeoutMs: 8_000 },
      ],
      expect: [
        { type: 'text', text: 'Time is up!' },
        { type: 'text', text: '00:00' },
      ],
    }),
  ],
  checklist: [
    cli({
      id: 'add-item',
      title: 'Adding “Buy milk” to a new list shows it, not yet done',
      args: ['--file', 'acceptance-add.json', 'add', 'Buy milk'],
      expect: [
        { op: 'contains', value: '1. [ ] Buy milk' },
        { op: 'contains', value: '0 of 1 done' },
      ],
    }),
    cli({
      id: 'empty-list',
      title: 'A new list says that it is empty',
      args: ['--file', 'acceptance-empty.json'],
      expect: [{ op: 'contains', value: 'The checklist is empty' }],
    }),
    cli({
      id: 'no-such-item',
      title: 'Ticking off an item that is not on the list is refused',
      args: ['--file', 'acceptance-missing.json', 'done', '3'],
      exitCode: 1,
      expect: [{ op: 'contains', stream: 'stderr', value: 'there is no item 3' }],
    }),
    web({
      id: 'web-add-item',
      title: 'In the web app, adding “Buy milk” lists it, not yet done',
      steps: [
        { action: 'fill', label: 'New item', value: 'Buy milk' },
        { action: 'click', role: 'button', name: 'Add' },
      ],
      expect: [
        { type: 'text', text: 'Buy milk' },
        { type: 'text', text: '0 of 1 done' },
      ],
    }),
    web({
      id: 'web-tick-and-clear',
      title: 'In the web app, a ticked item is counted as done and can be removed',
      steps: [
        { action: 'fill', label: 'New item', value: 'Pack the passport' },
        { action: 'click', role: 'button', name: 'Add' },
        { action: 'click', role: 'checkbox', name: 'Pack the passport' },
        { action: 'wait_for_text', text: '1 of 1 done' },
        { action: 'click', role: 'button', name: 'Remove ticked items' },
      ],
      expect: [
        { type: 'text', text: 'The list is empty.' },
        { type: 'text', text: 'Pack the passport', visible: false },
      ],
    }),
  ],
  'bmi-calculator': [
    cli({
      id: 'metric',
      title: '70 kg at 175 cm is a BMI of 22.9, a healthy weight',
      args: ['--weight', '70', '--height', '175'],
      expect: [
        { op: 'number', value: 22.9, tolerance: 0.05, near: 'BMI' },
        { op: 'contains', value: 'Healthy weight' },
      ],
    }),
    cli({
      id: 'imperial',
      title: '154 lb at 5 ft 9 in is a BMI of 22.7',
      args: ['--imperial', '--weight', '154', '--height', "5'9"],
      expect: [
        { op: 'number', value: 22.7, tolerance: 0.05, near: 'BMI' },
        { op: 'contains', value: 'lb' },
      ],
    }),
    cli({
      id: 'obesity',
      title: '120 kg at 170 cm is in the obesity category',
      args: ['120', '170'],
      expect: [
        { op: 'number', value: 41.5, tolerance: 0.05, near: 'BMI' },
        { op: 'contains', value: 'Obesity' },
      ],
    }),
    web({
      id: 'web-metric',
      title: 'In the web app, 90 kg at 180 cm is a BMI of 27.8, overweight',
      steps: [
        { action: 'fill', label: 'Weight (kg)', value: '90' },
        { action: 'fill', label: 'Height (cm)', value: '180' },
      ],
      expect: [
        { type: 'number', value: 27.8, tolerance: 0.05 },
        { type: 'text', text: 'Overweight' },
      ],
    }),
    web({
      id: 'web-imperial',
      title: 'In the web app, 154 lb at 5 ft 9 in is a BMI of 22.7, a healthy weight',
      steps: [
        { action: 'click', role: 'radio', name: 'Imperial (lb, ft and in)' },
        { action: 'fill', label: 'Weight (lb)', value: '154' },
        { action: 'fill', label: 'Height (ft)', value: '5' },
        { action: 'fill', label: 'Height (in)', value: '9' },
      ],
      expect: [
        { type: 'number', value: 22.7, tolerance: 0.05 },
        { type: 'text', text: 'Healthy weight' },
        { type: 'number', value: 125.3, tolerance: 0.05 },
      ],
    }),
  ],
  'base64-tool': [
    cli({
      id: 'encode',
      title: '“hello world” encodes to aGVsbG8gd29ybGQ=',
      args: ['encode', 'hello world'],
      expect: [{ op: 'equals', value: 'aGVsbG8gd29ybGQ=' }],
    }),
    cli({
      id: 'decode',
      title: 'aGVsbG8gd29ybGQ= decodes back to “hello world”',
      args: ['decode', 'aGVsbG8gd29ybGQ='],
      expect: [{ op: 'equals', value: 'hello world' }],
    }),
    cli({
      id: 'url-safe',
      title: 'The URL-safe alphabet writes - and _ instead of + and /',
      args: ['--url', '???~~~'],
      expect: [{ op: 'equals', value: 'Pz8_fn5-' }],
    }),
    cli({
      id: 'invalid',
      title: 'Text that is not Base64 is refused when decoding',
      args: ['decode', 'abc$'],
      exitCode: 1,
      expect: [{ op: 'contains', stream: 'stderr', value: 'not valid Base64' }],
    }),
    web({
      id: 'web-encode',
      title: 'In the web app, “hello world” encodes to aGVsbG8gd29ybGQ=',
      steps: [
        { action: 'fill', label: 'Text or Base64 input', value: 'hello world' },
        { action: 'click', role: 'button', name: 'Encode' },
      ],
      expect: [{ type: 'text', text: 'aGVsbG8gd29ybGQ=' }],
    }),
    web({
      id: 'web-decode',
      title: 'In the web app, aGVsbG8gd29ybGQ= decodes back to “hello world”',
      steps: [
        { action: 'fill', label: 'Text or Base64 input', value: 'aGVsbG8gd29ybGQ=' },
        { action: 'click', role: 'button', name: 'Decode' },
      ],
      expect: [
        { type: 'text', text: 'hello world' },
        { type: 'text', text: 'Decoded.' },
      ],
    }),
    web({
      id: 'web-url-safe',
      title: 'In the web app, the URL-safe alphabet writes - and _ instead of + and /',
      steps: [
        { action: 'fill', label: 'Text or Base64 input', value: '???~~~' },
        { action: 'check', label: 'URL-safe alphabet (- and _)' },
        { action: 'click', role: 'button', name: 'Encode' },
      ],
      expect: [{ type: 'text', text: 'Pz8_fn5-' }],
    }),
  ],
  'team-picker': [
    cli({
      id: 'two-teams',
      title: 'Ann, Ben, Cat and Dan are split into 2 teams of 2, each name once',
      args: ['--teams', '2', 'Ann', 'Ben', 'Cat', 'Dan'],
      expect: [
        {
          op: 'matches',
          pattern: '^Team 1: [A-D][a-z]+, [A-D][a-z]+\\nTeam 2: [A-D][a-z]+, [A-D][a-z]+\\n$',
        },
        { op: 'contains', value: 'Ann' },
        { op: 'contains', value: 'Ben' },
        { op: 'contains', value: 'Cat' },
        { op: 'contains', value: 'Dan' },
      ],
    }),
    cli({
      id: 'team-size',
      title: 'Six names with 3 people per team make 2 teams of 3',
      args: ['--size', '3', 'Ann, Ben, Cat, Dan, Eve, Fay'],
      expect: [{ op: 'matches', pattern: '^Team 1: \\w+, \\w+, \\w+\\nTeam 2: \\w+, \\w+, \\w+\\n$' }],
    }),
    cli({
      id: 'draw-winner',
      title: 'Drawing 1 winner from Ann, Ben and Cat names one of them',
      args: ['--pick', '1', 'Ann, Ben, Cat'],
      expect: [{ op: 'matches', pattern: '^Winner: (Ann|Ben|Cat)\\n$' }],
    }),
    web({
      id: 'web-three-teams',
      title: 'In the web app, six names are shuffled into 3 teams, everyone placed',
      steps: [
        {
          action: 'fill',
          label: 'One name per line (or separated by commas)',
          value: 'Ann, Ben, Cat, Dan, Eve, Fay',
        },
        { action: 'fill', label: 'Number of teams', value: '3' },
        { action: 'click', role: 'button', name: 'Shuffle' },
      ],
      expect: [
        { type: 'text', text: '6 names' },
        { type: 'text', text: 'Team 3' },
        { type: 'text', text: 'Team 4', visible: false },
        { type: 'text', text: 'Ann' },
        { type: 'text', text: 'Fay' },
      ],
    }),
    web({
      id: 'web-draw-winners',
      title: 'In the web app, drawing 3 winners from Ann, Ben and Cat shows all three',
      steps: [
        { action: 'click', role: 'radio', name: 'Draw winners' },
        { action: 'fill', label: 'One name per line (or separated by commas)', value: 'Ann\nBen\nCat' },
        { action: 'fill', label: 'Number of winners', value: '3' },
        { action: 'click', role: 'button', name: 'Draw' },
      ],
      expect: [
        { type: 'text', text: 'Ann' },
        { type: 'text', text: 'Ben' },
        { type: 'text', text: 'Cat' },
        { type: 'text', text: 'Team 1', visible: false },
      ],
    }),
  ],
};

/** Every recipe's checks, validated once (a bad entry fails at import, and in the unit test). */
const CHECKS: ReadonlyMap<string, readonly AcceptanceCheck[]> = new Map(
  Object.entries(SOURCE).map(([id, checks]) => [id, AcceptanceChecksSchema.parse(checks)]),
);

/** The recipe ids that ship checks. */
export const RECIPES_WITH_CHECKS: readonly string[] = [...CHECKS.keys()];

/** All checks of a recipe (both kinds), or [] for an unknown id. */
export function recipeChecks(recipeId: string): AcceptanceCheck[] {
  return [...(CHECKS.get(recipeId) ?? [])];
}

/** The checks of a recipe that apply to the artifact type the visitor chose. */
export function recipeChecksFor(recipeId: string, artifactType: ArtifactType): AcceptanceCheck[] {
  return checksFor(recipeChecks(recipeId), artifactType);
}
