import { beforeEach, describe, expect, it } from 'vitest';
import { setAppDeps } from '../../functions/shared/deps.ts';
import { resetSecretCache } from '../../functions/shared/secrets.ts';
import { issueSession } from '../../functions/shared/session.ts';
import { resetClients } from '../../lib/aws/clients.ts';
import { verifyLocalDownload } from '../../lib/aws/download-links.ts';
import { keys } from '../../lib/aws/keys.ts';
import { AcceptanceCheckSchema } from '../../lib/domain/acceptance.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { parsePriceTable } from '../../lib/domain/pricing.ts';
import { PublicArtifactSchema } from '../../lib/domain/public-schemas.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { apiEvent, context, type Result } from '../support/api-event.ts';
import { MemoryPublisher, MemoryRunStore, OWNER, quotedRun, T0 } from './orchestrator-fakes.ts';

/** GET …/artifacts: each delivered artifact's receipt, with a short-lived screenshot link. */
process.env.SESSION_SECRET = 'unit-test-secret-unit-test-secret';
process.env.LOG_LEVEL = 'silent';
process.env.ARTIFACTS_BUCKET = 'bus-build-artifacts-prod';
process.env.AWS_REGION = 'eu-north-1';
process.env.AWS_ACCESS_KEY_ID = 'AKIAEXAMPLEEXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY = 'secret/example/key';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_ENDPOINT_URL_S3;
delete process.env.AWS_ENDPOINT_URL;
delete process.env.PREVIEW_BASE_URL;

const { handler } = await import('../../functions/api/list-artifacts.ts');

const CHECK = AcceptanceCheckSchema.parse({
  kind: 'web',
  id: 'tip-split',
  title: 'Split between 3 people shows €38.33 each',
  steps: [{ action: 'fill', label: 'People', value: '3' }],
  expect: [{ type: 'number', value: 38.33, tolerance: 0.005 }],
});

let store: MemoryRunStore;
let run: BuildRun;

beforeEach(async () => {
  resetClients();
  resetSecretCache();
  store = new MemoryRunStore();
  const base = quotedRun('web');
  run = {
    ...base,
    owner: OWNER,
    phase: 'artifact_ready',
    spec: base.spec && { ...base.spec, checks: [CHECK] },
    artifacts: [
      {
        artifact_id: 'web',
        kind: 'web',
        name: 'Tip calculator',
        path: 'web',
        sha256: 'c'.repeat(64),
        size_bytes: 1234,
        entrypoint: 'index.html',
        source_included: false,
        published_key: keys.published(base.runId, 'web', 'index.html'),
        content_type: 'text/html; charset=utf-8',
        verified_at: T0,
        receipt: {
          checks: [{ id: 'tip-split', kind: 'web', passed: true, ranOn: 'web' }],
          screenshot_key: keys.receiptScreenshot(base.runId, 'web'),
        },
      },
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

async function list(): Promise<{ artifacts: Array<Record<string, unknown>> }> {
  const { token } = await issueSession({ sessionId: OWNER.sessionId });
  const event = apiEvent({
    method: 'GET',
    path: `/api/v1/build-runs/${run.runId}/artifacts`,
    routeKey: 'GET /api/v1/build-runs/{run_id}/artifacts',
    pathParameters: { run_id: run.runId },
    cookies: [`bus_session=${token}`],
  });
  const res = (await handler(event as never, context as never)) as Result;
  expect(res.statusCode, res.body).toBe(200);
  return JSON.parse(res.body ?? '{}');
}

describe('list-artifacts: the receipt', () => {
  it('AWS: the approved titles and results, and a presigned inline PNG link to the screenshot', async () => {
    delete process.env.DOWNLOAD_MODE;
    const [a] = (await list()).artifacts;
    PublicArtifactSchema.parse(a);
    const receipt = a?.receipt as { checks: unknown; screenshot: boolean; screenshot_url: string };
    expect(receipt.checks).toEqual([{ title: CHECK.title, passed: true, ran_on: 'web' }]);
    expect(receipt.screenshot).toBe(true);
    const url = new URL(receipt.screenshot_url);
    expect(url.hostname).toBe('bus-build-artifacts-prod.s3.eu-north-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe(`/${keys.receiptScreenshot(run.runId, 'web')}`);
    expect(url.searchParams.get('response-content-type')).toBe('image/png');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
  });

  it('local: a gateway link whose token names only the screenshot', async () => {
    process.env.DOWNLOAD_MODE = 'gateway';
    try {
      const [a] = (await list()).artifacts;
      const link = (a?.receipt as { screenshot_url: string } | undefined)?.screenshot_url ?? '';
      expect(link).toMatch(/^\/api\/v1\/downloads\/[A-Za-z0-9_.-]+$/);
      const claims = await verifyLocalDownload(
        link.split('/').at(-1) ?? '',
        process.env.SESSION_SECRET ?? '',
      );
      expect(claims).toMatchObject({ key: keys.receiptScreenshot(run.runId, 'web'), part: 'screenshot' });
    } finally {
      delete process.env.DOWNLOAD_MODE;
    }
  });
});
