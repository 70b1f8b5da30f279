import { DEFAULT_PLATFORMS } from '../build-spec.ts';

/**
 * Platform ids as the visitor reads them, and the operating-system families the intake maps to
 * ids. One table for every intake (the offline rules, the model's brief, the scope reply).
 */
export const PLATFORM_NAMES: Readonly<Record<string, string>> = {
  'windows-amd64': 'Windows (x86-64)',
  'darwin-arm64': 'macOS (Apple silicon)',
  'darwin-amd64': 'macOS (Intel)',
  'linux-amd64': 'Linux (x86-64)',
  'linux-arm64': 'Linux (ARM64)',
};

/** The order platforms are listed in for the visitor. */
const ORDER = Object.keys(PLATFORM_NAMES);

/** A family the visitor names, and the platform ids it means. */
export const OS_FAMILIES: readonly { family: string; platforms: readonly string[] }[] = [
  { family: 'Windows', platforms: ['windows-amd64'] },
  { family: 'Mac / macOS (not saying which chip)', platforms: ['darwin-arm64', 'darwin-amd64'] },
  { family: 'Apple silicon (M1–M4 Macs)', platforms: ['darwin-arm64'] },
  { family: 'Intel Mac', platforms: ['darwin-amd64'] },
  { family: 'Linux (Ubuntu, Debian, Fedora, …)', platforms: ['linux-amd64', 'linux-arm64'] },
  { family: 'Raspberry Pi', platforms: ['linux-arm64'] },
  { family: 'No operating system named', platforms: DEFAULT_PLATFORMS },
];

export function platformName(id: string): string {
  return PLATFORM_NAMES[id] ?? id;
}

/** Friendly names in a stable order: Windows, macOS, Linux. */
export function platformNames(ids: readonly string[]): string[] {
  const rank = (id: string) => (ORDER.includes(id) ? ORDER.indexOf(id) : ORDER.length);
  return [...new Set(ids)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map(platformName);
}

/** "A, B and C". */
export function joinAnd(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}
