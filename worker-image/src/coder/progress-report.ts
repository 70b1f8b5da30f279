import type { ToolSpec } from '../../../lib/ai/model.ts';
import { CODER_STAGE_SENTENCES, CODER_STAGES, type CoderStage } from '../../../lib/domain/events.ts';
import { featuresDoneSentence } from '../../../lib/domain/projection.ts';

/**
 * Coder progress, safe by construction: a coder names an approved spec feature (by its number, or
 * its exact title) or one stage of a fixed list — never text. The worker turns a report into a
 * `bus.build.progress.updated` event carrying only that number or stage, and the public
 * projection turns it into a fixed sentence ("Done: <the approved feature's own words>.").
 * The model reports through the `report_progress` tool; an external agent prints
 * `BUSDK-PROGRESS {"feature":2}` / `BUSDK-PROGRESS {"stage":"testing"}` lines on stdout.
 */

export type CoderProgress = { feature: number } | { stage: CoderStage };

export const REPORT_PROGRESS_TOOL = 'report_progress';
export const PROGRESS_LINE_PREFIX = 'BUSDK-PROGRESS ';

/** A report that is refused; the message says what is accepted. */
export class ProgressRefusal extends Error {}

export function progressToolSpec(featureCount: number): ToolSpec {
  return {
    name: REPORT_PROGRESS_TOOL,
    description:
      'Tell the customer how the build is going. Pass exactly one of: feature = the number (1 = first) of an approved feature of the request that now works and is tested, which the customer sees as "Done: <that feature, in the approved words>."; or stage = what you are doing now, shown as a fixed sentence. No other text reaches the customer. Shown at most once every few seconds; repeats are shown once.',
    inputSchema: {
      type: 'object',
      properties: {
        feature: {
          type: 'integer',
          minimum: 1,
          maximum: Math.max(1, featureCount),
          description: 'Number of the approved feature in the request (1 = first).',
        },
        stage: { type: 'string', enum: [...CODER_STAGES] },
      },
      additionalProperties: false,
    },
  };
}

/** Validates a report against the approved features; throws {@link ProgressRefusal}. */
export function parseProgressReport(input: unknown, features: readonly string[]): CoderProgress {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ProgressRefusal(
      'the report must be a JSON object: {"feature": <number>} or {"stage": "<stage>"}',
    );
  }
  const keys = Object.keys(input);
  const accepted = `pass exactly one of feature (1–${features.length}) or stage (${CODER_STAGES.join(', ')}); nothing else reaches the customer`;
  if (keys.length !== 1 || (keys[0] !== 'feature' && keys[0] !== 'stage')) {
    throw new ProgressRefusal(accepted);
  }
  const value = (input as Record<string, unknown>)[keys[0]!];
  if (keys[0] === 'stage') {
    if (typeof value === 'string' && (CODER_STAGES as string[]).includes(value)) {
      return { stage: value as CoderStage };
    }
    throw new ProgressRefusal(`stage must be one of ${CODER_STAGES.join(', ')}`);
  }
  if (features.length === 0) throw new ProgressRefusal('the request lists no features; report a stage');
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,2}$/.test(value.trim())
        ? Number(value.trim())
        : typeof value === 'string'
          ? features.indexOf(value.trim()) + 1 || Number.NaN
          : Number.NaN;
  if (!Number.isInteger(number) || number < 1 || number > features.length) {
    throw new ProgressRefusal(
      `feature must be the number (1–${features.length}) or the exact title of an approved feature; free text, paths and other values are refused`,
    );
  }
  return { feature: number };
}

/** The sentence the customer will see for a report (for the tool result and the logs). */
export function progressSentence(report: CoderProgress, features: readonly string[]): string {
  return 'feature' in report
    ? (featuresDoneSentence([report.feature], features) ?? '')
    : CODER_STAGE_SENTENCES[report.stage];
}

/**
 * One stdout line of an external agent: `undefined` when it is not a progress line, a report, or
 * a refusal (logged by the caller, never shown).
 */
export function parseProgressLine(
  line: string,
  features: readonly string[],
): CoderProgress | ProgressRefusal | undefined {
  const text = line.trim();
  if (!text.startsWith(PROGRESS_LINE_PREFIX.trim())) return undefined;
  const json = text.slice(PROGRESS_LINE_PREFIX.trim().length).trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return new ProgressRefusal('a BUSDK-PROGRESS line must carry one JSON object');
  }
  try {
    return parseProgressReport(parsed, features);
  } catch (err) {
    return err instanceof ProgressRefusal ? err : new ProgressRefusal('invalid progress report');
  }
}
