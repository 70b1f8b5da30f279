/**
 * Plain-text rendering for the operator CLI: aligned tables and label/value blocks. Every cell
 * goes through `cell()`, which drops control characters: run data contains text a visitor typed,
 * and a terminal must never receive escape sequences from it.
 */

export type CellValue = string | number | boolean | null | undefined;

export interface Column<T> {
  header: string;
  value: (row: T) => CellValue;
  /** Longer cells are cut with an ellipsis. */
  maxWidth?: number;
  align?: 'left' | 'right';
}

// C0 and C1 control characters plus DEL; tabs and newlines become spaces first.
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** One-line, printable text of a value ('' for null/undefined). */
export function cell(value: CellValue): string {
  if (value === null || value === undefined) return '';
  return String(value)
    .replace(/[\t\r\n]+/g, ' ')
    .replace(CONTROL, '');
}

export function truncate(text: string, max: number): string {
  if (max < 1 || text.length <= max) return text;
  return max === 1 ? '…' : `${text.slice(0, max - 1)}…`;
}

/** An aligned table with a header row; `emptyText` instead when there are no rows. */
export function renderTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  emptyText = '(none)',
): string {
  if (rows.length === 0) return emptyText;
  const cells = rows.map((row) =>
    columns.map((c) => {
      const text = cell(c.value(row));
      return c.maxWidth ? truncate(text, c.maxWidth) : text;
    }),
  );
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => {
        const last = i === values.length - 1;
        if (columns[i]!.align === 'right') return v.padStart(widths[i]!);
        return last ? v : v.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** `label   value` lines, labels padded to one width; pairs with an undefined value are left out. */
export function renderFields(pairs: readonly (readonly [string, CellValue])[]): string {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== null && v !== '');
  if (shown.length === 0) return '';
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)}  ${cell(value)}`).join('\n');
}

/** A titled section: the title, then the body indented by two spaces. */
export function section(title: string, body: string): string {
  const indented = body
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
  return `${title}\n${indented}`;
}

/** Bytes as B / KiB / MiB with one decimal. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Timestamps as `YYYY-MM-DD HH:MM:SSZ` (UTC, seconds). */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}
