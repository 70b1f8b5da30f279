import { beforeEach, describe, expect, it } from 'vitest';
import { setAppDeps } from '../../functions/shared/deps.ts';
import { resetSecretCache } from '../../functions/shared/secrets.ts';
import { issueSession } from '../../functions/shared/session.ts';
import { resetClients } from '../../lib/aws/clients.ts';
import { verifyLocalDownload } from '../../lib/aws/download-links.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { newBuildRun } from '../../lib/domain/lifecycle.ts';
import type { VerifiedArtifact } from '../../lib/domain/manifest.ts';
import { parsePriceTable } from '../../lib/domain/pricing.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { apiEvent, context, type Result } from '../support/api-event.ts';
import { MemoryPublisher, MemoryRunStore, OWNER, T0 } from './orchestrator-fakes.ts';

/**
 * GET …/artifacts/{artifact_id}/download on AWS (DOWNLOAD_MODE unset = `presign`): a 302 to a
 * short-lived presigned S3 URL of the published object, as an attachment with a safe file name.
 */
process.env.SESSION_SECRET = 'unit-test-secret-unit-test-secret';
process.env.LOG_LEVEL = 'silent';
process.env.ARTIFACTS_BUCKET = 'bus-build-artifacts-prod';
process.env.AWS_REGION = 'eu-north-1';
process.env.AWS_ACCESS_KEY_ID = 'AKIAEXAMPLEEXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY = 'secret/example/key';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_ENDPOINT_URL_S3;
delete process.env.AWS_ENDPOINT_URL;
delete process.env.DOWNLOAD_MODE;

const { handler } = await import('../../functions/api/download-artifact.ts');

const SHA = 'b'.repeat(64);
function artifact(over: Partial<VerifiedArtifact> & Pick<VerifiedArtifact, 'artifact_id'>): VerifiedArtifact {
  return {
    kind: 'binary',
    name: 'Tip calculator',
    path: 'dist/bin/linux-amd64/tip',
    sha256: SHA,
    size_bytes: 2_000_000,
    platform: 'linux-amd64',
    source_included: false,
    published_key: `runs/x/${over.artifact_id}/tip`,
    content_type: 'application/octet-stream',
    verified_at: T0,
    ...over,
  };
}

let store: MemoryRunStore;
let run: BuildRun;

beforeEach(async () => {
  resetClients();
  resetSecretCache();
  delete process.env.DOWNLOAD_MODE;
  store = new MemoryRunStore();
  const base = newBuildRun(OWNER, T0);
  const key = (id: string, file: string) => `runs/${base.runId}/${id}/${file}`;
  run = {
    ...base,
    phase: 'artifact_ready',
    version: 7,
    payment: { status: 'manual_approved', method: 'manual' },
    artifacts: [
      artifact({ artifact_id: 'tool-linux', published_key: key('tool-linux', 'tip') }),
      artifact({
        artifact_id: 'tool-windows',
        name: 'Tip "calc"\r\n; x=y',
        platform: 'windows-amd64',
        published_key: key('tool-windows', 'tip.exe'),
      }),
      artifact({
        artifact_id: 'web',
        kind: 'web',
        name: 'Tip calculator',
        platform: undefined,
        entrypoint: 'index.html',
        published_key: key('web', 'index.html'),
        content_type: 'text/html; charset=utf-8',
      }),
    ],
  };
  await store.createRun(run);
  setAppDeps({
    store,
    publisher: new MemoryPublisher(),
    intake: new OfflineIntake(recipeCatalog),
    priceTable: parsePriceTable(undefined),
    now: () => '2026-11-24T11:00:00.000Z',
  });
});

async function download(artifactId: string, sessionId = OWNER.sessionId): Promise<Result> {
  const { token } = await issueSession({ sessionId });
  const path = `/api/v1/build-runs/${run.runId}/artifacts/${artifactId}/download`;
  const event = apiEvent({
    method: 'GET',
    path,
    routeKey: 'GET /api/v1/build-runs/{run_id}/artifacts/{artifact_id}/download',
    pathParameters: { run_id: run.runId, artifact_id: artifactId },
    cookies: [`bus_session=${token}`],
  });
  return (await handler(event as never, context as never)) as Result;
}

const header = (res: Result, name: string) =>
  Object.entries(res.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];

describe('download-artifact handler, presign mode (AWS)', () => {
  it('redirects the owner to a five-minute presigned S3 attachment of the published object', async () => {
    const res = await download('tool-linux');
    expect(res.statusCode, res.body).toBe(302);
    expect(header(res, 'cache-control')).toBe('no-store');
    const url = new URL(String(header(res, 'location')));
    expect(url.hostname).toBe('bus-build-artifacts-prod.s3.eu-north-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe(`/runs/${run.runId}/tool-linux/tip`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get('response-content-disposition')).toBe(
      'attachment; filename="Tip-calculator"',
    );
    // Handing out the link is delivery.
    expect((await store.getRun(run.runId))?.phase).toBe('delivered');
    expect(store.types(run.runId)).toEqual(['bus.build.run.delivered']);
  });

  it('names a Windows program .exe and strips quotes and line breaks from the file name', async () => {
    const res = await download('tool-windows');
    expect(res.statusCode, res.body).toBe(302);
    const url = new URL(String(header(res, 'location')));
    expect(decodeURIComponent(url.pathname)).toBe(`/runs/${run.runId}/tool-windows/tip.exe`);
    expect(url.searchParams.get('response-content-disposition')).toBe(
      'attachment; filename="Tip-calc-x-y.exe"',
    );
  });

  it('gives no link for a web artifact, an unknown artifact or another visitor', async () => {
    for (const [id, session] of [
      ['web', OWNER.sessionId],
      ['nope', OWNER.sessionId],
      ['tool-linux', 'ses_bbbbbbbbbbbbbbbbbbbbbbbbbb'],
    ] as const) {
      const res = await download(id, session);
      expect(res.statusCode, `${id} ${session}`).toBe(404);
      expect(header(res, 'location')).toBeUndefined();
      expect(res.body).not.toContain('runs/');
    }
  });

  it('gives no link before the run is verified', async () => {
    store.runs.set(run.runId, { ...run, phase: 'artifact_pending' });
    const res = await download('tool-linux');
    expect(res.statusCode).toBe(404);
    expect(header(res, 'location')).toBeUndefined();
  });

  it('DOWNLOAD_MODE=gateway: a relative link whose token names the same object and file name', async () => {
    process.env.DOWNLOAD_MODE = 'gateway';
    const res = await download('tool-linux');
    expect(res.statusCode).toBe(302);
    const location = String(header(res, 'location'));
    expect(location).toMatch(/^\/api\/v1\/downloads\/[\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = await verifyLocalDownload(location.split('/').pop()!, process.env.SESSION_SECRET!);
    expect(claims).toEqual({
      key: `runs/${run.runId}/tool-linux/tip`,
      fileName: 'Tip-calculator',
      runId: run.runId,
      artifactId: 'tool-linux',
    });
  });
});
