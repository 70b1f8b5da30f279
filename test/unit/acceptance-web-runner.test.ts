import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  type AcceptanceCheckInput,
  type WebCheck,
  WebCheckSchema,
  type WebStepSchema,
} from '../../lib/domain/acceptance.ts';
import { runWebChecks } from '../../lib/verify/acceptance/web-runner.ts';

const CHROMIUM = process.env.VERIFY_BROWSER || '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'web-checks-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function site(name: string, body: string): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"><title>t</title></head><body>${body}</body></html>`,
  );
  return dir;
}

/** A tip splitter; `divide: false` is the bug (forgets to split between the people). */
const splitter = (opts: { divide: boolean }) => `
<h1>Tip splitter</h1>
<label>Bill amount <input id="bill" inputmode="decimal"></label>
<label for="tip">Tip percent</label>
<select id="tip"><option>10 %</option><option>15 %</option><option>20 %</option></select>
<label>People <input id="people" value="1"></label>
<label><input type="checkbox" id="round"> Round up</label>
<button id="go">Split</button>
<p id="out"></p>
<label>Per person <input id="each" readonly></label>
<label>Bank statement <input type="file" id="csv"></label>
<p id="rows"></p>
<button id="export">Export</button>
<p id="later"></p>
<script>
  const $ = (id) => document.getElementById(id);
  function split() {
    const bill = Number($('bill').value.replace(',', '.'));
    const tip = Number($('tip').value.split(' ')[0]);
    const people = Number($('people').value);
    let each = bill * (1 + tip / 100) ${opts.divide ? '/ people' : ''};
    if ($('round').checked) each = Math.ceil(each);
    $('out').textContent = 'Each pays €' + each.toFixed(2);
    $('each').value = each.toFixed(2);
  }
  $('go').addEventListener('click', split);
  $('people').addEventListener('keydown', (e) => { if (e.key === 'Enter') split(); });
  $('csv').addEventListener('change', async () => {
    const text = await $('csv').files[0].text();
    $('rows').textContent = text.trim().split('\\n').length + ' rows in ' + $('csv').files[0].name;
  });
  $('export').addEventListener('click', () => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob(['person,amount\\n1,' + $('each').value + '\\n'], { type: 'text/csv' }));
    a.download = 'split.csv';
    document.body.append(a);
    a.click();
  });
  setTimeout(() => { $('later').textContent = 'Ready to split'; }, 400);
  // A visit leaves a mark; the next check must not see it (fresh storage per check).
  if (localStorage.getItem('seen')) document.body.append('returning visitor');
  localStorage.setItem('seen', '1');
  fetch('http://example.com/track').catch(() => {});
</script>`;

const web = (c: Omit<AcceptanceCheckInput & { kind: 'web' }, 'kind' | 'title'>): WebCheck =>
  WebCheckSchema.parse({ kind: 'web', title: `check ${c.id}`, ...c });

const tipCheck = web({
  id: 'tip-split',
  steps: [
    { action: 'wait_for_text', text: 'Ready to split' },
    { action: 'fill', label: 'Bill amount', value: '100' },
    { action: 'select', label: 'Tip percent', option: '15 %' },
    { action: 'fill', label: 'People', value: '3' },
    { action: 'click', role: 'button', name: 'Split' },
  ],
  expect: [
    { type: 'number', value: 38.33, tolerance: 0.005, near: 'Each pays' },
    { type: 'text', text: 'Each pays €38.33' },
    { type: 'text', text: 'returning visitor', visible: false },
    { type: 'field', label: 'Per person', number: { value: 38.33, tolerance: 0.005 } },
  ],
});

const otherSteps = [
  web({
    id: 'round-and-enter',
    steps: [
      { action: 'fill', label: 'Bill amount', value: '100' },
      { action: 'check', label: 'Round up' },
      { action: 'fill', label: 'People', value: '3' },
      { action: 'press', label: 'People', key: 'Enter' },
    ],
    expect: [{ type: 'field', label: 'Per person', equals: '37.00' }],
  }),
  web({
    id: 'upload',
    steps: [
      {
        action: 'upload',
        label: 'Bank statement',
        file: { name: 'march.csv', content: 'a,1\nb,2\nc,3\n', mimeType: 'text/csv' },
      },
    ],
    expect: [{ type: 'text', text: '3 rows in march.csv' }],
  }),
  web({
    id: 'export',
    steps: [
      { action: 'fill', label: 'Bill amount', value: '50' },
      { action: 'fill', label: 'People', value: '2' },
      { action: 'click', name: 'Split' },
      { action: 'click', name: 'Export' },
    ],
    expect: [{ type: 'download', fileName: 'split.csv', contains: ['person,amount', '1,27.50'] }],
  }),
];

describe.skipIf(!hasBrowser)('runWebChecks', () => {
  it('passes every step and expectation kind on a right app, with a screenshot and no network', async () => {
    const dir = await site('right', splitter({ divide: true }));
    const r = await runWebChecks({
      dir,
      entrypoint: 'index.html',
      checks: [tipCheck, ...otherSteps],
      browser: CHROMIUM,
      screenshot: true,
    });
    expect(r.status).toBe('ran');
    expect(r.outcomes.map((o) => [o.id, o.passed, o.detail])).toEqual([
      ['tip-split', true, undefined],
      ['round-and-enter', true, undefined],
      ['upload', true, undefined],
      ['export', true, undefined],
    ]);
    expect(r.outcomes.every((o) => o.kind === 'web' && o.ranOn === 'web')).toBe(true);
    expect(r.notes).toContain('external request blocked: http://example.com');
    expect(r.screenshot?.subarray(1, 4).toString()).toBe('PNG');
  }, 120_000);

  it('fails a wrong number with what was expected and what was shown', async () => {
    const dir = await site('wrong', splitter({ divide: false }));
    const r = await runWebChecks({
      dir,
      entrypoint: 'index.html',
      checks: [tipCheck, otherSteps[0]!, otherSteps[2]!],
      browser: CHROMIUM,
    });
    expect(r.outcomes.map((o) => o.passed)).toEqual([false, false, false]);
    const [tip, round, exported] = r.outcomes;
    expect(tip?.detail).toContain("expectation 1: expected 38.33 (±0.005) near 'Each pays'; saw 115");
    expect(tip?.detail).toContain("expectation 2: expected the text 'Each pays €38.33' on the page");
    expect(tip?.detail).toContain(
      'expectation 4: expected \'Per person\' to hold 38.33 (±0.005); it holds "115.00"',
    );
    expect(tip?.detail).not.toContain('expectation 3');
    expect(round?.detail).toBe('expectation 1: expected \'Per person\' to hold "37.00"; it holds "111.00"');
    expect(exported?.detail).toContain('expected the download to contain "1,27.50"');
    expect(r.screenshot).toBeUndefined();
  }, 120_000);

  it('names the failing step: a missing label, an ambiguous label, a missing option, a missing button, text that never shows', async () => {
    const dir = await site(
      'ambiguous',
      '<label>Amount <input></label><label>Amount <input></label><label>Unit <select><option>km</option></select></label><button>Go</button>',
    );
    const one = (id: string, step: z.input<typeof WebStepSchema>) =>
      web({ id, steps: [step], expect: [{ type: 'text', text: 'Go' }] });
    const r = await runWebChecks({
      dir,
      entrypoint: 'index.html',
      browser: CHROMIUM,
      checks: [
        one('missing', { action: 'fill', label: 'Bill amount', value: '1' }),
        one('ambiguous', { action: 'fill', label: 'Amount', value: '1' }),
        one('no-option', { action: 'select', label: 'Unit', option: 'miles' }),
        one('no-button', { action: 'click', name: 'Convert' }),
        one('no-text', { action: 'wait_for_text', text: 'Done', timeoutMs: 300 }),
        web({
          id: 'link-not-button',
          steps: [{ action: 'click', role: 'link', name: 'Go' }],
          expect: [{ type: 'text', text: 'Go' }],
        }),
      ],
    });
    expect(r.outcomes.map((o) => o.detail)).toEqual([
      "step 1 fill 'Bill amount': no field with that label",
      "step 1 fill 'Amount': 2 elements match field with that label; it must name one",
      expect.stringMatching(/^step 1 select 'miles' in 'Unit': no option 'miles'/),
      "step 1 click button 'Convert': no button with that name",
      "step 1 wait for 'Done': the text did not appear within 300 ms",
      "step 1 click link 'Go': no link with that name",
    ]);
  }, 120_000);

  it('fails a check that runs over its budget, and is skipped without a browser', async () => {
    const dir = await site('slow', '<p>Loading</p><label>Name <input></label>');
    const r = await runWebChecks({
      dir,
      entrypoint: 'index.html',
      browser: CHROMIUM,
      checkTimeoutMs: 1_000,
      checks: [
        web({
          id: 'slow',
          steps: [{ action: 'wait_for_text', text: 'Finished', timeoutMs: 5_000 }],
          expect: [{ type: 'text', text: 'Finished' }],
        }),
      ],
    });
    expect(r.outcomes[0]).toMatchObject({ passed: false, detail: 'the check did not finish within 1000 ms' });
    const skipped = await runWebChecks({ dir, entrypoint: 'index.html', browser: false, checks: [] });
    expect(skipped).toEqual({ status: 'skipped', outcomes: [], notes: ['web checks disabled'] });
  }, 60_000);
});
