import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.ts';
import { readStackInfo } from '../../lib/local/stack-info.ts';
import type { CliChecksResult } from '../../lib/verify/isolated-smoke.ts';
import type { BinarySmokeResult } from '../../lib/verify/smoke-binary.ts';
import { LAMBDA_TASKS } from '../../state-machines/tasks.ts';
import { startTestStack } from '../integration/harness.ts';
import { apiEvent } from '../support/api-event.ts';
import {
  callBundle,
  coldImport,
  localLambdaEnv,
  PID_NAMESPACE_PREFIX,
  pidNamespaceProblem,
  readSecretFile,
} from '../support/bundle-probe.ts';
import { SYNTH_STACK, type SynthResult, synthesizeAssembly } from '../support/cdk-synth.ts';
import { type HttpsFixture, opensslProblem, selfSignedCert, serveHttps } from '../support/https-fixture.ts';

/**
 * The real `npm run synth` into a temporary output directory (test/support/cdk-synth.ts). The
 * other infra suites build BuildStack in-process with bundling skipped; this one proves that the
 * deployable cloud assembly comes out, and runs what it bundled.
 */
const SYNTH_TIMEOUT_MS = 240_000;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** A real candidate binary (a shell script): usage for --help, the 15 % tip of its argument otherwise. */
const TIP_SCRIPT = `#!/bin/sh
case "$1" in
  --help) echo "usage: tip AMOUNT"; exit 0;;
  "") echo "tip: missing AMOUNT" >&2; exit 2;;
  *) echo "tip: $(( $1 * 15 / 100 ))";;
esac
`;
/** A real staged web artifact: a labelled field, a button, the answer shown on the page. */
const TIP_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tip</title></head>
<body><main>
<label for="amount">Bill amount</label> <input id="amount" type="number">
<button type="button" id="go">Calculate tip</button>
<p id="out"></p>
</main>
<script>
document.getElementById('go').addEventListener('click', () => {
  const amount = Number(document.getElementById('amount').value);
  document.getElementById('out').textContent = 'Tip: ' + (amount * 0.15).toFixed(2);
});
</script>
</body></html>
`;
const STACK = SYNTH_STACK;

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}
interface Assets {
  files: Record<string, { source: { path: string; packaging: string } }>;
  dockerImages: Record<string, { source: { directory: string; dockerFile?: string; platform?: string } }>;
}

describe('npm run synth (cdk synth with bundling)', () => {
  let outDir: string;
  let synth: SynthResult;
  let resources: Record<string, Resource>;
  let assets: Assets;

  beforeAll(async () => {
    outDir = mkdtempSync(path.join(os.tmpdir(), 'busdk-cdk-synth-'));
    synth = await synthesizeAssembly(outDir, SYNTH_TIMEOUT_MS - 10_000);
    console.info(`cdk synth took ${(synth.ms / 1000).toFixed(1)} s`);
    const template = JSON.parse(readFileSync(path.join(outDir, `${STACK}.template.json`), 'utf8'));
    resources = template.Resources;
    assets = JSON.parse(readFileSync(path.join(outDir, `${STACK}.assets.json`), 'utf8'));
  }, SYNTH_TIMEOUT_MS);

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  /** The stack's own functions by construct (logical id `<Scope><Id>Function<hash>`). */
  const functionOf = (prefix: string): Resource => {
    const found = ofType('AWS::Lambda::Function').filter(([id]) =>
      new RegExp(`^${prefix}Function[0-9A-F]{8}$`).test(id),
    );
    expect(
      found.map(([id]) => id),
      prefix,
    ).toHaveLength(1);
    return found[0]![1];
  };
  const ownFunctions = () => [
    ...LAMBDA_TASKS.map((t) => [t.state, functionOf(`Pipeline${t.state}`)] as const),
    ['ReconcileExecution', functionOf('PipelineReconcileExecution')] as const,
    ...API_ROUTES.map((r) => [r.id, functionOf(`Api${r.id}`)] as const),
  ];

  it('writes the template and the asset manifest of the stack', () => {
    expect(statSync(path.join(outDir, `${STACK}.template.json`)).size).toBeGreaterThan(0);
    expect(existsSync(path.join(outDir, 'manifest.json'))).toBe(true);
  });

  it('contains the state machine, the worker task definition and the HTTP API', () => {
    expect(ofType('AWS::StepFunctions::StateMachine')).toHaveLength(1);
    expect(ofType('AWS::ECS::TaskDefinition')).toHaveLength(1);
    const apis = ofType('AWS::ApiGatewayV2::Api');
    expect(apis).toHaveLength(1);
    expect(apis[0]![1].Properties.ProtocolType).toBe('HTTP');
    expect(ofType('AWS::ApiGatewayV2::Route')).toHaveLength(API_ROUTES.length);
  });

  it('runs every Node.js function on Node 22 or later, the stack’s own on ARM64', () => {
    const node = ofType('AWS::Lambda::Function').filter(([, r]) =>
      String(r.Properties.Runtime).startsWith('nodejs'),
    );
    expect(node.length).toBeGreaterThan(LAMBDA_TASKS.length + API_ROUTES.length);
    for (const [id, r] of node) {
      const major = Number(/^nodejs(\d+)\.x$/.exec(String(r.Properties.Runtime))?.[1]);
      expect(major, `${id} ${String(r.Properties.Runtime)}`).toBeGreaterThanOrEqual(22);
    }
    for (const [name, fn] of ownFunctions()) {
      expect(fn.Properties, name).toMatchObject({ Handler: 'index.handler', Architectures: ['arm64'] });
    }
  });

  it('bundles each function into its asset (index.mjs with source map; the template in PrepareBranch)', () => {
    for (const [name, fn] of ownFunctions()) {
      const key = String((fn.Properties.Code as { S3Key: unknown }).S3Key);
      const hash = key.replace(/\.zip$/, '');
      const asset = assets.files[hash];
      expect(asset, `${name}: asset ${key}`).toBeDefined();
      const dir = path.join(outDir, asset!.source.path);
      expect(statSync(path.join(dir, 'index.mjs')).size, name).toBeGreaterThan(1000);
      expect(existsSync(path.join(dir, 'index.mjs.map')), name).toBe(true);
      if (name === 'PrepareBranch') {
        expect(existsSync(path.join(dir, 'template-repo', 'go.mod'))).toBe(true);
        expect(existsSync(path.join(dir, 'template-repo', 'dist'))).toBe(false);
      }
    }
  });

  /** Every function `cdk deploy` uploads from a bundle: the own ones, the isolated and scheduled ones. */
  const shippedFunctions = () => [
    ...ownFunctions(),
    ...['SmokeBinary', 'WebChecks', 'SettlePayments'].map((n) => [n, functionOf(`Pipeline${n}`)] as const),
  ];
  /** Each shipped function's asset directory copied outside the project tree (no node_modules above it). */
  const copyBundles = (scratch: string, only?: readonly string[]) =>
    shippedFunctions()
      .filter(([name]) => !only || only.includes(name))
      .map(([name, fn]) => {
        const hash = String((fn.Properties.Code as { S3Key: unknown }).S3Key).replace(/\.zip$/, '');
        const dir = path.join(scratch, name);
        cpSync(path.join(outDir, assets.files[hash]!.source.path), dir, { recursive: true });
        const env = fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined;
        return { name, dir, variables: env?.Variables ?? {} };
      });

  it('loads every bundled function in a fresh Node process outside the project tree (cold init)', () => {
    // What ships, not the TypeScript source: each asset directory copied to a temp dir with no
    // node_modules above it, imported by a plain `node` (no tsx), the `handler` export checked.
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'busdk-bundles-'));
    try {
      const timings: string[] = [];
      for (const { name, dir, variables } of copyBundles(scratch)) {
        const vars = Object.fromEntries(
          Object.entries(variables).map(([k, v]) => [k, typeof v === 'string' ? v : 'x']),
        );
        const run = coldImport(dir, { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...vars });
        expect(run.ok, `${name}: ${run.ok ? '' : run.stderr.slice(-2000)}`).toBe(true);
        const kib = Math.round(statSync(path.join(dir, 'index.mjs')).size / 1024);
        timings.push(`${name} ${kib} KiB init ${run.ok ? run.ms.toFixed(0) : '?'} ms`);
      }
      console.info(`bundled functions (size, cold import):\n  ${timings.join('\n  ')}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('answers a representative event in a fresh Node process against the local emulators, every function', async () => {
    const stack = await startTestStack({ startTimeoutMs: 120_000 });
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'busdk-bundle-calls-'));
    try {
      const info = (await readStackInfo(stack.dataDir))!;
      const secrets = {
        session: readSecretFile(path.join(stack.dataDir, 'session-secret')),
        preview: readSecretFile(path.join(stack.dataDir, 'preview-secret')),
      };
      const bundles = new Map(copyBundles(scratch).map((b) => [b.name, b]));
      const call = async (name: string, event: unknown) => {
        const b = bundles.get(name)!;
        const env = localLambdaEnv({
          name,
          variables: b.variables,
          info,
          secrets,
          outboxDir: path.join(stack.dataDir, 'outbox'),
          taskRoot: b.dir,
        });
        const out = await callBundle({ dir: b.dir, name, event, env, scratch });
        expect(out.initError, `${name} init: ${out.stderr.slice(-2000)}`).toBeUndefined();
        return out;
      };
      /** An API route's answer: status and JSON body (every API answer is JSON). */
      const api = async (
        id: string,
        opts: { body?: unknown; params?: Record<string, string>; query?: Record<string, string> } = {},
      ) => {
        const route = API_ROUTES.find((r) => r.id === id)!;
        let p = route.path;
        for (const [k, v] of Object.entries(opts.params ?? {})) p = p.replace(`{${k}}`, v);
        const event = apiEvent({
          method: route.method,
          path: p,
          routeKey: `${route.method} ${route.path}`,
          ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
          ...(opts.params ? { pathParameters: opts.params } : {}),
          ...(opts.query ? { query: opts.query } : {}),
          headers: session ? { authorization: `Bearer ${session}` } : {},
        });
        const out = await call(id, event);
        expect(out.error, `${id}: ${out.stderr.slice(-2000)}`).toBeUndefined();
        const res = out.result as { statusCode: number; body?: string; headers?: Record<string, string> };
        const body = res.body ? JSON.parse(res.body) : undefined;
        calls.push(
          `${id} ${res.statusCode} init ${out.initMs.toFixed(0)} ms call ${out.callMs!.toFixed(0)} ms`,
        );
        return { status: res.statusCode, body, headers: res.headers ?? {} };
      };
      const calls: string[] = [];
      let session: string | undefined;

      expect((await api('OpenApi')).status).toBe(200);
      const created = await api('CreateRun', { body: {} });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const runId = created.body.run.run_id as string;
      session = created.body.session_token as string;
      expect(runId).toMatch(/^run_/);
      const run = { params: { run_id: runId } };

      const posted = await api('PostMessage', {
        ...run,
        body: { text: 'I need a tip calculator web app and a command line program for linux' },
      });
      expect(posted.status, JSON.stringify(posted.body)).toBeLessThan(300);
      const got = await api('GetRun', run);
      expect(got.status).toBe(200);
      expect(got.body.run.run_id).toBe(runId);
      const events = await api('ListEvents', { ...run, query: { wait: '0' } });
      expect(events.status, JSON.stringify(events.body)).toBe(200);
      expect(JSON.stringify(events.body)).toContain('bus.build.run.requested');
      const listed = await api('ListRuns');
      expect(listed.status).toBe(200);
      expect(listed.body.runs.map((r: { run_id: string }) => r.run_id)).toContain(runId);
      const artifacts = await api('ListArtifacts', run);
      expect(artifacts.status).toBe(200);
      expect(artifacts.body.artifacts).toEqual([]);
      const contact = await api('SetContact', { ...run, body: { email: 'probe@example.com' } });
      expect(contact.status, JSON.stringify(contact.body)).toBeLessThan(300);
      const outbox = readdirSync(path.join(stack.dataDir, 'outbox'));
      expect(outbox.length, 'SetContact mails a confirmation code to the outbox').toBeGreaterThan(0);
      // Sent or not, the answer is the same (no address enumeration); the code goes to the outbox.
      const requested = await api('RequestEmailCode', { body: { email: 'probe@example.com' } });
      expect(requested.status).toBe(202);
      expect(requested.body).toMatchObject({ sent: true });
      const results: Record<string, { status: number; body: unknown }> = {
        ConfirmContact: await api('ConfirmContact', { ...run, body: { code: '000000' } }),
        VerifyEmailCode: await api('VerifyEmailCode', {
          body: { email: 'probe@example.com', code: '000000' },
        }),
        DownloadArtifact: await api('DownloadArtifact', {
          params: { run_id: runId, artifact_id: 'art_missing' },
        }),
        Checkout: await api('Checkout', { ...run, body: {} }),
        StripeWebhook: await api('StripeWebhook', {
          body: { id: 'evt_1', type: 'checkout.session.completed' },
        }),
      };
      for (const [id, res] of Object.entries(results)) {
        // Refusals are answers: a customer-safe JSON error with a 4xx (503: payments not configured).
        expect([400, 401, 403, 404, 409, 422, 429, 503], `${id} ${JSON.stringify(res.body)}`).toContain(
          res.status,
        );
        expect(res.body, id).toMatchObject({
          error: { code: expect.any(String), message: expect.any(String) },
        });
      }
      const tested = new Set(calls.map((c) => c.split(' ')[0]));
      expect(API_ROUTES.filter((r) => !tested.has(r.id)).map((r) => r.id)).toEqual([]);

      // Pipeline tasks: the build state an execution passes, for this (quoted, unapproved) run; a
      // task answers with its next state or refuses with its named TaskStateError (the phase's
      // guard, read from the table), never a crash of the bundle.
      const state = { runId, attempt: 0, maxAttempts: 3 };
      const taskOutcomes: string[] = [];
      for (const t of LAMBDA_TASKS) {
        const out = await call(t.state, state);
        expect(
          out.error?.name ?? 'result',
          `${t.state}: ${out.error?.message}\n${out.stderr.slice(-2000)}`,
        ).toMatch(/^(result|TaskStateError)$/);
        taskOutcomes.push(`${t.state}: ${out.error ? `${out.error.name} (${out.error.message})` : 'result'}`);
      }
      const reconciled = await call('ReconcileExecution', {
        'detail-type': 'Step Functions Execution Status Change',
        source: 'aws.states',
        detail: {
          executionArn: `${info.stateMachineArn?.replace(':stateMachine:', ':execution:')}:${runId}`,
          status: 'TIMED_OUT',
          input: JSON.stringify(state),
        },
      });
      expect(reconciled.error, reconciled.stderr.slice(-2000)).toBeUndefined();
      const settled = await call('SettlePayments', {});
      expect(settled.result).toEqual({ tried: 0 });
      // The isolated functions take only https presigned URLs: a local (http) one is refused
      // before anything is fetched or run. Their real runs (over HTTPS, on real bytes, each in its
      // own PID namespace): the next test.
      const staged = `${info.s3Endpoint}/${info.buckets.staging}/runs/${runId}/candidate`;
      const digest = 'a'.repeat(64);
      const smoke = await call('SmokeBinary', { url: staged, sha256: digest, sizeBytes: 10 });
      expect(smoke.error?.message).toMatch(/refusing a http: URL/);
      const web = await call('WebChecks', {
        files: [{ path: 'index.html', url: staged, sha256: digest, sizeBytes: 10 }],
        entrypoint: 'index.html',
      });
      expect(web.error?.message).toMatch(/refusing a http: URL/);
      console.info(`pipeline tasks on an unapproved run:\n  ${taskOutcomes.join('\n  ')}`);
      console.info(`bundled API functions, one call each:\n  ${calls.join('\n  ')}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      await stack.dispose();
    }
  }, 300_000);

  // The isolated functions for real: SmokeBinary and WebChecks fetch their presigned objects over
  // HTTPS only, so a throwaway HTTPS origin (a self-signed certificate made here, trusted by the
  // probe through NODE_EXTRA_CA_CERTS) serves the staged bytes, as the staging bucket's presigned
  // GET would. Each call runs as Lambda runs it (AWS_LAMBDA_FUNCTION_NAME set), so the handler's
  // resetEnvironment really runs: it SIGKILLs every process started after the function's and
  // empties its temp dir. Hence each probe runs as PID 1 of its own PID namespace with a private
  // /proc (it can see and kill only its own descendants) and with TMPDIR in the scratch dir; a
  // `sleep` started outside while the function runs, and a file in the real temp dir, must survive.
  const isolationProblem = pidNamespaceProblem() ?? opensslProblem();
  if (isolationProblem) console.warn(`skipping the isolated functions' real runs: ${isolationProblem}`);

  it.skipIf(isolationProblem !== undefined)(
    'runs SmokeBinary and WebChecks for real on staged bytes over HTTPS, each in its own PID namespace',
    async () => {
      const scratch = mkdtempSync(path.join(os.tmpdir(), 'busdk-isolated-calls-'));
      const sentinelFile = path.join(os.tmpdir(), `busdk-reset-sentinel-${process.pid}-${Date.now()}`);
      writeFileSync(sentinelFile, 'must survive the functions’ resetEnvironment');
      let origin: HttpsFixture | undefined;
      try {
        const cert = selfSignedCert(scratch);
        if ('reason' in cert) throw new Error(cert.reason);
        const tip = Buffer.from(TIP_SCRIPT);
        const page = Buffer.from(TIP_PAGE);
        // The sentinel process starts when the function's download arrives: after the function's
        // own process, so in a shared process table its resetEnvironment would kill it.
        const sentinel: { proc?: ChildProcess } = {};
        const stopSentinel = () => {
          sentinel.proc?.kill('SIGKILL');
          delete sentinel.proc;
        };
        origin = await serveHttps({
          ...cert,
          files: { '/staged/tip': tip, '/staged/web/index.html': page },
          onRequest: () => {
            sentinel.proc ??= spawn('sleep', ['60'], { stdio: 'ignore' });
          },
        });
        const presigned = (p: string) => `${origin!.origin}${p}?X-Amz-Expires=300&X-Amz-Signature=probe`;
        const bundles = new Map(copyBundles(scratch, ['SmokeBinary', 'WebChecks']).map((b) => [b.name, b]));
        const lines: string[] = [];
        const call = async (name: string, event: unknown) => {
          const b = bundles.get(name)!;
          const tmp = mkdtempSync(path.join(scratch, `tmp-${name}-`));
          // A left-over of an earlier candidate in the function's /tmp: the reset removes it.
          writeFileSync(path.join(tmp, 'left-over'), 'x');
          const env: Record<string, string> = {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: tmp,
            TMPDIR: tmp,
            LAMBDA_TASK_ROOT: b.dir,
            AWS_REGION: 'us-east-1',
            AWS_LAMBDA_FUNCTION_NAME: name,
            NODE_EXTRA_CA_CERTS: cert.certFile,
            LOG_LEVEL: 'warn',
            ...Object.fromEntries(
              Object.entries(b.variables).filter((e): e is [string, string] => typeof e[1] === 'string'),
            ),
          };
          stopSentinel();
          try {
            const out = await callBundle({
              dir: b.dir,
              name,
              event,
              env,
              scratch,
              prefix: PID_NAMESPACE_PREFIX,
              timeoutMs: 150_000,
            });
            expect(out.initError, `${name} init: ${out.stderr.slice(-2000)}`).toBeUndefined();
            expect(out.error, `${name}: ${out.error?.message}\n${out.stderr.slice(-2000)}`).toBeUndefined();
            const proc = sentinel.proc;
            expect(proc?.pid, 'the sentinel started').toBeDefined();
            // Not exited, and not a killed but not yet reaped zombie either (its /proc state).
            const stat = readFileSync(`/proc/${proc!.pid}/stat`, 'utf8');
            expect(
              {
                exitCode: proc!.exitCode,
                signal: proc!.signalCode,
                zombie: / Z /.test(stat.slice(stat.lastIndexOf(')'))),
              },
              'a process started while the function ran, outside its PID namespace, is alive',
            ).toEqual({ exitCode: null, signal: null, zombie: false });
            expect(existsSync(sentinelFile), 'the real temp dir is untouched').toBe(true);
            lines.push(`${name} init ${out.initMs.toFixed(0)} ms call ${out.callMs!.toFixed(0)} ms`);
            return { result: out.result, tmp };
          } finally {
            stopSentinel();
          }
        };

        const binary = { sha256: sha256(tip), sizeBytes: tip.length };
        const smoke = await call('SmokeBinary', { url: presigned('/staged/tip'), ...binary });
        expect(smoke.result).toMatchObject({ passed: true, problems: [], sandbox: 'isolated-lambda' });
        expect((smoke.result as BinarySmokeResult).attempts[0]).toMatchObject({
          args: ['--help'],
          exitCode: 0,
        });
        expect((smoke.result as BinarySmokeResult).attempts[0]!.output).toContain('usage: tip AMOUNT');
        // resetEnvironment ran (inside Lambda, per AWS_LAMBDA_FUNCTION_NAME): its temp dir is empty.
        expect(readdirSync(smoke.tmp)).toEqual([]);

        const checks = await call('SmokeBinary', {
          kind: 'cli-checks',
          url: presigned('/staged/tip'),
          ...binary,
          platform: 'linux-amd64',
          checks: [
            {
              kind: 'cli',
              id: 'tip-of-100',
              title: 'The tip of 100 is 15',
              args: ['100'],
              expect: [{ op: 'number', value: 15 }],
            },
            {
              kind: 'cli',
              id: 'tip-of-200',
              title: 'The tip of 200 is 40',
              args: ['200'],
              expect: [{ op: 'number', value: 40 }],
            },
          ],
        });
        const outcomes = (checks.result as CliChecksResult).outcomes;
        expect(outcomes.map((o) => [o.id, o.passed])).toEqual([
          ['tip-of-100', true],
          ['tip-of-200', false],
        ]);
        expect(outcomes[1]!.detail).toMatch(/should show 40.*saw 30/);

        // WebChecks with what ships: the bundle's own @sparticuz/chromium (x86_64) unpacks its
        // Chromium into the function's temp dir and playwright-core drives it.
        const web = await call('WebChecks', {
          files: [
            {
              path: 'index.html',
              url: presigned('/staged/web/index.html'),
              sha256: sha256(page),
              sizeBytes: page.length,
            },
          ],
          entrypoint: 'index.html',
          render: true,
          checks: [
            {
              kind: 'web',
              id: 'tip-shown',
              title: 'The tip of 100 is shown',
              steps: [
                { action: 'fill', label: 'Bill amount', value: '100' },
                { action: 'click', name: 'Calculate tip' },
              ],
              expect: [{ type: 'text', text: 'Tip: 15.00' }],
            },
          ],
        });
        expect(web.result).toMatchObject({
          render: { status: 'passed', problems: [] },
          web: { status: 'ran', outcomes: [{ id: 'tip-shown', kind: 'web', passed: true }] },
        });
        expect(readdirSync(path.join(web.tmp, 'web-checks'))).toEqual([]);
        expect(existsSync(path.join(web.tmp, 'left-over'))).toBe(true); // WebChecks resets only its work dir
        expect(origin.requests.map((r) => r.split('?')[0])).toEqual([
          '/staged/tip',
          '/staged/tip',
          '/staged/web/index.html',
        ]);
        console.info(`isolated functions, real runs:\n  ${lines.join('\n  ')}`);
      } finally {
        await origin?.close();
        rmSync(sentinelFile, { force: true });
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    240_000,
  );

  it('stages the worker image build context (ARM64, worker-image/Dockerfile)', () => {
    const images = Object.values(assets.dockerImages);
    expect(images).toHaveLength(1);
    expect(images[0]!.source).toMatchObject({
      dockerFile: 'worker-image/Dockerfile',
      platform: 'linux/arm64',
    });
    const dir = path.join(outDir, images[0]!.source.directory);
    expect(existsSync(path.join(dir, 'worker-image', 'Dockerfile'))).toBe(true);
    expect(existsSync(path.join(dir, 'node_modules'))).toBe(false);
  });
});
