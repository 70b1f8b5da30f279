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

const APPLE_SILICON =
  /\bapple silicon\b|\bm[1-4]( (pro|max|air|mac))?\b|\barm (mac|macbook)\b|\bmac(book)? (on )?arm\b/;
const INTEL_MAC = /\bintel (mac|macbook|imac)\b|\b(mac|macbook|imac) (on |with )?intel\b/;
const MAC = /\bmac(os| os)?\b|\bosx\b|\bapple\b|\bmacbook\b|\bimac\b/;
const OS_PLATFORMS: [RegExp, string[]][] = [
  [/\bwindows\b|\bwin(10|11)?\b|\bpc\b/, ['windows-amd64']],
  [/\blinux\b|\bubuntu\b|\bdebian\b|\bfedora\b/, ['linux-amd64', 'linux-arm64']],
  [/\braspberry\b|\brpi\b|\bpi ?[345]\b/, ['linux-arm64']],
];

/** Platforms named in the visitor's words; empty when none were named. */
export function detectPlatforms(raw: string): string[] {
  const text = raw.toLowerCase();
  const out = new Set<string>();
  for (const [re, platforms] of OS_PLATFORMS) if (re.test(text)) for (const p of platforms) out.add(p);
  const silicon = APPLE_SILICON.test(text);
  const intel = INTEL_MAC.test(text);
  if (silicon) out.add('darwin-arm64');
  if (intel) out.add('darwin-amd64');
  if (!silicon && !intel && MAC.test(text)) {
    out.add('darwin-arm64');
    out.add('darwin-amd64');
  }
  return [...out];
}

/** Platforms the visitor wants dropped ("no Windows", "without the Mac version"). */
export function detectRemovedPlatforms(raw: string): string[] {
  const text = raw.toLowerCase();
  const out = new Set<string>();
  const re =
    /\b(?:no|not|without|drop|remove|skip|except|minus)\b((?:\s+(?:the|a|for|on|version|build|support|and|or|,))*\s+[a-z0-9 ]{2,30})/g;
  for (const m of text.matchAll(re)) {
    const phrase = (m[1] ?? '').split(/\b(?:but|please|just|only|instead)\b/)[0] ?? '';
    for (const p of detectPlatforms(phrase)) out.add(p);
  }
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

const NAME_LEAD =
  '(?:called|named|titled|call it|name it|rename it(?:\\s+to)?|rename to|(?:the )?name (?:should be|is|it))';

/** A name the visitor gave the tool ("called Split It", "call it Tipper"), cleaned to safe display text. */
export function detectName(raw: string): string | undefined {
  const quoted = new RegExp(
    `\\b${NAME_LEAD}\\s+["'“‘]([A-Za-z0-9][A-Za-z0-9 &'-]{0,38}[A-Za-z0-9])["'”’]`,
    'i',
  ).exec(raw);
  if (quoted?.[1]) return quoted[1].trim();
  const m = new RegExp(`\\b${NAME_LEAD}\\s+([A-Za-z0-9][A-Za-z0-9 &'-]{0,38}[A-Za-z0-9])`, 'i').exec(raw);
  const name = m?.[1]
    ?.split(/\s+(?:for|that|which|with|to|on|in|and|so|please|instead|as|but)\b/i)[0]
    ?.trim();
  if (!name || name.length < 2 || /^(it|me|this|that|the|a|an)$/i.test(name)) return undefined;
  return name;
}

const EXTRAS: RegExp[] = [
  /\bhistory\b/,
  /\bexport\b/,
  /\bcsv\b/,
  /\bpdf\b/,
  /\bcharts?\b/,
  /\bgraphs?\b/,
  /\bdark mode\b/,
  /\bmultiple languages\b/,
  /\btranslat(e|ion|ions)\b/,
  /(?<!pretty[ -])\bprint(able)?\b/,
  /\bsave (the |my |all )?(results?|calculations?|settings|presets?)\b/,
  /\bkeyboard shortcuts?\b/,
  /\bstatistics\b/,
  /\bcurrenc(y|ies)\b/,
];

/**
 * Extra behaviour beyond a catalog tool's standard features ("keeps a history", "export to CSV"),
 * as short, cleaned clauses of the visitor's words. Each one makes the build `medium` complexity.
 */
export function detectExtras(raw: string): string[] {
  const out: string[] = [];
  for (const clause of raw.split(/[.;!?\n,]+|\s+(?:and|that|which|with|plus)\s+/i)) {
    const lower = clause.toLowerCase();
    if (!EXTRAS.some((re) => re.test(lower))) continue;
    const cleaned = clause
      .replace(/[^\p{L}\p{N} %'’()+,.-]/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .replace(
        /^(?:and|also|plus|it should|should|please|can it|could it|i want it to|make it|it can|can)\s+/i,
        '',
      )
      .replace(/^(?:also|and|can)\s+/i, '')
      .slice(0, 120)
      .trim();
    if (cleaned.length >= 3 && !out.includes(cleaned)) out.push(cleaned);
  }
  return out.slice(0, 4);
}
