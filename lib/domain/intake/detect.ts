import type { ArtifactType } from '../build-spec.ts';

const has = (text: string, patterns: RegExp[]) => patterns.some((p) => p.test(text));

const BOTH = [/\bboth\b/, /\bweb\b.*\b(and|plus|\+)\b.*\b(binary|cli|download|program|executable)/];
const WEB = [
  /\bweb\s*(app|page|site|tool|version)?\b/,
  /\bbrowser\b/,
  /\bwebsite\b/,
  /\bonline\b/,
  /\bhtml\b/,
  /\bin (my|the) browser\b/,
  /\bpage\b/,
];
const BINARY = [
  /\bbinary\b/,
  /\bcli\b/,
  /\bcommand[- ]line\b/,
  /\bterminal\b/,
  /\bexecutable\b/,
  /\bdownload(able)?\b/,
  /\bdesktop\b/,
  /\b(exe|\.exe)\b/,
  /\bprogram\b/,
  /\bshell\b/,
];

/** Artifact type named in the visitor's words, or undefined when they did not say. */
export function detectArtifactType(raw: string): ArtifactType | undefined {
  const text = raw.toLowerCase();
  if (has(text, BOTH)) return 'both';
  const web = has(text, WEB);
  const bin = has(text, BINARY);
  if (web && bin) return 'both';
  if (web) return 'web';
  if (bin) return 'binary';
  return undefined;
}

const OS_PLATFORMS: [RegExp, string[]][] = [
  [/\bwindows\b|\bwin(10|11)?\b|\bpc\b/, ['windows-amd64']],
  [/\bmac(os| os)?\b|\bosx\b|\bapple\b|\bmacbook\b/, ['darwin-arm64', 'darwin-amd64']],
  [/\blinux\b|\bubuntu\b|\bdebian\b/, ['linux-amd64', 'linux-arm64']],
  [/\braspberry\b/, ['linux-arm64']],
];

/** Platforms named in the visitor's words; empty when none were named. */
export function detectPlatforms(raw: string): string[] {
  const text = raw.toLowerCase();
  const out = new Set<string>();
  for (const [re, platforms] of OS_PLATFORMS) if (re.test(text)) for (const p of platforms) out.add(p);
  return [...out];
}

const HARMFUL = [
  /\bmalware\b/,
  /\bransomware\b/,
  /\bkeylogger\b/,
  /\bphishing\b/,
  /\bddos\b/,
  /\bbotnet\b/,
  /\bsteal(s|ing)?\b/,
  /\bcrack(ing)?\b.*\bpassword/,
  /\bspyware\b/,
  /\bexploit\b/,
  /\bvirus\b/,
];
const SOURCE_REQUEST = [
  /\bsource code\b/,
  /\bsource\b.*\b(send|give|show|include|zip|download)\b/,
  /\b(send|give|show|include)\b.*\bsource\b/,
  /\brepo(sitory)?\b/,
  /\bgit(hub)?\b/,
  /\b(system|internal) prompt\b/,
  /\bworker logs?\b/,
];
const TOO_LARGE = [
  /\bsocial network\b/,
  /\bcrm\b/,
  /\berp\b/,
  /\bmarketplace\b/,
  /\buser accounts?\b/,
  /\blog ?in\b.*\bregist/,
  /\bmobile app\b/,
  /\bios app\b/,
  /\bandroid app\b/,
  /\bmultiplayer\b/,
  /\bbank(ing)? system\b/,
];

export type Refusal = 'harmful' | 'source' | 'too_large';

export function detectRefusal(raw: string): Refusal | undefined {
  const text = raw.toLowerCase();
  if (has(text, HARMFUL)) return 'harmful';
  if (has(text, SOURCE_REQUEST)) return 'source';
  if (has(text, TOO_LARGE)) return 'too_large';
  return undefined;
}

/** A name the visitor gave the tool ("called Split It"), cleaned to safe display text. */
export function detectName(raw: string): string | undefined {
  const quoted = /\b(?:called|named|titled)\s+["'“]([A-Za-z0-9][A-Za-z0-9 &'-]{0,38}[A-Za-z0-9])["'”]/i.exec(
    raw,
  );
  if (quoted?.[1]) return quoted[1].trim();
  const m = /\b(?:called|named|titled)\s+([A-Za-z0-9][A-Za-z0-9 &'-]{0,38}[A-Za-z0-9])/i.exec(raw);
  const name = m?.[1]?.split(/\s+(?:for|that|which|with|to|on|in|and|so)\b/i)[0]?.trim();
  return name && name.length >= 2 ? name : undefined;
}
