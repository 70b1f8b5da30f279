/**
 * Builds the Go template repository — the skeleton and every catalog recipe applied by the offline
 * recipe coder — exactly as a worker does, for the host platform only, and checks the result:
 * go vet, go test, the one build command, the manifest (schema, sha256, sizes, no source), the
 * binary's --help / --version and its default action on sample input, and the web app.
 *
 * Skips (with a message) only when `go` is not installed. Recipes run sequentially and share the
 * Go build cache so the file stays within a few minutes on two cores.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactType, BuildSpec } from '../../lib/domain/build-spec.ts';
import { type ArtifactManifest, ArtifactManifestSchema } from '../../lib/domain/manifest.ts';
import { RECIPES } from '../../lib/domain/recipes.ts';
import { OfflineRecipeCoder } from '../../worker-image/src/coder/offline-recipe-coder.ts';
import { copyTemplate, GO, goEnv, HOST, mustRun, run, STEP_TIMEOUT_MS } from './helpers.ts';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Every file under dir as sorted posix relative paths; fails on symlinks. */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isSymbolicLink()) throw new Error(`symlink in dist: ${rel}`);
    if (entry.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** The documented web digest: sha256 of "<sha256>  <path>\n" lines sorted by path. */
function webDigest(dir: string): { sha256: string; size: number } {
  let listing = '';
  let size = 0;
  for (const rel of listFiles(dir)) {
    const data = readFileSync(path.join(dir, rel));
    size += data.length;
    listing += `${sha256(data)}  ${rel}\n`;
  }
  return { sha256: sha256(listing), size };
}

const SOURCE_FILE = /\.(go|ts|tsx|jsx|map|mod|sum|zip|tar|gz|tgz|7z|rar)$/i;

/** Validates dist/ against its manifest the way the verification gate does. */
function checkDist(worktree: string, type: ArtifactType, name: string, title: string): ArtifactManifest {
  const dist = path.join(worktree, 'dist');
  const manifest = ArtifactManifestSchema.parse(
    JSON.parse(readFileSync(path.join(dist, 'artifact-manifest.json'), 'utf8')),
  );
  const ids = manifest.artifacts.map((a) => a.artifact_id);
  const expected = [...(type !== 'binary' ? ['web'] : []), ...(type !== 'web' ? [`bin-${HOST}`] : [])];
  expect(ids).toEqual(expected);
  const covered = new Set(['artifact-manifest.json']);
  for (const a of manifest.artifacts) {
    expect(a.source_included).toBe(false);
    expect(path.posix.isAbsolute(a.path) || a.path.split('/').includes('..')).toBe(false);
    const full = path.join(dist, a.path);
    if (a.kind === 'web') {
      expect(a).toMatchObject({ artifact_id: 'web', path: 'web', entrypoint: 'index.html', name: title });
      const digest = webDigest(full);
      expect(a.sha256).toBe(digest.sha256);
      expect(a.size_bytes).toBe(digest.size);
      for (const rel of listFiles(full)) covered.add(`web/${rel}`);
    } else {
      const file = `${name}-${HOST}${HOST.startsWith('windows') ? '.exe' : ''}`;
      expect(a).toMatchObject({
        kind: 'binary',
        platform: HOST,
        entrypoint: file,
        name: file,
        path: `bin/${file}`,
      });
      expect(lstatSync(full).isFile()).toBe(true);
      const data = readFileSync(full);
      expect(a.sha256).toBe(sha256(data));
      expect(a.size_bytes).toBe(data.length);
      expect(data.includes(Buffer.from(worktree)), 'binary contains the build path').toBe(false);
      covered.add(a.path);
    }
  }
  const files = listFiles(dist);
  for (const f of files) {
    expect(covered.has(f), `${f} is not covered by the manifest`).toBe(true);
    expect(SOURCE_FILE.test(f), `${f} looks like source`).toBe(false);
  }
  expect(existsSync(path.join(dist, 'web'))).toBe(type !== 'binary');
  expect(existsSync(path.join(dist, 'bin'))).toBe(type !== 'web');
  return manifest;
}

/** Checks the built page: rendered, escaped title, self-contained, ids used by app.js exist. */
function checkWeb(worktree: string, title: string): void {
  const web = path.join(worktree, 'dist', 'web');
  const page = readFileSync(path.join(web, 'index.html'), 'utf8');
  const js = readFileSync(path.join(web, 'app.js'), 'utf8');
  const escaped = title
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&#34;');
  expect(page).toContain(`<title>${escaped}</title>`);
  expect(page).not.toContain('{{APP_');
  expect(page).not.toMatch(/<script>|\son[a-z]+=|\sstyle=|https?:\/\//i);
  expect(js).not.toMatch(/https?:\/\/|eval\(|new Function|innerHTML|document\.write/);
  const ids = new Set([...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
  for (const m of js.matchAll(/(?:\$|getElementById)\('([\w-]+)'\)/g)) {
    expect(ids.has(m[1]), `app.js uses #${m[1]} which index.html lacks`).toBe(true);
  }
}

interface Sample {
  args: string[];
  stdin?: string;
  status?: number;
  expect: string | RegExp[] | ((stdout: string) => void);
}

/** Default-action samples per tool; `{tmp}` becomes a scratch directory. */
const SAMPLES: Record<string, Sample[]> = {
  skeleton: [
    { args: ['--case', 'slug', 'Hello, World!'], expect: 'hello-world\n' },
    { args: ['--case', 'upper'], stdin: 'piped text\n', expect: 'PIPED TEXT\n' },
  ],
  'tip-calculator': [
    {
      args: ['--percent', '20', '--people', '4', '86.40'],
      expect: [
        /^Bill:\s+86\.40$/m,
        /^Tip \(20%\):\s+17\.28$/m,
        /^Total:\s+103\.68$/m,
        /^Each of 4:\s+25\.92$/m,
      ],
    },
  ],
  'unit-converter': [
    { args: ['10', 'km', 'to', 'mi'], expect: '10 km = 6.21371 mi\n' },
    { args: [], stdin: '100 c f\n', expect: '100 °C = 212 °F\n' },
  ],
  'loan-calculator': [
    {
      args: ['--amount', '200000', '--rate', '4.5', '--years', '30'],
      expect: [
        /^Monthly payment:\s+1,013\.37$/m,
        /^Total paid:\s+364,813\.83$/m,
        /^Total interest:\s+164,813\.83$/m,
      ],
    },
  ],
  'password-generator': [
    {
      args: ['--length', '20', '--count', '3'],
      expect: (out) => {
        const lines = out.trim().split('\n');
        expect(lines).toHaveLength(3);
        for (const l of lines) {
          expect(l).toHaveLength(20);
          expect(l).toMatch(/[a-z]/);
          expect(l).toMatch(/[A-Z]/);
          expect(l).toMatch(/[0-9]/);
        }
        expect(new Set(lines).size).toBe(3);
      },
    },
  ],
  'word-counter': [
    {
      args: [],
      stdin: 'Hello world. This is a test.',
      expect: [
        /^Words:\s+6$/m,
        /^Characters:\s+28$/m,
        /^Characters \(no spaces\):\s+23$/m,
        /^Sentences:\s+2$/m,
      ],
    },
  ],
  'json-formatter': [
    { args: ['{"b":1,"a":[1,2]}'], expect: '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}\n' },
    { args: ['--sort-keys', '--compact'], stdin: '{"b": 1, "a": 2}', expect: '{"a":2,"b":1}\n' },
    { args: ['--check', '{"a": }'], status: 1, expect: '' },
  ],
  'countdown-timer': [{ args: ['1'], expect: '00:01\nTime is up!\n' }],
  checklist: [
    { args: ['--file', '{tmp}/list.json', 'add', 'Buy milk'], expect: '1. [ ] Buy milk\n0 of 1 done\n' },
    { args: ['--file', '{tmp}/list.json', 'add', 'Call the bank'], expect: [/^2\. \[ \] Call the bank$/m] },
    {
      args: ['--file', '{tmp}/list.json', 'done', '1'],
      expect: '1. [x] Buy milk\n2. [ ] Call the bank\n1 of 2 done\n',
    },
  ],
  'bmi-calculator': [
    {
      args: ['--weight', '70', '--height', '175'],
      expect:
        'BMI:            22.9\nCategory:       Healthy weight\nHealthy range:  56.7-76.3 kg for 175 cm\n',
    },
  ],
  'base64-tool': [
    { args: ['encode', 'hello world'], expect: 'aGVsbG8gd29ybGQ=\n' },
    { args: ['decode', 'aGVsbG8gd29ybGQ='], expect: 'hello world\n' },
  ],
  'team-picker': [
    {
      args: ['--teams', '2', '--seed', '7', 'Ann', 'Ben', 'Cat', 'Dan'],
      expect: (out) => {
        const lines = out.trim().split('\n');
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(/^Team 1: \w+, \w+$/);
        expect(lines[1]).toMatch(/^Team 2: \w+, \w+$/);
        for (const n of ['Ann', 'Ben', 'Cat', 'Dan']) expect(out.split(n)).toHaveLength(2);
      },
    },
  ],
};

/** Artifact type per recipe, so web-only, binary-only and both are all exercised. */
const TYPE_FOR: Record<string, ArtifactType> = { checklist: 'web', 'base64-tool': 'binary' };

function runSamples(binary: string, id: string, scratch: string): void {
  const samples = SAMPLES[id];
  expect(samples, `no samples for ${id}`).toBeDefined();
  for (const s of samples!) {
    const args = s.args.map((a) => a.replaceAll('{tmp}', scratch));
    const r = run(binary, args, scratch, { PATH: process.env.PATH ?? '' }, s.stdin);
    expect(r.status, `${id} ${args.join(' ')}: ${r.stderr}`).toBe(s.status ?? 0);
    if (typeof s.expect === 'string') expect(r.stdout).toBe(s.expect);
    else if (Array.isArray(s.expect)) for (const re of s.expect) expect(r.stdout).toMatch(re);
    else s.expect(r.stdout);
  }
}

function checkHelpAndVersion(binary: string, name: string, title: string, version: string): void {
  const help = run(binary, ['--help'], path.dirname(binary), { PATH: process.env.PATH ?? '' });
  expect(help.status).toBe(0);
  expect(help.stdout).toContain(title);
  expect(help.stdout).toContain(`${name} serve [--addr ADDR]`);
  expect(help.stdout).not.toContain('{name}');
  const ver = run(binary, ['--version'], path.dirname(binary), { PATH: process.env.PATH ?? '' });
  expect(ver.status).toBe(0);
  expect(ver.stdout).toBe(`${name} ${version}\n`);
}

let scratchRoot: string;

beforeAll(() => {
  scratchRoot = mkdtempSync(path.join(tmpdir(), 'template-build-'));
});

afterAll(() => {
  if (scratchRoot) rmSync(scratchRoot, { recursive: true, force: true });
});

describe.skipIf(!GO)('template repository (skeleton)', () => {
  let worktree: string;

  beforeAll(() => {
    worktree = path.join(scratchRoot, 'skeleton');
    copyTemplate(worktree);
  });

  it(
    'passes go vet and go test, builds both artifacts and verifies',
    () => {
      mustRun('go', ['vet', './...'], worktree, goEnv());
      mustRun('go', ['test', './...'], worktree, goEnv());
      mustRun('go', ['run', './tools/build'], worktree, goEnv({ PLATFORMS: HOST, RUN_ID: 'run_test' }));
      const meta = JSON.parse(readFileSync(path.join(worktree, 'app.json'), 'utf8'));
      const manifest = checkDist(worktree, 'both', meta.name, meta.title);
      expect(manifest.run_id).toBe('run_test');
      checkWeb(worktree, meta.title);
      const verify = mustRun('go', ['run', './tools/build', 'verify'], worktree, goEnv());
      expect(verify.stdout).toContain('verify: ok');
      const binary = path.join(worktree, 'dist', manifest.artifacts[1]!.path);
      checkHelpAndVersion(binary, meta.name, meta.title, meta.version);
      runSamples(binary, 'skeleton', mkdtempSync(path.join(scratchRoot, 'run-')));
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'serves the embedded web app with the right types and headers',
    async () => {
      const meta = JSON.parse(readFileSync(path.join(worktree, 'app.json'), 'utf8'));
      const binary = path.join(worktree, 'dist', 'bin', `${meta.name}-${HOST}`);
      const child: ChildProcess = spawn(binary, ['serve', '--addr', '127.0.0.1:0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const base = await new Promise<string>((resolve, reject) => {
          let buf = '';
          const timer = setTimeout(() => reject(new Error(`serve did not start: ${buf}`)), 10_000);
          child.stdout!.on('data', (d: Buffer) => {
            buf += d.toString();
            const m = buf.match(/http:\/\/127\.0\.0\.1:\d+/);
            if (m) {
              clearTimeout(timer);
              resolve(m[0]);
            }
          });
          child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${buf}`)));
        });
        const page = await fetch(`${base}/`);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
        expect(await page.text()).toContain(`<h1>${meta.title}</h1>`);
        const js = await fetch(`${base}/app.js`);
        expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
        expect((await fetch(`${base}/../go.mod`)).status).toBe(404);
        expect((await fetch(`${base}/missing.css`)).status).toBe(404);
      } finally {
        child.kill('SIGTERM');
      }
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'builds only the web app for ARTIFACT_TYPE=web and only binaries for ARTIFACT_TYPE=binary',
    () => {
      const meta = JSON.parse(readFileSync(path.join(worktree, 'app.json'), 'utf8'));
      mustRun('go', ['run', './tools/build'], worktree, goEnv({ ARTIFACT_TYPE: 'web' }));
      checkDist(worktree, 'web', meta.name, meta.title);
      mustRun('go', ['run', './tools/build'], worktree, goEnv({ ARTIFACT_TYPE: 'binary', PLATFORMS: HOST }));
      checkDist(worktree, 'binary', meta.name, meta.title);
      const bad = run('go', ['run', './tools/build'], worktree, goEnv({ ARTIFACT_TYPE: 'apk' }));
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain('ARTIFACT_TYPE');
    },
    STEP_TIMEOUT_MS,
  );
});

describe.skipIf(!GO)('recipes applied by the offline recipe coder', () => {
  const coder = new OfflineRecipeCoder();

  for (const recipe of RECIPES) {
    const type = TYPE_FOR[recipe.id] ?? 'both';
    it(
      `${recipe.id} (${type}) vets, tests, builds and runs`,
      async () => {
        const worktree = path.join(scratchRoot, recipe.id);
        copyTemplate(worktree);
        // A title with markup checks that visitor text is escaped where the build inserts it.
        const title = recipe.id === 'tip-calculator' ? 'Tips & "Splits" <for> friends' : recipe.title;
        const spec: BuildSpec = {
          title,
          summary: recipe.description,
          requestText: `Please build me a ${recipe.title.toLowerCase()}`,
          artifactType: type,
          platforms: [HOST],
          recipe: recipe.id,
          features: [...recipe.features],
          outOfScope: [],
          complexity: 'small',
        };
        const logs: string[] = [];
        const result = await coder.code({ worktree, spec, attempt: 1, log: (l) => logs.push(l) });
        expect(result, logs.join('\n')).toMatchObject({ ok: true });
        const meta = JSON.parse(readFileSync(path.join(worktree, 'app.json'), 'utf8'));
        expect(meta).toMatchObject({ title, artifact_type: type, recipe: recipe.id, platforms: [HOST] });

        mustRun('go', ['vet', './...'], worktree, goEnv());
        mustRun('go', ['test', './...'], worktree, goEnv());
        mustRun('go', ['run', './tools/build'], worktree, goEnv({ VERSION: '1.2.3-test' }));
        const manifest = checkDist(worktree, type, meta.name, meta.title);
        if (type !== 'binary') checkWeb(worktree, title);
        expect(mustRun('go', ['run', './tools/build', 'verify'], worktree, goEnv()).stdout).toContain(
          'verify: ok',
        );

        let binary: string;
        if (type === 'web') {
          // No binary is shipped; the tool logic is still a working CLI.
          binary = path.join(scratchRoot, `${recipe.id}-cli`);
          mustRun(
            'go',
            ['build', '-trimpath', '-ldflags', '-X main.version=1.2.3-test', '-o', binary, '.'],
            worktree,
            goEnv(),
          );
        } else {
          binary = path.join(worktree, 'dist', manifest.artifacts.find((a) => a.kind === 'binary')!.path);
        }
        checkHelpAndVersion(binary, meta.name, title, '1.2.3-test');
        runSamples(binary, recipe.id, mkdtempSync(path.join(scratchRoot, 'run-')));
      },
      STEP_TIMEOUT_MS,
    );
  }
});
