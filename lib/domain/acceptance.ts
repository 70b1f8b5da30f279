import { z } from 'zod';

/**
 * Acceptance checks: the small, safe contract of what "verified" means for one build. A quote
 * carries 2–8 black-box checks with customer-facing titles; the visitor approves them with the
 * scope, the coder builds to them, and the gate runs every one against the exact bytes it
 * publishes. Pure: no fs, no AWS, no browser.
 *
 * Safe by construction:
 * - `cli` checks run the candidate binary with an argument array (never a shell), optional bounded
 *   standard input and bounded expectations.
 * - `web` checks address the page only as a person would: by a field's label, a control's role and
 *   accessible name, or visible text. No CSS selectors, no scripts, no URLs, no paths.
 * - Every text that addresses the page or is shown to the visitor is refused when it looks like a
 *   selector, a script, a URL or a path; values typed into the tool are only size-limited.
 */

export const MIN_CHECKS = 2;
export const MAX_CHECKS = 8;
export const MAX_STEPS = 20;
export const MAX_EXPECTATIONS = 8;
export const MAX_ARGS = 16;
export const MAX_STDIN_BYTES = 8 * 1024;
export const MAX_FILE_BYTES = 64 * 1024;
export const MAX_VALUE_CHARS = 2_000;
export const MAX_CLI_TIMEOUT_MS = 10_000;
export const MAX_WAIT_MS = 10_000;

// --- refusal rules --------------------------------------------------------------------------

/** Why a text that addresses the page (or is shown to the visitor) is refused; undefined if fine. */
export function addressingProblem(text: string): string | undefined {
  const t = text.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(text)) return 'contains control characters';
  if (/[a-z][a-z0-9+.-]*:\/\//i.test(t) || /\bwww\./i.test(t)) return 'looks like a URL';
  if (/^(javascript|data|file|blob|vbscript|about):/i.test(t) || /\b(javascript|vbscript|blob):/i.test(t))
    return 'looks like a URL';
  if (/\b(data|file|about):\S/i.test(t)) return 'looks like a URL';
  if (/\\/.test(t) || /^[a-z]:[\\/]/i.test(t)) return 'looks like a path';
  if (/^(\.{0,2}\/|~\/)/.test(t) || /(^|[\s"'(])\.\.?\//.test(t) || /\/[\w.-]+\/[\w.-]/.test(t))
    return 'looks like a path';
  if (
    /^(css|xpath|text|id|role|internal|nth|data-testid)\s*[=:]/i.test(t) ||
    /\b(css|xpath|internal|nth|data-testid)\s*=/i.test(t) ||
    /\b(text|id|role)=\S/i.test(t) ||
    t.includes('>>')
  )
    return 'looks like a selector';
  if (
    /^[#.[]/.test(t) ||
    /(^|\s)#[a-z_-][\w-]*/i.test(t) ||
    /\[[a-z-]+(=|\])/i.test(t) ||
    /:(nth-|has\(|is\(|not\()/.test(t)
  )
    return 'looks like a selector';
  if (/[<>`{}]/.test(t)) return 'contains markup or script characters (< > ` { })';
  if (/\b(document|window|globalThis|localStorage)\s*\./.test(t) || /=>|\bfunction\s*\(/.test(t))
    return 'looks like a script';
  if (/\bon[a-z]+\s*=/i.test(t) || /\beval\s*\(/.test(t)) return 'looks like a script';
  return undefined;
}

/** Why a value handed to the tool (typed, piped, an argument) is refused; undefined if fine. */
function dataProblem(text: string): string | undefined {
  // Tab, newline and carriage return are data; other control characters are not.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return 'contains control characters';
  return undefined;
}

/** Why a command-line argument is refused: it must not name a file outside the tool's own input. */
export function argumentProblem(arg: string): string | undefined {
  const data = dataProblem(arg);
  if (data) return data;
  if (/[\n\r]/.test(arg)) return 'contains a line break';
  if (/^(\/|~|[a-z]:[\\/])/i.test(arg) || /(^|[\\/])\.\.([\\/]|$)/.test(arg)) return 'looks like a path';
  if (/[a-z][a-z0-9+.-]*:\/\//i.test(arg)) return 'looks like a URL';
  return undefined;
}

/**
 * Why a regular expression of a `matches` expectation is refused. It must compile, stay short and
 * carry no nested quantifier (the catastrophic-backtracking shape `(a+)+`), since the gate runs it.
 */
export function patternProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern, 'u');
  } catch {
    return 'is not a valid regular expression';
  }
  if (/\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]/.test(pattern)) return 'has a nested quantifier';
  if (/\\[1-9]|\\k</.test(pattern)) return 'uses a back-reference';
  if (/\(\?<?[=!]/.test(pattern)) return 'uses a look-around';
  return undefined;
}

const refine =
  (problem: (s: string) => string | undefined) =>
  (s: string, ctx: z.RefinementCtx): void => {
    const p = problem(s);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  };

/** A customer-facing title: the approved spec's own words. */
const TitleSchema = z.string().trim().min(3).max(120).superRefine(refine(addressingProblem));
/** A label, an accessible name, an option or visible text: how a person finds something. */
const HumanTextSchema = z.string().trim().min(1).max(120).superRefine(refine(addressingProblem));
/** Text expected in output or on the page. */
const ExpectedTextSchema = z.string().min(1).max(500).superRefine(refine(dataProblem));
const ValueSchema = z.string().max(MAX_VALUE_CHARS).superRefine(refine(dataProblem));
const CheckIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'use lower-case letters, digits and -');

/** A number with a tolerance: any number within `tolerance` of `value` matches. */
const NumberExpectationSchema = z
  .object({
    value: z.number().finite(),
    tolerance: z.number().finite().nonnegative().max(1e9).default(0),
    /** Only numbers on a line (CLI) or in a text block (web) that also contains this text. */
    near: HumanTextSchema.optional(),
  })
  .strict();

// --- cli ----------------------------------------------------------------------------------------

export const CliExpectationSchema = z.discriminatedUnion('op', [
  z
    .object({
      op: z.enum(['contains', 'not_contains', 'equals']),
      stream: z.enum(['stdout', 'stderr']).default('stdout'),
      value: ExpectedTextSchema,
      ignoreCase: z.boolean().default(false),
    })
    .strict(),
  z
    .object({
      op: z.literal('matches'),
      stream: z.enum(['stdout', 'stderr']).default('stdout'),
      pattern: z.string().min(1).max(200).superRefine(refine(patternProblem)),
    })
    .strict(),
  z
    .object({ op: z.literal('number'), stream: z.enum(['stdout', 'stderr']).default('stdout') })
    .extend(NumberExpectationSchema.shape)
    .strict(),
]);
export type CliExpectation = z.infer<typeof CliExpectationSchema>;

export const CliCheckSchema = z
  .object({
    kind: z.literal('cli'),
    id: CheckIdSchema,
    title: TitleSchema,
    args: z.array(z.string().max(200).superRefine(refine(argumentProblem))).max(MAX_ARGS),
    stdin: z
      .string()
      .superRefine(refine(dataProblem))
      .refine((s) => Buffer.byteLength(s) <= MAX_STDIN_BYTES, `standard input over ${MAX_STDIN_BYTES} bytes`)
      .optional(),
    exitCode: z.number().int().min(0).max(255).default(0),
    expect: z.array(CliExpectationSchema).min(1).max(MAX_EXPECTATIONS),
    timeoutMs: z.number().int().min(100).max(MAX_CLI_TIMEOUT_MS).default(5_000),
  })
  .strict();
export type CliCheck = z.infer<typeof CliCheckSchema>;

// --- web ----------------------------------------------------------------------------------------

/** Roles a click may address. */
export const CLICK_ROLES = [
  'button',
  'link',
  'tab',
  'menuitem',
  'radio',
  'checkbox',
  'option',
  'switch',
] as const;
/** Keys a check may press. */
export const KEYS = [
  'Enter',
  'Tab',
  'Escape',
  'Space',
  'Backspace',
  'Delete',
  'ArrowUp',
  'ArrowDown',
  'ArrowLeft',
  'ArrowRight',
  'Home',
  'End',
] as const;

const FileNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/, 'a plain file name (letters, digits, space, _ . -)')
  .refine((s) => !s.includes('..'), 'a plain file name');

export const WebStepSchema = z.discriminatedUnion('action', [
  /** Type into the field with this label (replaces its content). */
  z.object({ action: z.literal('fill'), label: HumanTextSchema, value: ValueSchema }).strict(),
  /** Choose the option with this visible text in the select with this label. */
  z.object({ action: z.literal('select'), label: HumanTextSchema, option: HumanTextSchema }).strict(),
  /** Tick (or untick) the checkbox or switch with this label. */
  z
    .object({ action: z.literal('check'), label: HumanTextSchema, checked: z.boolean().default(true) })
    .strict(),
  /** Click the control with this role and accessible name. */
  z
    .object({
      action: z.literal('click'),
      role: z.enum(CLICK_ROLES).default('button'),
      name: HumanTextSchema,
    })
    .strict(),
  /** Pick a file (content given inline) in the file field with this label. */
  z
    .object({
      action: z.literal('upload'),
      label: HumanTextSchema,
      file: z
        .object({
          name: FileNameSchema,
          content: z
            .string()
            .refine(
              (s) => Buffer.byteLength(s) <= MAX_FILE_BYTES,
              `file content over ${MAX_FILE_BYTES} bytes`,
            ),
          mimeType: z
            .string()
            .regex(/^[a-z]+\/[a-z0-9.+-]+$/)
            .default('text/plain'),
        })
        .strict(),
    })
    .strict(),
  /** Press a key, in the field with this label when given, else where the focus is. */
  z.object({ action: z.literal('press'), key: z.enum(KEYS), label: HumanTextSchema.optional() }).strict(),
  /** Wait until this text is visible. */
  z
    .object({
      action: z.literal('wait_for_text'),
      text: HumanTextSchema,
      timeoutMs: z.number().int().min(100).max(MAX_WAIT_MS).default(5_000),
    })
    .strict(),
]);
export type WebStep = z.infer<typeof WebStepSchema>;

export const WebExpectationSchema = z.discriminatedUnion('type', [
  /** The page shows this text (or, with `visible: false`, does not). */
  z
    .object({
      type: z.literal('text'),
      text: HumanTextSchema,
      visible: z.boolean().default(true),
      ignoreCase: z.boolean().default(false),
    })
    .strict(),
  /** A number within the tolerance is shown on the page. */
  z
    .object({ type: z.literal('number') })
    .extend(NumberExpectationSchema.shape)
    .strict(),
  /** The field with this label holds this value (or a number within the tolerance). */
  z
    .object({
      type: z.literal('field'),
      label: HumanTextSchema,
      equals: ValueSchema.optional(),
      number: NumberExpectationSchema.omit({ near: true }).optional(),
    })
    .strict()
    .refine(
      (e) => (e.equals === undefined) !== (e.number === undefined),
      'give exactly one of equals or number',
    ),
  /** The last download the steps started contains each text. */
  z
    .object({
      type: z.literal('download'),
      contains: z.array(ExpectedTextSchema).min(1).max(MAX_EXPECTATIONS),
      fileName: FileNameSchema.optional(),
    })
    .strict(),
]);
export type WebExpectation = z.infer<typeof WebExpectationSchema>;

export const WebCheckSchema = z
  .object({
    kind: z.literal('web'),
    id: CheckIdSchema,
    title: TitleSchema,
    steps: z.array(WebStepSchema).max(MAX_STEPS),
    expect: z.array(WebExpectationSchema).min(1).max(MAX_EXPECTATIONS),
  })
  .strict();
export type WebCheck = z.infer<typeof WebCheckSchema>;

export const AcceptanceCheckSchema = z.discriminatedUnion('kind', [CliCheckSchema, WebCheckSchema]);
export type AcceptanceCheck = z.infer<typeof AcceptanceCheckSchema>;
/** What an author writes (defaults not yet applied). */
export type AcceptanceCheckInput = z.input<typeof AcceptanceCheckSchema>;

/** The checks of one quote: ids unique, 2–8 of them (0 only for a spec that predates checks). */
export const AcceptanceChecksSchema = z
  .array(AcceptanceCheckSchema)
  .max(MAX_CHECKS)
  .superRefine((checks, ctx) => {
    const seen = new Set<string>();
    for (const c of checks) {
      if (seen.has(c.id)) ctx.addIssue({ code: 'custom', message: `duplicate check id ${c.id}` });
      seen.add(c.id);
    }
  });

// --- use ----------------------------------------------------------------------------------------

export interface ParsedChecks {
  checks: AcceptanceCheck[];
  /** One line per refused check: `#index (id): reason`. For logs; never shown to the visitor. */
  dropped: string[];
}

/** Parses proposed checks one by one: the valid ones are kept, each invalid one is dropped with a reason. */
export function parseChecks(input: unknown): ParsedChecks {
  const list = Array.isArray(input) ? input : [];
  const out: ParsedChecks = { checks: [], dropped: [] };
  if (!Array.isArray(input)) out.dropped.push('checks: not a list');
  const seen = new Set<string>();
  list.forEach((raw, i) => {
    const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : '?';
    const parsed = AcceptanceCheckSchema.safeParse(raw);
    if (!parsed.success) {
      out.dropped.push(`#${i} (${id.slice(0, 40)}): ${describeIssues(parsed.error)}`);
    } else if (seen.has(parsed.data.id)) {
      out.dropped.push(`#${i} (${parsed.data.id}): duplicate id`);
    } else if (out.checks.length >= MAX_CHECKS) {
      out.dropped.push(`#${i} (${parsed.data.id}): more than ${MAX_CHECKS} checks`);
    } else {
      seen.add(parsed.data.id);
      out.checks.push(parsed.data);
    }
  });
  return out;
}

/** A short, internal description of why a check was refused (`path: message; …`). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 4)
    .map((i) => `${i.path.join('.') || 'check'}: ${i.message}`)
    .join('; ');
}

/** The checks that apply to an artifact type: cli checks need a binary, web checks a web app. */
export function checksFor(
  checks: readonly AcceptanceCheck[],
  artifactType: 'web' | 'binary' | 'both',
): AcceptanceCheck[] {
  return checks.filter((c) => (c.kind === 'cli' ? artifactType !== 'web' : artifactType !== 'binary'));
}

/** Whether a set of checks is enough to quote: at least {@link MIN_CHECKS} that apply. */
export function enoughChecks(
  checks: readonly AcceptanceCheck[],
  artifactType: 'web' | 'binary' | 'both',
): boolean {
  const applicable = checksFor(checks, artifactType);
  if (applicable.length < MIN_CHECKS) return false;
  // A tool delivered both ways is checked both ways.
  if (artifactType === 'both')
    return applicable.some((c) => c.kind === 'cli') && applicable.some((c) => c.kind === 'web');
  return true;
}

// --- results and the receipt -----------------------------------------------------------------

/** The outcome of one check as the gate (or the coder's self-check) ran it. */
export const CheckOutcomeSchema = z
  .object({
    id: CheckIdSchema,
    kind: z.enum(['cli', 'web']),
    passed: z.boolean(),
    /** Platform of the binary the cli check ran on, or `web`. */
    ranOn: z.string().max(40),
    durationMs: z.number().int().nonnegative(),
    /** Internal: the failing step, expected vs. got (truncated). Never public. */
    detail: z.string().max(2_000).optional(),
  })
  .strict();
export type CheckOutcome = z.infer<typeof CheckOutcomeSchema>;

/** Clips a text for a check's detail: head and tail kept. */
export function clipDetail(text: string, max = 300): string {
  if (text.length <= max) return text;
  const half = Math.floor((max - 3) / 2);
  return `${text.slice(0, half)}…${text.slice(text.length - half)}`;
}
