import type { ArtifactType, BuildSpec } from '../build-spec.ts';
import type { PriceTable } from '../pricing.ts';
import { formatAmount } from '../pricing.ts';
import { toPublicReceipt } from '../projection.ts';
import type { BuildRun } from '../run.ts';
import { currentVersion } from '../versions.ts';
import { platformNames } from './platforms.ts';
import { TYPE_LABEL } from './scope.ts';

/**
 * Answers to questions about a delivered tool. A question is classified into one of a small,
 * closed set of topics — by the offline keyword rules ({@link classifyQuestion}) or by the model
 * choosing a topic (the `answer_question` tool) — and each topic is one fixed sentence template
 * filled only with data of the delivered version: the approved spec's own words (title,
 * features, check titles), the delivered artifacts' kinds and platforms, the receipt, the version
 * list and the price table. Nothing a model writes reaches the visitor here. Pure: no AWS.
 */

export const QUESTION_TOPICS = [
  'what_it_does',
  'platforms',
  'download',
  'how_to_run',
  'preview',
  'checks',
  'change_price',
  'versions',
  'unknown',
] as const;
export type QuestionTopic = (typeof QUESTION_TOPICS)[number];

/** What each topic means (the model's tool description lists these). */
export const TOPIC_MEANINGS: Record<QuestionTopic, string> = {
  what_it_does: 'what the tool does, its features or scope',
  platforms: 'which operating systems or devices it runs on',
  download: 'how or where to download it',
  how_to_run: 'how to start, open, install or use it',
  preview: 'how to preview or try the web app in the browser',
  checks: 'how it was tested, checked or verified; the receipt',
  change_price: 'what a change or a new version costs',
  versions: 'which versions exist, earlier versions',
  unknown: 'any other question, or not clearly one of these',
};

/** The delivered version's data an answer may use: nothing else reaches the sentence. */
export interface ToolFacts {
  version: number;
  title: string;
  artifactType: ArtifactType;
  features: readonly string[];
  /** Platforms of the delivered downloads (platform ids), in no particular order. */
  downloadPlatforms: readonly string[];
  hasWeb: boolean;
  /** Titles of the approved checks the receipt shows as passed (the spec's own words). */
  passedChecks: readonly string[];
  /** Titles of the approved checks of the version's spec (used when no receipt was recorded). */
  agreedChecks: readonly string[];
  versions: readonly { number: number; verifiedAt: string }[];
  revisionPrice: { amountCents: number; currency: string };
  /** A change is quoted and waiting for approval (the quote stands whatever is asked). */
  changeQuoted: boolean;
}

/** The facts of the run's current delivered version; undefined when nothing is delivered. */
export function toolFacts(run: BuildRun, table: PriceTable): ToolFacts | undefined {
  const current = currentVersion(run);
  if (!current) return undefined;
  const spec: BuildSpec = current.spec;
  const specChecks = spec.checks ?? [];
  const passed: string[] = [];
  for (const a of current.artifacts) {
    for (const c of toPublicReceipt(a, specChecks)?.checks ?? [])
      if (c.passed && !passed.includes(c.title)) passed.push(c.title);
  }
  return {
    version: current.number,
    title: spec.title,
    artifactType: spec.artifactType,
    features: spec.features,
    downloadPlatforms: [
      ...new Set(current.artifacts.flatMap((a) => (a.kind !== 'web' && a.platform ? [a.platform] : []))),
    ],
    hasWeb: current.artifacts.some((a) => a.kind === 'web'),
    passedChecks: passed,
    agreedChecks: specChecks.map((c) => c.title),
    versions: (run.versions ?? []).map((v) => ({ number: v.number, verifiedAt: v.verifiedAt })),
    revisionPrice: { amountCents: table.revision, currency: table.currency },
    changeQuoted: run.phase === 'quoted' && Boolean(run.revision),
  };
}

const bullet = (s: string) => `- ${s}`;
const day = (iso: string) => iso.slice(0, 10);

/** The fixed answer for a topic, filled only with {@link ToolFacts}. */
export function answerQuestion(topic: QuestionTopic, f: ToolFacts): string {
  const v = `Version ${f.version}`;
  const downloads = platformNames(f.downloadPlatforms);
  const hasDownloads = downloads.length > 0;
  switch (topic) {
    case 'what_it_does':
      return [
        `${v} of ${f.title} is ${TYPE_LABEL[f.artifactType]}.`,
        ...(f.features.length ? ['It can:', ...f.features.map(bullet)] : []),
      ].join('\n');
    case 'platforms': {
      const lines: string[] = [];
      if (hasDownloads) lines.push(`${v} runs on: ${downloads.join(', ')}.`);
      if (f.hasWeb)
        lines.push(`${v} ${hasDownloads ? 'also has' : 'is'} a web app that runs in your browser.`);
      if (!lines.length) lines.push(`${v} is ${TYPE_LABEL[f.artifactType]}.`);
      lines.push('Another platform can be added as a change, for example “also for Windows”.');
      return lines.join('\n');
    }
    case 'download':
      return hasDownloads
        ? `${v} can be downloaded for ${downloads.join(', ')}: use “Download” next to your platform on the card above.`
        : `${v} is a web app, so there is nothing to download: open it with “Open the web app” on the card above. A downloadable program can be added as a change.`;
    case 'how_to_run': {
      const lines: string[] = [];
      if (f.hasWeb)
        lines.push(`Open ${v.toLowerCase()} with “Open the web app” on the card above; nothing to install.`);
      if (hasDownloads)
        lines.push(
          'Download the file for your computer from the card above and run it from a terminal; start it with --help to see how to use it. On macOS and Linux, allow it to run first (chmod +x and the file name).',
        );
      if (!lines.length)
        lines.push(`${v} is ${TYPE_LABEL[f.artifactType]}: its links are on the card above.`);
      return lines.join('\n');
    }
    case 'preview':
      return f.hasWeb
        ? `Open ${v.toLowerCase()} in a new tab with “Open the web app” on the card above, or try it inside this page with “Show it here”.`
        : `${v} is a downloadable program, so there is no web preview: download it from the card above. A web app can be added as a change, for example “add a web page too”.`;
    case 'checks': {
      if (f.passedChecks.length)
        return [
          `Before delivery, ${v.toLowerCase()} passed these agreed checks:`,
          ...f.passedChecks.map(bullet),
        ].join('\n');
      if (f.agreedChecks.length)
        return [
          `${v} was verified before delivery against the agreed checks:`,
          ...f.agreedChecks.map(bullet),
        ].join('\n');
      return `${v} was verified before delivery: it was built, started and checked against its approved scope.`;
    }
    case 'change_price':
      return `A change starts at ${formatAmount(f.revisionPrice.amountCents, f.revisionPrice.currency)}, plus what it adds (for example a web app or program on top, or more platforms). Tell me the change and I’ll show the exact price before anything is built; you pay only for a verified, working tool.`;
    case 'versions': {
      const list = f.versions.map(
        (x, i) =>
          `Version ${x.number}${i === f.versions.length - 1 ? ' (current)' : ''}, verified ${day(x.verifiedAt)}`,
      );
      return [
        `${f.title} has ${f.versions.length === 1 ? 'one version' : `${f.versions.length} versions`}:`,
        ...list.map(bullet),
        'Every version stays on the card with its own downloads and receipt.',
      ].join('\n');
    }
    case 'unknown':
      return `${f.changeQuoted ? 'Your tool and the quoted change stay as they are.' : 'Your tool stays as it is.'} I can answer what it does, which platforms it runs on, how to download, open or run it, how it was checked, which versions there are and what a change costs. Or tell me a change: a new name, a web app or a program, the platforms (Windows, Mac, Linux, Raspberry Pi), or a small extra such as a history or an export.`;
  }
}

const QUESTION_FORM =
  /\?\s*$|^\s*(how|what|what's|which|where|when|why|who|is|are|does|do|did|can i|could i|will|was|were|has|have|tell me|explain|show me)\b/i;

/** Words that make a message a request rather than a question ("could you also…", "add…"). */
const CHANGE_INTENT =
  /\b(also|add|adding|make|change|call it|name it|rename|instead|include|remove|drop|i want|i'?d like|i would like|please|could you|can you|would you)\b/i;

/** Keyword rules, first match wins (the offline intake and the model's fallback). */
const TOPIC_RULES: readonly [Exclude<QuestionTopic, 'unknown'>, RegExp][] = [
  ['change_price', /\b(cost|costs|price|pricing|how much|charge|charged|pay|fee|expensive|cheap)\b/i],
  ['versions', /\bversions?\b|\b(previous|earlier|older|old|first) (one|tool|build)\b|\bgo back\b/i],
  [
    'checks',
    /\b(check(ed|s)?|test(ed|s|ing)?|verif(y|ied|ication)|receipt|proof|proven|works? correctly)\b/i,
  ],
  [
    'platforms',
    /\b(platforms?|windows|mac|macs|macos|linux|ubuntu|raspberry|operating systems?|os|phone|iphone|android|ipad|tablet|chromebook|(run|runs|work|works) on)\b/i,
  ],
  ['download', /\b(download|downloads|downloading|get the file|file)\b/i],
  ['preview', /\b(preview|try it|see it|web app|browser|link)\b/i],
  ['how_to_run', /\b(run|start|launch|open|install|use it|use this|execute|terminal|command|help)\b/i],
  [
    'what_it_does',
    /\b(what (does|can|is) it|what it does|what did (i|you)|features?|able to|capable|scope|what'?s (it|included)|does it|can it)\b/i,
  ],
];

/** The topic of a message read as a question; `unknown` when no rule matches. */
export function classifyQuestion(text: string): QuestionTopic {
  for (const [topic, rule] of TOPIC_RULES) if (rule.test(text)) return topic;
  return 'unknown';
}

/**
 * A message that is plainly a question about the tool (question form, a known topic, no words of
 * a request): answered even when it names something a change could ("Does it run on Mac?").
 * A price question is left to the change rules first: "how much for a Mac version?" gets a quote.
 */
export function plainQuestion(text: string): QuestionTopic | undefined {
  if (!QUESTION_FORM.test(text) || CHANGE_INTENT.test(text)) return undefined;
  const topic = classifyQuestion(text);
  return topic === 'unknown' || topic === 'change_price' ? undefined : topic;
}
