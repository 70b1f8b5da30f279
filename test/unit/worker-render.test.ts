import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readWorkerResult } from '../../lib/app/orchestrator/worker-result.ts';
import type { RenderCheckOptions, RenderCheckResult } from '../../lib/verify/render-check.ts';
import { renderWebArtifacts } from '../../worker-image/src/render.ts';
import { WorkerResultSchema, workerResultKey, writeEvidence } from '../../worker-image/src/result.ts';
import { MemoryArtifactStore } from './orchestrator-fakes.ts';

const fake = (result: RenderCheckResult) => {
  const calls: RenderCheckOptions[] = [];
  const check = async (opts: RenderCheckOptions) => {
    calls.push(opts);
    return result;
  };
  return { calls, check };
};

describe('worker render check', () => {
  const web = { artifact_id: 'web', kind: 'web', path: 'web', entrypoint: 'index.html' };
  const bin = { artifact_id: 'bin-linux-amd64', kind: 'binary', path: 'bin/x' };

  it('renders each web entry from the manifest directory and passes when it renders', async () => {
    const { calls, check } = fake({ status: 'passed', problems: [], notes: [] });
    const out = await renderWebArtifacts('/w/dist', [web, bin], check);
    expect(out.failure).toBeUndefined();
    expect(calls).toEqual([{ dir: '/w/dist/web', entrypoint: 'index.html' }]);
  });

  it('runs the browser as the command user when one is set (runAs)', async () => {
    const { calls, check } = fake({ status: 'passed', problems: [], notes: [] });
    const out = await renderWebArtifacts('/w/dist', [web], check, { runAs: { uid: 10002, gid: 10003 } });
    expect(out.failure).toBeUndefined();
    expect(calls).toEqual([
      { dir: '/w/dist/web', entrypoint: 'index.html', runAs: { uid: 10002, gid: 10003 } },
    ]);
  });

  it('fails the attempt with the problems when the page is blank or throws', async () => {
    const { check } = fake({ status: 'failed', problems: ['uncaught script error: boom'], notes: [] });
    const out = await renderWebArtifacts('/w/dist', [web], check);
    expect(out.failure).toEqual({
      code: 'build_failed',
      reason: 'render check failed: uncaught script error: boom',
      repairable: true,
    });
  });

  it('treats a missing browser as a logged skip, and leaves unsafe paths to the gate', async () => {
    const { calls, check } = fake({ status: 'skipped', problems: [], notes: ['no browser found'] });
    const out = await renderWebArtifacts('/w/dist', [web, { ...web, path: '../../etc' }], check);
    expect(out.failure).toBeUndefined();
    expect(calls).toHaveLength(1);
    expect(out.log.join('\n')).toMatch(/skipped \(no browser found\)[\s\S]*unsafe path/);
  });
});

const RUN = `run_${'c'.repeat(26)}`;
const sha = (b: string) => createHash('sha256').update(b).digest('hex');

describe('worker render modes and evidence', () => {
  const web = { artifact_id: 'web', kind: 'web', path: 'web', entrypoint: 'index.html' };
  const skipped: RenderCheckResult = { status: 'skipped', problems: [], notes: ['no browser found'] };
  const passed: RenderCheckResult = { status: 'passed', problems: [], notes: [] };
  const fixedDigest = async () => 'd'.repeat(64);
  let dist: string;

  beforeEach(async () => {
    dist = await mkdtemp(path.join(tmpdir(), 'worker-render-'));
    await mkdir(path.join(dist, 'web/assets'), { recursive: true });
    await writeFile(path.join(dist, 'web/index.html'), '<html><body>hi</body></html>');
    await writeFile(path.join(dist, 'web/assets/app.js'), 'x=1');
  });
  afterEach(async () => {
    await rm(dist, { recursive: true, force: true });
  });

  it('required: a missing browser fails the attempt as internal and not repairable', async () => {
    const { check } = fake(skipped);
    const out = await renderWebArtifacts('/w/dist', [web], check, { mode: 'required', digest: fixedDigest });
    expect(out.failure).toEqual({
      code: 'internal',
      repairable: false,
      reason: expect.stringMatching(/lacks a usable Chromium \(no browser found\)/),
    });
    expect(out.records).toEqual([]);
  });

  it('required: a page that renders passes and a broken page stays a repairable build failure', async () => {
    const ok = await renderWebArtifacts('/w/dist', [web], fake(passed).check, {
      mode: 'required',
      digest: fixedDigest,
    });
    expect(ok.failure).toBeUndefined();
    expect(ok.records).toEqual([{ artifact_id: 'web', status: 'passed', digest: 'd'.repeat(64) }]);
    const broken = await renderWebArtifacts(
      '/w/dist',
      [web],
      fake({ status: 'failed', problems: ['blank'], notes: [] }).check,
      { mode: 'required', digest: fixedDigest },
    );
    expect(broken.failure).toMatchObject({ code: 'build_failed', repairable: true });
  });

  it('auto: a missing browser is recorded as skipped evidence, not a failure', async () => {
    const out = await renderWebArtifacts('/w/dist', [web], fake(skipped).check, { digest: fixedDigest });
    expect(out.failure).toBeUndefined();
    expect(out.records).toEqual([{ artifact_id: 'web', status: 'skipped', digest: 'd'.repeat(64) }]);
  });

  it('records the digest of the rendered files exactly as the gate computes it', async () => {
    const out = await renderWebArtifacts(dist, [web], fake(passed).check);
    // sha256 of the sorted "<sha>  <rel>\n" lines (lib/verify/hash.ts), computed independently here.
    const lines = [`${sha('x=1')}  assets/app.js\n`, `${sha('<html><body>hi</body></html>')}  index.html\n`];
    expect(out.records).toEqual([{ artifact_id: 'web', status: 'passed', digest: sha(lines.join('')) }]);
  });

  it('records no evidence for a directory it cannot hash (the gate will find none)', async () => {
    const out = await renderWebArtifacts(path.join(dist, 'missing'), [web], fake(passed).check);
    expect(out.failure).toBeUndefined();
    expect(out.records).toEqual([]);
    expect(out.log.join('\n')).toMatch(/web: not hashed/);
  });

  it('writes the evidence into result.json, which the orchestrator reads back', async () => {
    const puts: { Key?: string; Body?: unknown }[] = [];
    const s3 = { send: async (cmd: { input: { Key?: string; Body?: unknown } }) => puts.push(cmd.input) };
    const record = { artifact_id: 'web', status: 'passed' as const, digest: 'e'.repeat(64) };
    await writeEvidence({
      s3: s3 as unknown as S3Client,
      bucket: 'bus-build-evidence',
      runId: RUN,
      attempt: 1,
      logText: 'log',
      result: { ok: true, summary: 'done', commit: 'a'.repeat(40), render: [record] },
    });
    const written = puts.find((p) => p.Key === workerResultKey(RUN, 1));
    const json = JSON.parse(String(written?.Body));
    expect(json.render).toEqual([record]);

    const store = new MemoryArtifactStore();
    store.put('evidence', workerResultKey(RUN, 1), String(written?.Body));
    expect((await readWorkerResult(store, RUN, 1))?.render).toEqual([record]);
  });

  it('result schemas: a non-repairable failure, strict records, backwards compatible reads', async () => {
    expect(
      WorkerResultSchema.safeParse({ ok: false, code: 'internal', reason: 'x', repairable: false }).success,
    ).toBe(true);
    const bad = { artifact_id: 'web', status: 'failed', digest: 'e'.repeat(64) };
    expect(WorkerResultSchema.safeParse({ ok: true, render: [bad] }).success).toBe(false);
    expect(
      WorkerResultSchema.safeParse({
        ok: true,
        render: [{ artifact_id: 'web', status: 'passed', digest: 'x' }],
      }).success,
    ).toBe(false);

    const store = new MemoryArtifactStore();
    store.put('evidence', workerResultKey(RUN, 1), JSON.stringify({ ok: true, commit: 'a'.repeat(40) }));
    expect(await readWorkerResult(store, RUN, 1)).toEqual({ ok: true, commit: 'a'.repeat(40) });
    // A malformed evidence list is "no evidence", not an unreadable (failed) result.
    store.put('evidence', workerResultKey(RUN, 2), JSON.stringify({ ok: true, render: [bad] }));
    expect(await readWorkerResult(store, RUN, 2)).toEqual({ ok: true, render: undefined });
  });
});
