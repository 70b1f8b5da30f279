import type { LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { AcceptanceRunners, CandidateChecksRequest, RemoteRender } from '../app/orchestrator/ports.ts';
import type { CheckOutcome, CliCheck, WebCheck } from '../domain/acceptance.ts';
import type { WebChecksResult } from '../verify/acceptance/types.ts';
import { sha256File } from '../verify/hash.ts';
import {
  type IsolatedWebChecksResult,
  WEB_CHECKS_RESULT_SCHEMA,
  type WebChecksRequest,
} from '../verify/isolated-web-checks.ts';
import { walkCandidate } from '../verify/paths.ts';
import type { RenderCheckResult } from '../verify/render-check.ts';
import { SmokeRunnerError } from '../verify/smoke-binary.ts';
import { invokeIsolated } from './isolated-invoke.ts';
import { keys } from './keys.ts';
import { type LambdaSmokeRunner, SMOKE_URL_TTL_SECONDS } from './smoke-invoker.ts';

type EntryRequest = Omit<CandidateChecksRequest<never>, 'checks'>;

/**
 * AWS: the gate's acceptance checks and render check in the isolated functions, never in the
 * worker that ran the model's code. CLI checks run in the SmokeBinary function (`kind:
 * 'cli-checks'`, {@link LambdaSmokeRunner.runChecks}); the render check and the web checks in the
 * WebChecks function (`WEB_CHECK_FUNCTION_NAME`, Chromium for Lambda). For a web artifact this
 * presigns a short-lived GET of every file of the staged entry and sends each file's sha256 and
 * size as the gate's verified copy has them; the function rebuilds the directory and checks them.
 */
export class LambdaAcceptanceRunners implements AcceptanceRunners, RemoteRender {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly s3: S3Client,
    private readonly smoke: LambdaSmokeRunner,
    private readonly webFunctionName: string,
    private readonly stagingBucket: string,
    private readonly urlTtlSeconds = SMOKE_URL_TTL_SECONDS,
  ) {}

  cli(req: CandidateChecksRequest<CliCheck>): Promise<CheckOutcome[]> {
    return this.smoke.runChecks({
      key: keys.candidate(req.runId, req.attempt, req.entry.path),
      sha256: req.entry.sha256,
      sizeBytes: req.entry.size_bytes,
      platform: req.entry.platform ?? 'unknown',
      checks: req.checks,
    });
  }

  async web(req: CandidateChecksRequest<WebCheck> & { screenshot: boolean }): Promise<WebChecksResult> {
    const r = await this.invoke(req, { checks: [...req.checks], screenshot: req.screenshot });
    if (r.refused !== undefined) {
      return {
        status: 'ran',
        outcomes: req.checks.map((c) => ({
          id: c.id,
          kind: 'web',
          passed: false,
          ranOn: 'web',
          durationMs: 0,
          detail: r.refused,
        })),
        notes: [],
      };
    }
    return {
      status: r.web.status,
      outcomes: r.web.outcomes,
      notes: r.web.notes,
      ...(r.screenshotBase64 && { screenshot: Buffer.from(r.screenshotBase64, 'base64') }),
    };
  }

  async render(req: EntryRequest): Promise<RenderCheckResult> {
    const r = await this.invoke(req, { render: true });
    if (r.refused !== undefined) return { status: 'failed', problems: [r.refused], notes: [] };
    if (!r.render) throw new SmokeRunnerError('the web check function returned no render result');
    return r.render;
  }

  private async invoke(
    req: EntryRequest,
    what: Pick<WebChecksRequest, 'checks' | 'screenshot' | 'render'>,
  ): Promise<IsolatedWebChecksResult> {
    const tree = await walkCandidate(req.path, { maxEntries: 1_000 });
    if (tree.problems.length > 0 || tree.truncated)
      throw new SmokeRunnerError('the verified web copy cannot be handed to the web check function');
    const files: WebChecksRequest['files'] = [];
    for (const f of tree.files) {
      const key = keys.candidate(req.runId, req.attempt, `${req.entry.path}/${f.rel}`);
      files.push({
        path: f.rel,
        url: await getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.stagingBucket, Key: key }), {
          expiresIn: this.urlTtlSeconds,
        }),
        sha256: await sha256File(f.abs),
        sizeBytes: f.size,
      });
    }
    const payload: WebChecksRequest = {
      files,
      entrypoint: req.entry.entrypoint ?? 'index.html',
      ...what,
    };
    return invokeIsolated(this.lambda, this.webFunctionName, payload, WEB_CHECKS_RESULT_SCHEMA, 'web check');
  }
}
