import { downloadFileName, resolveDownload } from '../../lib/app/deliver.ts';
import { s3Client } from '../../lib/aws/clients.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { presignDownload, signLocalDownload } from '../../lib/aws/download-links.ts';
import { requireCaller } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { apiHandler } from '../shared/http.ts';
import { sessionSecret } from '../shared/secrets.ts';

/**
 * GET /api/v1/build-runs/{run_id}/artifacts/{artifact_id}/download: owner only, verified only.
 * AWS: 302 to a short-lived presigned S3 URL. Local stack (`DOWNLOAD_MODE=gateway`): 302 to a
 * signed, expiring link that the local gateway checks itself (s3rver verifies no signatures).
 */
export const handler = apiHandler(async (event) => {
  const caller = await requireCaller(event);
  const runId = event.pathParameters?.run_id ?? '';
  const artifact = await resolveDownload(appDeps(), caller, runId, event.pathParameters?.artifact_id ?? '');
  const config = loadConfig();
  const fileName = downloadFileName(artifact);
  const location =
    config.downloadMode === 'gateway'
      ? `/api/v1/downloads/${await signLocalDownload(
          { key: artifact.published_key, fileName, runId, artifactId: artifact.artifact_id },
          await sessionSecret(),
        )}`
      : await presignDownload(s3Client(), config.artifactsBucket, artifact.published_key, fileName);
  return { statusCode: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
});
