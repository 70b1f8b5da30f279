import { deliverArtifacts } from '../../lib/app/deliver.ts';
import { s3Client } from '../../lib/aws/clients.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { presignScreenshot, signLocalDownload } from '../../lib/aws/download-links.ts';
import { previewUrl } from '../../lib/aws/preview-links.ts';
import type { VerifiedArtifact } from '../../lib/domain/manifest.ts';
import { deliveredChecks, toPublicArtifact } from '../../lib/domain/projection.ts';
import { ArtifactsQuerySchema, type PublicArtifact } from '../../lib/domain/public-schemas.ts';
import { requireCaller } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { previewSecret, sessionSecret } from '../shared/secrets.ts';

async function previewFor(runId: string, a: VerifiedArtifact): Promise<string | null> {
  const base = loadConfig().previewBaseUrl;
  if (a.kind !== 'web' || !base) return null;
  const entrypoint = a.entrypoint ?? 'index.html';
  const prefix = a.published_key.slice(0, a.published_key.length - entrypoint.length);
  return previewUrl(base, { runId, artifactId: a.artifact_id, prefix, entrypoint }, await previewSecret());
}

/** A short-lived link to the receipt's screenshot (presigned on AWS, a gateway token locally). */
async function screenshotFor(runId: string, a: VerifiedArtifact): Promise<string | null> {
  const key = a.receipt?.screenshot_key;
  if (!key) return null;
  const config = loadConfig();
  if (config.downloadMode === 'gateway') {
    const token = await signLocalDownload(
      { key, fileName: 'screenshot.png', runId, artifactId: a.artifact_id, part: 'screenshot' },
      await sessionSecret(),
    );
    return `/api/v1/downloads/${token}`;
  }
  return presignScreenshot(s3Client(), config.artifactsBucket, key);
}

async function withLinks(runId: string, a: VerifiedArtifact, pub: PublicArtifact): Promise<PublicArtifact> {
  const out: PublicArtifact = { ...pub, preview_url: await previewFor(runId, a) };
  if (out.receipt) out.receipt = { ...out.receipt, screenshot_url: await screenshotFor(runId, a) };
  return out;
}

/**
 * GET /api/v1/build-runs/{run_id}/artifacts[?version=N]: the current (or version N's) verified
 * artifacts only, public fields only, with download routes, for web apps a signed preview link on
 * the separate preview origin, and with each artifact's receipt (the agreed checks it passed; a
 * short-lived link to its screenshot).
 */
export const handler = apiHandler(async (event) => {
  const caller = await requireCaller(event);
  const query = parse(ArtifactsQuerySchema, event.queryStringParameters ?? {});
  const { run, artifacts, version } = await deliverArtifacts(
    appDeps(),
    caller,
    event.pathParameters?.run_id ?? '',
    query.version,
  );
  const out = await Promise.all(
    artifacts.map((a) =>
      withLinks(run.runId, a, toPublicArtifact(a, run.runId, deliveredChecks(run, query.version))),
    ),
  );
  return json(200, { version, artifacts: out });
});
