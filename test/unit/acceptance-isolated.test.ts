import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LambdaSmokeRunner } from '../../lib/aws/smoke-invoker.ts';
import { LambdaAcceptanceRunners } from '../../lib/aws/web-check-invoker.ts';
import { CliCheckSchema, WebCheckSchema } from '../../lib/domain/acceptance.ts';
import type { ManifestEntry } from '../../lib/domain/manifest.ts';
import { CliChecksRequestSchema, isolatedCliChecks } from '../../lib/verify/isolated-smoke.ts';
import { isolatedWebChecks, WebChecksRequestSchema } from '../../lib/verify/isolated-web-checks.ts';
import { cleanupTempDirs, shellBinary, tempDir } from './verify-fixtures.ts';

afterAll(cleanupTempDirs);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const CHROMIUM = process.env.VERIFY_BROWSER || '/usr/bin/chromium';

const miles = CliCheckSchema.parse({
  kind: 'cli',
  id: 'km-to-miles',
  title: '10 km is shown as 6.21 miles',
  args: ['10', 'km', 'mi'],
  expect: [{ op: 'number', value: 6.21, tolerance: 0.005 }],
});

describe('the isolated functions run the checks on the presigned, digest-checked bytes', () => {
  const bins = tempDir('iso-acc');
  const right = readFileSync(shellBinary(bins, 'right', 'echo "10 km = 6.21 mi"'));
  const wrong = readFileSync(shellBinary(bins, 'wrong', 'echo "10 Km Mi"'));
  const page = Buffer.from(
    '<!doctype html><meta charset="utf-8"><title>x</title><label>Km <input id="k"></label><button onclick="o.textContent=(k.value*0.621371).toFixed(2)+\' mi\'">Convert</button><p id="o"></p>',
  );
  const objects = new Map<string, Buffer>([
    ['/right', right],
    ['/wrong', wrong],
    ['/web/index.html', page],
  ]);
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = objects.get(req.url ?? '');
      if (!body) return void res.writeHead(403).end();
      res.writeHead(200).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('SmokeBinary cli-checks: right passes, wrong fails, tampered bytes fail every check unrun', async () => {
    const dl = tempDir('iso-acc-dl');
    const run = (p: string, bytes: Buffer) =>
      isolatedCliChecks(
        {
          kind: 'cli-checks',
          url: `${base}${p}`,
          sha256: sha(bytes),
          sizeBytes: bytes.length,
          platform: 'linux-arm64',
          checks: [miles],
        },
        { allowHttp: true, tempDir: dl, sandbox: 'none' },
      );
    expect((await run('/right', right)).outcomes).toMatchObject([
      { id: 'km-to-miles', passed: true, ranOn: 'linux-arm64' },
    ]);
    const [bad] = (await run('/wrong', wrong)).outcomes;
    expect(bad?.passed).toBe(false);
    expect(bad?.detail).toContain('10 Km Mi');
    const [tampered] = (await run('/wrong', right)).outcomes;
    expect(tampered).toMatchObject({
      passed: false,
      detail: expect.stringMatching(/bytes, the manifest says|sha256/),
    });
    expect(readdirSync(dl)).toEqual([]);
    // The checks' timeouts of one request are budgeted.
    expect(
      CliChecksRequestSchema.safeParse({
        kind: 'cli-checks',
        url: `${base}/right`,
        sha256: sha(right),
        sizeBytes: right.length,
        platform: 'x',
        checks: Array.from({ length: 6 }, (_, i) => ({ ...miles, id: `c${i}`, timeoutMs: 10_000 })),
      }).success,
    ).toBe(false);
  });

  it.skipIf(!existsSync(CHROMIUM))(
    'WebChecks: rebuilds the files, renders, runs the checks, returns a screenshot',
    async () => {
      const workDir = tempDir('iso-web');
      const check = WebCheckSchema.parse({
        kind: 'web',
        id: 'convert',
        title: '10 km is shown as 6.21 miles',
        steps: [
          { action: 'fill', label: 'Km', value: '10' },
          { action: 'click', name: 'Convert' },
        ],
        expect: [{ type: 'text', text: '6.21 mi' }],
      });
      const files = [
        { path: 'index.html', url: `${base}/web/index.html`, sha256: sha(page), sizeBytes: page.length },
      ];
      const r = await isolatedWebChecks(
        { files, entrypoint: 'index.html', render: true, checks: [check], screenshot: true },
        { allowHttp: true, workDir, browser: async () => ({ executablePath: CHROMIUM }) },
      );
      expect(r.refused).toBeUndefined();
      expect(r.render?.status).toBe('passed');
      expect(r.web.outcomes).toMatchObject([{ id: 'convert', passed: true, kind: 'web' }]);
      expect(
        Buffer.from(r.screenshotBase64 ?? '', 'base64')
          .subarray(1, 4)
          .toString(),
      ).toBe('PNG');
      const tampered = await isolatedWebChecks(
        { files: [{ ...files[0]!, sha256: 'b'.repeat(64) }], entrypoint: 'index.html', checks: [check] },
        { allowHttp: true, workDir, browser: async () => ({ executablePath: CHROMIUM }) },
      );
      expect(tampered.refused).toBe('the staged file index.html does not match the manifest sha256');
      expect(readdirSync(workDir)).toEqual([]);
      expect(
        WebChecksRequestSchema.safeParse({ files: [{ ...files[0]!, path: '../x' }], entrypoint: '../x' })
          .success,
      ).toBe(false);
    },
    120_000,
  );
});

describe('LambdaAcceptanceRunners (VerifyArtifacts → the isolated functions)', () => {
  const lambda = mockClient(LambdaClient);
  afterEach(() => lambda.reset());
  const s3 = new S3Client({
    region: 'eu-north-1',
    credentials: { accessKeyId: 'AKIAEXAMPLEEXAMPLE', secretAccessKey: 'secret/example/key' },
  });
  const client = new LambdaClient({ region: 'eu-north-1' });
  const runners = new LambdaAcceptanceRunners(
    client,
    s3,
    new LambdaSmokeRunner(client, s3, 'smoke-fn', 'staging-bkt'),
    'web-fn',
    'staging-bkt',
  );
  const RUN = 'run_abcdefghijklmnopqrstuvwxyz';
  const decode = (p: unknown) => JSON.parse(new TextDecoder().decode(p as Uint8Array));
  const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)) as never;

  it('cli: sends the checks to SmokeBinary with a presigned GET of the staged binary, in budgeted batches', async () => {
    lambda.on(InvokeCommand).callsFake((input: { Payload: Uint8Array }) => {
      const req = decode(input.Payload);
      return {
        StatusCode: 200,
        Payload: encode({
          outcomes: req.checks.map((c: { id: string }) => ({
            id: c.id,
            kind: 'cli',
            passed: true,
            ranOn: req.platform,
            durationMs: 5,
          })),
        }),
      };
    });
    const entry = {
      artifact_id: 'bin',
      kind: 'binary',
      name: 't',
      path: 'bin/t-linux-arm64',
      sha256: 'a'.repeat(64),
      size_bytes: 10,
      platform: 'linux-arm64',
      source_included: false,
    } as ManifestEntry;
    const checks = Array.from({ length: 6 }, (_, i) => ({ ...miles, id: `c${i}`, timeoutMs: 10_000 }));
    const out = await runners.cli({ runId: RUN, attempt: 1, entry, path: '/x', checks });
    expect(out.map((o) => o.id)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    const calls = lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.FunctionName)).toEqual(['smoke-fn', 'smoke-fn']);
    const first = CliChecksRequestSchema.parse(decode(calls[0]!.Payload));
    expect(first.checks).toHaveLength(5);
    expect(decodeURIComponent(new URL(first.url).pathname)).toBe(`/candidates/${RUN}/1/bin/t-linux-arm64`);
  });

  it('web: presigns every file of the verified copy with its digest; a function error is a runner error', async () => {
    const dir = tempDir('web-copy');
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), 'hi');
    writeFileSync(path.join(dir, 'assets', 'app.js'), 'x');
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        web: {
          status: 'ran',
          outcomes: [
            { id: 'w', kind: 'web', passed: false, ranOn: 'web', durationMs: 1, detail: 'expected 6.21' },
          ],
          notes: [],
        },
        screenshotBase64: Buffer.from('PNGDATA').toString('base64'),
      }),
    });
    const entry = {
      artifact_id: 'web',
      kind: 'web',
      name: 'w',
      path: 'web',
      sha256: 'a'.repeat(64),
      size_bytes: 3,
      entrypoint: 'index.html',
      source_included: false,
    } as ManifestEntry;
    const check = WebCheckSchema.parse({
      kind: 'web',
      id: 'w',
      title: 'shows miles',
      steps: [],
      expect: [{ type: 'text', text: 'mi' }],
    });
    const r = await runners.web({
      runId: RUN,
      attempt: 2,
      entry,
      path: dir,
      checks: [check],
      screenshot: true,
    });
    expect(r.outcomes[0]).toMatchObject({ id: 'w', passed: false, detail: 'expected 6.21' });
    expect(r.screenshot?.toString()).toBe('PNGDATA');
    const req = WebChecksRequestSchema.parse(
      decode(lambda.commandCalls(InvokeCommand)[0]!.args[0].input.Payload),
    );
    expect(
      req.files.map((f) => [f.path, f.sha256, f.sizeBytes, decodeURIComponent(new URL(f.url).pathname)]),
    ).toEqual([
      ['assets/app.js', sha(Buffer.from('x')), 1, `/candidates/${RUN}/2/web/assets/app.js`],
      ['index.html', sha(Buffer.from('hi')), 2, `/candidates/${RUN}/2/web/index.html`],
    ]);
    lambda.reset();
    lambda
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: encode({ errorMessage: 'boom' }) });
    await expect(runners.render({ runId: RUN, attempt: 2, entry, path: dir })).rejects.toMatchObject({
      name: 'SmokeRunnerError',
    });
  });
});
