import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AcceptanceCheckSchema, MAX_STDIN_BYTES } from '../../lib/domain/acceptance.ts';

/** Fragments that address a page the way code does, not the way a person does. */
const HOSTILE = fc.constantFrom(
  '#result',
  '.total',
  'div > span',
  'css=button',
  'xpath=//a',
  'text=Go',
  'button[type=submit]',
  'li:nth-child(2)',
  '/etc/passwd',
  './app.js',
  '../../secret',
  '~/.aws/credentials',
  'C:\\Users',
  'src/tool/tool.go',
  'https://example.org',
  'file:///etc/hosts',
  'javascript:void(0)',
  'www.example.org',
  '<img src=x>',
  '`rm -rf`',
  '{{ constructor }}',
  'document.body',
  'window.location',
  'x => x',
  'function(){}',
  'onclick=alert(1)',
);

const human = fc
  .array(
    fc.constantFrom('Bill', 'amount', 'Total', 'per', 'person', 'Tip', '15%', '€38.33', 'km/h', '(each)'),
    {
      minLength: 1,
      maxLength: 5,
    },
  )
  .map((w) => w.join(' '));

/** Puts a hostile fragment before, after or inside ordinary text. */
const tainted = fc.tuple(human, HOSTILE, fc.integer({ min: 0, max: 2 })).map(([h, bad, where]) =>
  // A leading-dot class selector is only unambiguous at the start ("Exports a .csv file" is fine).
  where === 0 || bad.startsWith('.') ? `${bad} ${h}` : where === 1 ? `${h} ${bad}` : bad,
);

const webCheck = (patch: { title?: string; step?: object; expect?: object }) => ({
  kind: 'web',
  id: 'c1',
  title: patch.title ?? 'The total is shown',
  steps: [patch.step ?? { action: 'fill', label: 'Bill amount', value: '100' }],
  expect: [patch.expect ?? { type: 'text', text: 'Total' }],
});

describe('acceptance check schema (property)', () => {
  it('refuses a selector, script, URL or path in every field that addresses the page or is shown', () => {
    fc.assert(
      fc.property(tainted, fc.integer({ min: 0, max: 8 }), (bad, field) => {
        const variants = [
          webCheck({ title: bad }),
          webCheck({ step: { action: 'fill', label: bad, value: '1' } }),
          webCheck({ step: { action: 'select', label: 'Unit', option: bad } }),
          webCheck({ step: { action: 'check', label: bad } }),
          webCheck({ step: { action: 'click', role: 'link', name: bad } }),
          webCheck({ step: { action: 'press', key: 'Enter', label: bad } }),
          webCheck({ step: { action: 'wait_for_text', text: bad } }),
          webCheck({ expect: { type: 'text', text: bad } }),
          webCheck({ expect: { type: 'field', label: bad, equals: '1' } }),
        ];
        expect(AcceptanceCheckSchema.safeParse(variants[field]).success).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('accepts ordinary words in the same fields', () => {
    fc.assert(
      fc.property(human, (text) => {
        fc.pre(text.trim().length >= 3);
        expect(AcceptanceCheckSchema.safeParse(webCheck({ title: text })).success).toBe(true);
        expect(
          AcceptanceCheckSchema.safeParse(webCheck({ step: { action: 'click', name: text } })).success,
        ).toBe(true);
      }),
    );
  });

  it('refuses any value over its size limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4096 }), (over) => {
        const cli = {
          kind: 'cli',
          id: 'c1',
          title: 'Prints the total',
          args: [],
          stdin: 'x'.repeat(MAX_STDIN_BYTES + over),
          expect: [{ op: 'contains', value: 'x' }],
        };
        expect(AcceptanceCheckSchema.safeParse(cli).success).toBe(false);
        expect(
          AcceptanceCheckSchema.safeParse(
            webCheck({ step: { action: 'fill', label: 'Text', value: 'y'.repeat(2000 + over) } }),
          ).success,
        ).toBe(false);
        expect(AcceptanceCheckSchema.safeParse(webCheck({ title: 'z'.repeat(120 + over) })).success).toBe(
          false,
        );
      }),
      { numRuns: 50 },
    );
  });
});
