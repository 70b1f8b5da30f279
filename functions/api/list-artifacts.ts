import { deliverArtifacts } from '../../lib/app/deliver.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { previewUrl } from '../../lib/aws/preview-links.ts';
import type { VerifiedArtifact } from '../../lib/domain/manifest.ts';
import { toPublicArtifact } from '../../lib/domain/projection.ts';
import { ArtifactsQuerySchema } from '../../lib/domain/public-schemas.ts';
import { requireCaller } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { previewSecret } from '../shared/secrets.ts';

async function previewFor(runId: string, a: VerifiedArtifact): Promise<string | null> {
  const base = loadConfig().previewBaseUrl;
  if (a.kind !== 'web' || !base) return null;
  const entrypoint = a.entrypoint ?? 'index.html';
  const prefix = a.published_key.slice(0, a.published_key.length - entrypoint.length);
  return previewUrl(base, { runId, artifactId: a.artifact_id, prefix, entrypoint }, await previewSecret());
}

/**
 * GET /api/v1/build-runs/{run_id}/artifacts[?version=N]: the current (or version N's) verified artifacts only, public fields only, with
 * download routes and, for web apps, a signed preview link on the separate preview origin.
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
    artifacts.map(async (a) => ({
      ...toPublicArtifact(a, run.runId),
      preview_url: await previewFor(run.runId, a),
    })),
  );
  return json(200, { version, artifacts: out });
});
