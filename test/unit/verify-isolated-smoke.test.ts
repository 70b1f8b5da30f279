import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ManifestEntry } from '../../lib/domain/manifest.ts';
import {
  type BinaryRunner,
  type BinarySmokeResult,
  isolatedSmoke,
  SmokeRunnerError,
  verifyCandidate,
} from '../../lib/verify/index.ts';
import { resetEnvironment } from '../../lib/verify/isolated-smoke.ts';
import { cleanupTempDirs, HOST, makeCandidate, shellBinary, tempDir } from './verify-fixtures.ts';

afterAll(cleanupTempDirs);

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('isolatedSmoke (the SmokeBinary function)', () => {
  const bins = tempDir('iso-bins');
  const ok = readFileSync(shellBinary(bins, 'ok', 'echo "usage: tool [--help]"'));
  const bad = readFileSync(shellBinary(bins, 'bad', 'echo broken >&2; exit 3'));
  const objects = new Map<string, Buffer>();
  const requests: string[] = [];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    objects.set('/ok', ok);
    objects.set('/bad', bad);
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const body = objects.get(req.url ?? '');
      if (!body) {
        res.writeHead(403).end('AccessDenied');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const dl = tempDir('iso-dl');
  const run = (input: Record<string, unknown>) =>
    isolatedSmoke(input, { allowHttp: true, tempDir: dl, sandbox: 'none' });

  it('downloads, checks and runs a working binary; reports isolated-lambda; leaves nothing behind', async () => {
    const r = await run({ url: `${base}/ok`, sha256: sha(ok), sizeBytes: ok.length, timeoutMs: 5_000 });
    expect(r).toMatchObject({ passed: true, problems: [], sandbox: 'isolated-lambda' });
    expect(r.attempts[0]).toMatchObject({ args: ['--help'], exitCode: 0 });
    expect(r.attempts[0]?.output).toContain('usage: tool');
    expect(readdirSync(dl)).toEqual([]);
  });

  it('a binary that fails is a failed result, not an error', async () => {
    const r = await run({ url: `${base}/bad`, sha256: sha(bad), sizeBytes: bad.length });
    expect(r.passed).toBe(false);
    expect(r.sandbox).toBe('isolated-lambda');
    expect(r.problems[0]).toMatch(/^--help exited 3/);
  });

  it('refuses bytes that do not match the manifest sha256 without running them', async () => {
    const r = await run({ url: `${base}/ok`, sha256: sha(bad), sizeBytes: ok.length });
    expect(r).toEqual({
      passed: false,
      problems: ['the staged binary does not match the manifest sha256'],
      sandbox: 'isolated-lambda',
      attempts: [],
    } satisfies BinarySmokeResult);
    expect(readdirSync(dl)).toEqual([]);
  });

  it('refuses an object larger (or smaller) than the manifest says', async () => {
    const over = await run({ url: `${base}/ok`, sha256: sha(ok), sizeBytes: ok.length - 5 });
    expect(over.passed).toBe(false);
    expect(over.attempts).toEqual([]);
    expect(over.problems[0]).toMatch(/bytes, the manifest says|larger than the manifest/);
    const under = await run({ url: `${base}/ok`, sha256: sha(ok), sizeBytes: ok.length + 5 });
    expect(under.passed).toBe(false);
    expect(under.attempts).toEqual([]);
  });

  it('cuts a streamed download (no content-length) at the declared size', async () => {
    const big = Buffer.alloc(256 * 1024, 0x41);
    const streaming = createServer((_req, res) => {
      res.writeHead(200); // chunked: no content-length
      res.write(big.subarray(0, 128 * 1024));
      res.end(big.subarray(128 * 1024));
    });
    await new Promise<void>((resolve) => streaming.listen(0, '127.0.0.1', resolve));
    try {
      const port = (streaming.address() as AddressInfo).port;
      const r = await run({ url: `http://127.0.0.1:${port}/x`, sha256: sha(big), sizeBytes: 1024 });
      expect(r.passed).toBe(false);
      expect(r.problems).toEqual(["the staged binary is larger than the manifest's 1024 bytes"]);
      expect(readdirSync(dl)).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => streaming.close(() => resolve()));
    }
  });

  it('throws for its own faults: an HTTP error, an invalid request, a plain-http URL by default', async () => {
    await expect(run({ url: `${base}/missing`, sha256: sha(ok), sizeBytes: ok.length })).rejects.toThrow(
      /HTTP 403/,
    );
    await expect(run({ url: `${base}/ok`, sha256: 'nope', sizeBytes: ok.length })).rejects.toThrow();
    await expect(run({ url: `${base}/ok`, sha256: sha(ok), sizeBytes: -1 })).rejects.toThrow();
    await expect(
      isolatedSmoke({ url: `${base}/ok`, sha256: sha(ok), sizeBytes: ok.length }, { tempDir: dl }),
    ).rejects.toThrow(/https only/);
  });
});

describe('verifyCandidate with an injected binary runner', () => {
  const bins = tempDir('iso-runner');

  const gate = (root: string, runBinary: BinaryRunner) =>
    verifyCandidate({
      root,
      expectedArtifactType: 'binary',
      hostPlatform: HOST,
      checkBinaryFormat: false,
      smoke: { runBinary },
    });
  const check = (r: Awaited<ReturnType<typeof verifyCandidate>>, name: string) =>
    r.checks.find((c) => c.name === name);

  it('runs each host binary through the runner and reports its sandbox truthfully', async () => {
    const c = await makeCandidate({ binary: shellBinary(bins, 'ok', 'exit 7'), web: false });
    const calls: Array<{ entry: ManifestEntry; file: string }> = [];
    const r = await gate(c.root, async (entry, file) => {
      calls.push({ entry, file });
      return { passed: true, problems: [], sandbox: 'isolated-lambda', attempts: [] };
    });
    // The local binary exits 7: it passed only because the injected runner was used.
    expect(r.internalReason).toBeUndefined();
    expect(r.passed).toBe(true);
    expect(calls).toHaveLength(1);
    const manifest = JSON.parse(readFileSync(`${c.root}/artifact-manifest.json`, 'utf8'));
    expect(calls[0]?.entry).toEqual(manifest.artifacts[0]);
    expect(calls[0]?.file.endsWith(c.binRel)).toBe(true);
    expect(check(r, 'smoke.network_sandbox')?.detail).toMatch(/^ran in the isolated smoke function/);
    expect(check(r, 'smoke.network_sandbox')?.detail).not.toMatch(/proxy variables/);
  });

  it("fails the candidate on the runner's failed result, and says when there was no sandbox", async () => {
    const c = await makeCandidate({ binary: shellBinary(bins, 'ok2', 'echo "usage: ok"'), web: false });
    const r = await gate(c.root, async () => ({
      passed: false,
      problems: ['--help exited 1'],
      sandbox: 'none',
      attempts: [],
    }));
    expect(r.passed).toBe(false);
    expect(r.internalReason).toMatch(/smoke\.binary: tool-.*: --help exited 1/);
    expect(check(r, 'smoke.network_sandbox')?.detail).toMatch(/proxy variables/);
  });

  it("propagates the runner's own failure (SmokeRunnerError) instead of failing the candidate", async () => {
    const c = await makeCandidate({ binary: shellBinary(bins, 'ok3', 'echo "usage: ok"'), web: false });
    await expect(
      gate(c.root, async () => {
        throw new SmokeRunnerError('the smoke function failed (Unhandled)');
      }),
    ).rejects.toThrow(SmokeRunnerError);
  });

  it('any other runner error is a failed report (verifier.error), as before', async () => {
    const c = await makeCandidate({ binary: shellBinary(bins, 'ok4', 'echo "usage: ok"'), web: false });
    const r = await gate(c.root, async () => {
      throw new Error('boom');
    });
    expect(r.passed).toBe(false);
    expect(r.internalReason).toMatch(/verifier\.error: unexpected error: boom/);
  });
});

describe('resetEnvironment (the isolated functions’ clean-up between candidates)', () => {
  // process.kill is replaced by a recorder: whatever this code would kill is recorded, never
  // signalled (on the unguarded code this test must fail, not kill the other tests' processes).
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });
  /** A process started after this one (what the reset kills) and a temp dir with a file in it. */
  const leftovers = () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const dir = tempDir('reset');
    writeFileSync(`${dir}/left-over`, 'x');
    return { child, dir };
  };

  it('does nothing outside Lambda (no AWS_LAMBDA_FUNCTION_NAME): no process signalled, the temp dir kept', async () => {
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', undefined);
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const { child, dir } = leftovers();
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const ran = await resetEnvironment(dir);
      expect(kill).not.toHaveBeenCalled();
      expect(readdirSync(dir)).toEqual(['left-over']);
      expect(ran).toBe(false);
    } finally {
      vi.restoreAllMocks();
      child.kill('SIGKILL');
    }
  });

  it.skipIf(process.platform !== 'linux')(
    'inside Lambda kills what started after this process and empties the temp dir',
    async () => {
      vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'SmokeBinary');
      const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
      const { child, dir } = leftovers();
      try {
        await new Promise((resolve) => child.once('spawn', resolve));
        expect(await resetEnvironment(dir)).toBe(true);
        expect(kill).toHaveBeenCalledWith(child.pid, 'SIGKILL');
        expect(kill).not.toHaveBeenCalledWith(process.pid, expect.anything());
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        vi.restoreAllMocks();
        child.kill('SIGKILL');
      }
    },
  );
});
