import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CheckOutcomeSchema, MAX_CHECKS, WebCheckSchema } from '../domain/acceptance.ts';
import { runWebChecks } from './acceptance/web-runner.ts';
import {
  CandidateFault,
  downloadVerified,
  type IsolatedSmokeOptions,
  resetEnvironment,
} from './isolated-smoke.ts';
import { manifestPathProblem } from './paths.ts';
import { renderCheck } from './render-check.ts';

/** Bounds of one web artifact handed to the WebChecks function. */
export const MAX_WEB_FILES = 400;
export const MAX_WEB_BYTES = 64 * 1024 * 1024;
/** Budget of one web check here: 8 of them, the render and the download fit the function's 240 s. */
export const ISOLATED_CHECK_TIMEOUT_MS = 25_000;

const RelPathSchema = z
  .string()
  .min(1)
  .max(300)
  .superRefine((p, ctx) => {
    const problem = manifestPathProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * The WebChecks function's input: short-lived presigned GETs of every file of one staged web
 * artifact (path relative to the artifact's directory, sha256 and size as VerifyArtifacts
 * verified them), the entry page, and what to run: the render check and / or the web checks.
 */
export const WebChecksRequestSchema = z
  .strictObject({
    files: z
      .array(
        z.strictObject({
          path: RelPathSchema,
          url: z.string().url(),
          sha256: z.string().regex(/^[a-f0-9]{64}$/),
          sizeBytes: z.number().int().nonnegative().max(MAX_WEB_BYTES),
        }),
      )
      .min(1)
      .max(MAX_WEB_FILES),
    entrypoint: RelPathSchema,
    render: z.boolean().default(false),
    checks: z.array(WebCheckSchema).max(MAX_CHECKS).default([]),
    screenshot: z.boolean().default(false),
  })
  .refine((r) => r.files.reduce((t, f) => t + f.sizeBytes, 0) <= MAX_WEB_BYTES, {
    message: `the web files add up to more than ${MAX_WEB_BYTES} bytes`,
  })
  .refine((r) => new Set(r.files.map((f) => f.path)).size === r.files.length, {
    message: 'a file is listed twice',
  });
export type WebChecksRequest = z.input<typeof WebChecksRequestSchema>;

const RenderResultSchema = z.object({
  status: z.enum(['passed', 'failed', 'skipped']),
  problems: z.array(z.string()),
  notes: z.array(z.string()),
});

/**
 * The function's answer. `refused`: the staged bytes are not what the manifest says (nothing
 * ran). The screenshot is base64 PNG, at most the web runner's 2 MiB (≈ 2.7 MB of base64: the
 * answer stays well below Lambda's 6 MB response limit).
 */
export const WEB_CHECKS_RESULT_SCHEMA = z.object({
  refused: z.string().optional(),
  render: RenderResultSchema.optional(),
  web: z.object({
    status: z.enum(['ran', 'skipped']),
    outcomes: z.array(CheckOutcomeSchema),
    notes: z.array(z.string()),
  }),
  screenshotBase64: z.string().max(3_000_000).optional(),
});
export type IsolatedWebChecksResult = z.infer<typeof WEB_CHECKS_RESULT_SCHEMA>;

export interface IsolatedWebChecksOptions extends Pick<IsolatedSmokeOptions, 'allowHttp' | 'fetch'> {
  /** Parent of the rebuilt directory (default: `<os temp>/web-checks`; emptied with `resetEnvironment`). */
  workDir?: string;
  /** The Chromium to use and its command line (Lambda: @sparticuz/chromium). Default: findBrowser. */
  browser?: () => Promise<{ executablePath: string; args?: readonly string[] }>;
  /** As in lib/verify/isolated-smoke.ts: nothing of one candidate survives into the next. */
  resetEnvironment?: boolean;
}

/**
 * The WebChecks function's work: rebuild the staged web artifact in a fresh directory from the
 * presigned GETs (each file streamed, its size and sha256 checked), then run the render check
 * and the web checks on it in Chromium (the same code as the local gate: lib/verify/render-check.ts
 * and lib/verify/acceptance/web-runner.ts), and delete it. A file that does not match is a
 * `refused` result; an invalid request or a failed download throws (not the candidate's fault).
 */
export async function isolatedWebChecks(
  input: unknown,
  opts: IsolatedWebChecksOptions = {},
): Promise<IsolatedWebChecksResult> {
  const req = WebChecksRequestSchema.parse(input);
  if (!req.files.some((f) => f.path === req.entrypoint))
    throw new Error('the entrypoint is not among the files');
  for (const f of req.files) {
    const protocol = new URL(f.url).protocol;
    if (protocol !== 'https:' && !(opts.allowHttp && protocol === 'http:'))
      throw new Error(`WebChecks: refusing a ${protocol} URL (https only)`);
  }
  const workDir = opts.workDir ?? path.join(os.tmpdir(), 'web-checks');
  await mkdir(workDir, { recursive: true });
  if (opts.resetEnvironment) await resetEnvironment(workDir);
  const dir = await mkdtemp(path.join(workDir, 'site-'));
  try {
    try {
      for (const f of req.files) {
        const file = path.join(dir, ...f.path.split('/'));
        await mkdir(path.dirname(file), { recursive: true });
        await downloadVerified(new URL(f.url), file, f, opts, `the staged file ${f.path}`);
      }
    } catch (err) {
      if (err instanceof CandidateFault)
        return { refused: err.message, web: { status: 'ran', outcomes: [], notes: [] } };
      throw err;
    }
    const launch = opts.browser ? await opts.browser() : undefined;
    const browser = launch?.executablePath;
    const launchArgs = launch?.args;
    const render = req.render
      ? await renderCheck({ dir, entrypoint: req.entrypoint, browser, ...(launchArgs && { launchArgs }) })
      : undefined;
    const web =
      req.checks.length > 0
        ? await runWebChecks({
            dir,
            entrypoint: req.entrypoint,
            checks: req.checks,
            screenshot: req.screenshot,
            checkTimeoutMs: ISOLATED_CHECK_TIMEOUT_MS,
            browser,
            ...(launchArgs && { launchArgs }),
          })
        : { status: 'ran' as const, outcomes: [], notes: [] };
    return {
      ...(render && { render }),
      web: { status: web.status, outcomes: web.outcomes, notes: web.notes },
      ...('screenshot' in web && web.screenshot && { screenshotBase64: web.screenshot.toString('base64') }),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (opts.resetEnvironment) await resetEnvironment(workDir);
  }
}
