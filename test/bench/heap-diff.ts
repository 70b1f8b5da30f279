/**
 * Compares two V8 heap snapshots (as the memory bench writes them with BENCH_HEAP_SNAPSHOTS):
 * object counts and self sizes grouped by node type and constructor name, largest growth first.
 *
 *   npx tsx test/bench/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [rows]
 */
import { readFile } from 'node:fs/promises';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

type Groups = Map<string, { count: number; size: number }>;

export function groupByConstructor(snap: Snapshot): Groups {
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const groups: Groups = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] ?? 0] ?? '?';
    let name = snap.strings[snap.nodes[i + nameAt] ?? 0] ?? '?';
    // Strings and code are grouped by type only; their "name" is their content.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'code')
      name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}:${name}`;
    const g = groups.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += snap.nodes[i + sizeAt] ?? 0;
    groups.set(key, g);
  }
  return groups;
}

async function load(file: string): Promise<Groups> {
  return groupByConstructor(JSON.parse(await readFile(file, 'utf8')) as Snapshot);
}

async function main(): Promise<void> {
  const [a, b, rowsArg] = process.argv.slice(2);
  if (!a || !b) throw new Error('usage: heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [rows]');
  const [before, after] = await Promise.all([load(a), load(b)]);
  const keys = new Set([...before.keys(), ...after.keys()]);
  const rows = [...keys].map((key) => {
    const x = before.get(key) ?? { count: 0, size: 0 };
    const y = after.get(key) ?? { count: 0, size: 0 };
    return { key, dCount: y.count - x.count, dSize: y.size - x.size, count: y.count };
  });
  rows.sort((p, q) => q.dSize - p.dSize);
  const total = (g: Groups) => [...g.values()].reduce((s, v) => s + v.size, 0);
  process.stdout.write(
    `self size: ${(total(before) / 2 ** 20).toFixed(2)} → ${(total(after) / 2 ** 20).toFixed(2)} MiB\n`,
  );
  process.stdout.write('  Δsize(KiB)   Δcount    count  type:constructor\n');
  for (const r of rows.slice(0, Number(rowsArg ?? 40))) {
    process.stdout.write(
      `${(r.dSize / 1024).toFixed(1).padStart(12)} ${String(r.dCount).padStart(8)} ${String(r.count).padStart(8)}  ${r.key}\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
