import { describe, expect, it } from 'vitest';
import {
  cell,
  formatBytes,
  formatTime,
  renderFields,
  renderTable,
  section,
  truncate,
} from '../../lib/cli/table.ts';

describe('renderTable', () => {
  const rows = [
    { id: 'a', n: 1, note: 'short' },
    { id: 'bbbb', n: 200, note: 'a much longer note that goes on' },
  ];

  it('aligns columns under a header, right-aligns numbers on request, and trims line ends', () => {
    const out = renderTable(rows, [
      { header: 'ID', value: (r) => r.id },
      { header: 'N', value: (r) => r.n, align: 'right' },
      { header: 'NOTE', value: (r) => r.note, maxWidth: 12 },
    ]);
    expect(out.split('\n')).toEqual(['ID      N  NOTE', 'a       1  short', 'bbbb  200  a much long…']);
  });

  it('prints the empty text when there are no rows', () => {
    expect(renderTable([], [{ header: 'X', value: () => 1 }])).toBe('(none)');
    expect(renderTable([], [{ header: 'X', value: () => 1 }], 'No runs.')).toBe('No runs.');
  });

  it('strips control characters and escape sequences from cells', () => {
    const evil = 'ti\u001b[31mtle\nnext\u0007\u009b';
    const out = renderTable([{ t: evil }], [{ header: 'T', value: (r) => r.t }]);
    const [, row] = out.split('\n');
    expect(row).toBe('ti[31mtle next');
    expect(cell(undefined)).toBe('');
    expect(cell(false)).toBe('false');
  });
});

describe('text helpers', () => {
  it('renders label/value fields, leaving out empty values', () => {
    expect(
      renderFields([
        ['phase', 'quoted'],
        ['branch', undefined],
        ['attempts', 0],
        ['worker', ''],
      ]),
    ).toBe('phase     quoted\nattempts  0');
  });

  it('indents sections, truncates, formats bytes and times', () => {
    expect(section('Title', 'a\nb')).toBe('Title\n  a\n  b');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KiB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.0 MiB');
    expect(formatTime('2026-11-24T10:00:05.123Z')).toBe('2026-11-24 10:00:05Z');
    expect(formatTime(undefined)).toBe('');
    expect(formatTime('garbage')).toBe('garbage');
  });
});
