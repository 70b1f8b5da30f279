import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CheckOutcome } from '../domain/acceptance.ts';
import type { ArtifactType } from '../domain/build-spec.ts';
import type { ArtifactManifest, ManifestEntry } from '../domain/manifest.ts';
import { type AcceptanceOptions, type AcceptanceScreenshot, runAcceptance } from './acceptance-gate.ts';
import { executablePlatform } from './binary-format.ts';
import { type DirectoryFileDigest, directoryDigest } from './hash.ts';
import {
  duplicateIdProblems,
  kindProblems,
  manifestPathProblems,
  parseManifest,
  sourceIncludedProblems,
} from './manifest-check.ts';
import { manifestPathProblem, relIsWithin, type TreeWalk, walkCandidate } from './paths.ts';
import { type RenderCheckResult, renderCheck } from './render-check.ts';
import { type RenderEvidenceMode, type RenderRecord, renderEvidenceProblems } from './render-evidence.ts';
import { type BinarySmokeResult, detectHostPlatform, SmokeRunnerError, smokeBinary } from './smoke-binary.ts';
import { smokeWeb } from './smoke-web.ts';
import {
  archiveFormat,
  assetContentProblem,
  DEFAULT_BUILD_PATH_MARKERS,
  dirPolicyProblem,
  embeddedSourceProblem,
  filePolicyProblem,
  findBuildPaths,
  sourceMapCommentProblem,
} from './source-policy.ts';

export interface VerifyLimits {
  /** Largest single file in the candidate. */
  maxFileBytes: number;
  /** Largest artifact (a binary, or the sum of a web directory's files). */
  maxArtifactBytes: number;
  /** All files of the candidate together, manifest included. */
  maxTotalBytes: number;
  /** Number of files in the candidate, manifest included. */
  maxFileCount: number;
  maxManifestBytes: number;
}

export const DEFAULT_VERIFY_LIMITS: Readonly<VerifyLimits> = {
  maxFileBytes: 64 * 1024 * 1024,
  maxArtifactBytes: 128 * 1024 * 1024,
  maxTotalBytes: 512 * 1024 * 1024,
  maxFileCount: 2_000,
  maxManifestBytes: 256 * 1024,
};

/**
 * Runs the `--help` / `--version` smoke of one binary entry whose verified copy is at `absPath`.
 * It throws only for its own faults ({@link SmokeRunnerError}); a binary that fails is a result.
 */
export type BinaryRunner = (entry: ManifestEntry, absPath: string) => Promise<BinarySmokeResult>;

export interface VerifyCandidateOptions {
  /** The candidate directory (the template's `dist/`). Verify a copy the worker can no longer change. */
  root: string;
  /** Manifest location relative to `root` (default `artifact-manifest.json`). */
  manifestPath?: string;
  expectedArtifactType: ArtifactType;
  /** `<os>-<arch>` of this runner (default: detected). Binaries for it get the runtime smoke. */
  hostPlatform?: string;
  limits?: Partial<VerifyLimits>;
  /**
   * Strings that must appear in no file (the worktree path, branch name, secrets…). Findings name
   * them only by 1-based position (`forbidden string #2`). Entries shorter than 3 are ignored.
   */
  forbiddenStrings?: readonly string[];
  /** Build-machine path markers refused inside binaries (default {@link DEFAULT_BUILD_PATH_MARKERS}). */
  buildPathMarkers?: readonly string[];
  /** Require each binary's header to match its declared platform (default true). */
  checkBinaryFormat?: boolean;
  /** Fail when binaries are requested but none is for `hostPlatform` (default true: no smoke, no pass). */
  requireHostBinary?: boolean;
  /**
   * The approved spec's acceptance checks that apply (`checksFor(spec.checks, type)`), run after
   * every static check and smoke passed: cli checks on each binary for `hostPlatform`
   * (`acceptance.cli`), web checks on each web artifact (`acceptance.web`). A failed or unreported
   * check fails verification; a runner that cannot run (none given, no browser) throws
   * {@link SmokeRunnerError}. No checks (a spec from before checks): nothing more runs.
   */
  acceptance?: AcceptanceOptions;
  smoke?: {
    binaryTimeoutMs?: number;
    webTimeoutMs?: number;
    maxOutputBytes?: number;
    /** `auto` (default) uses a network namespace when available; `none` never does. */
    sandbox?: 'auto' | 'none';
    /**
     * Where the binary smoke runs. Default: here, with {@link smokeBinary} (`binaryTimeoutMs`,
     * `maxOutputBytes`, `sandbox`). On AWS VerifyArtifacts passes a runner that invokes the
     * isolated SmokeBinary function. `smoke.network_sandbox` reports the result's `sandbox`.
     */
    runBinary?: BinaryRunner;
    /**
     * Chromium for the web render check (`smoke.render`): a path, `false` to skip it, or unset to
     * use `VERIFY_BROWSER` / auto-detect (lib/verify/render-check.ts). No browser: skipped, not failed.
     */
    browser?: string | false;
    renderTimeoutMs?: number;
    /**
     * Where the render check runs. Default: here, with {@link renderCheck} (`browser`). On AWS
     * VerifyArtifacts passes a runner that invokes the isolated WebChecks function.
     */
    runRender?: (entry: ManifestEntry, absDir: string) => Promise<RenderCheckResult>;
    /**
     * What a skipped `smoke.render` (no browser here) means. `none` (default): a logged skip.
     * `worker`: each such web artifact needs a worker render record (`workerRenders`) with status
     * `passed` and the digest of the candidate's web files, else `smoke.render_evidence` fails
     * (lib/verify/render-evidence.ts). A render this runner did itself is unaffected.
     */
    renderEvidence?: RenderEvidenceMode;
    /** The worker's render records (its `result.json` `render`); used with `renderEvidence: 'worker'`. */
    workerRenders?: readonly RenderRecord[];
  };
}

export interface VerificationCheck {
  name: string;
  passed: boolean;
  detail?: string;
}

export interface VerificationReport {
  passed: boolean;
  checks: VerificationCheck[];
  /** Operator / repair-loop detail: every failed check with its findings. Internal only. */
  internalReason?: string;
  /** Customer-safe, one of {@link PUBLIC_SUMMARIES}: never paths, names or findings. */
  publicSummary: string;
  /** The deliverable entries (all of them when passed; none when failed). */
  artifacts: ManifestEntry[];
  /** The acceptance checks, when any ran: one outcome per check and artifact (detail internal). */
  acceptance?: {
    outcomes: CheckOutcome[];
    /** The PNG of each web artifact at the end of its checks. */
    screenshots: AcceptanceScreenshot[];
  };
}

/** The fixed vocabulary of `publicSummary`. */
export const PUBLIC_SUMMARIES = {
  passed: 'The artifact passed verification.',
  manifest: 'The artifact failed verification: its manifest was invalid.',
  files: 'The artifact failed verification: its files did not match its manifest.',
  content: 'The artifact failed verification: it contained material that may not be delivered.',
  limits: 'The artifact failed verification: it exceeded the size limits.',
  runtime: 'The artifact failed verification: it did not run correctly.',
  acceptance: 'The artifact failed verification: it did not do what was agreed.',
  error: 'The artifact failed verification.',
} as const;

/** Check names, in the order they appear in a report (`verifier.error`: the verifier itself failed). */
export const CHECK_NAMES = [
  'manifest.parse',
  'manifest.ids',
  'manifest.source_included',
  'manifest.kinds',
  'paths.manifest',
  'paths.tree',
  'files.integrity',
  'files.coverage',
  'source.policy',
  'binary.build_paths',
  'binary.format',
  'limits',
  'smoke.binary',
  'smoke.network_sandbox',
  'smoke.web',
  'smoke.render',
  'smoke.render_evidence',
  'acceptance.cli',
  'acceptance.web',
  'verifier.error',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

const SUMMARY_FOR: Record<CheckName, keyof typeof PUBLIC_SUMMARIES> = {
  'manifest.parse': 'manifest',
  'manifest.ids': 'manifest',
  'manifest.source_included': 'manifest',
  'manifest.kinds': 'manifest',
  'paths.manifest': 'manifest',
  'paths.tree': 'files',
  'files.integrity': 'files',
  'files.coverage': 'files',
  'source.policy': 'content',
  'binary.build_paths': 'content',
  'binary.format': 'files',
  limits: 'limits',
  'smoke.binary': 'runtime',
  'smoke.network_sandbox': 'runtime',
  'smoke.web': 'runtime',
  'smoke.render': 'runtime',
  'smoke.render_evidence': 'error',
  'acceptance.cli': 'acceptance',
  'acceptance.web': 'acceptance',
  'verifier.error': 'error',
};

const MAX_PROBLEMS = 10;
const MAX_REASON = 4_000;

function summarise(problems: readonly string[]): string {
  const shown = problems.slice(0, MAX_PROBLEMS).join('; ');
  return problems.length > MAX_PROBLEMS ? `${shown}; (+${problems.length - MAX_PROBLEMS} more)` : shown;
}

class Checks {
  readonly list: Array<VerificationCheck & { name: CheckName }> = [];
  add(name: CheckName, problems: readonly string[], okDetail?: string): boolean {
    const passed = problems.length === 0;
    const detail = passed ? okDetail : summarise(problems);
    this.list.push(detail === undefined ? { name, passed } : { name, passed, detail });
    return passed;
  }
  get passed(): boolean {
    return this.list.every((c) => c.passed);
  }
}

/** What `smoke.network_sandbox` says about where the binaries ran (the weakest kind first). */
function sandboxDetail(kinds: readonly string[]): string {
  if (kinds.includes('none')) {
    return 'network sandbox not available: ran with proxy variables pointing at an unreachable address';
  }
  const parts: string[] = [];
  if (kinds.includes('isolated-lambda')) {
    parts.push(
      'ran in the isolated smoke function (no data permissions; network egress only HTTPS to the S3 endpoint)',
    );
  }
  const local = kinds.filter((k) => k !== 'isolated-lambda');
  if (local.length > 0) parts.push(`network isolated with ${local.join(', ')}`);
  return parts.join('; ');
}

interface FileFacts {
  size: number;
  /** Undefined when the file was not read (over the per-file limit). */
  sha256?: string;
}

/**
 * VerifyArtifacts: decides whether a worker's candidate directory may be published. Static
 * checks always run on what exists (so the repair loop sees every problem at once); the runtime
 * smokes run only when every static check passed (nothing unsafe is executed or served).
 * Never throws: an unexpected error is a failed report, except a {@link SmokeRunnerError} (the
 * binary runner itself failed), which propagates.
 */
export async function verifyCandidate(opts: VerifyCandidateOptions): Promise<VerificationReport> {
  const checks = new Checks();
  let entries: ManifestEntry[] = [];
  let acceptance: VerificationReport['acceptance'];
  try {
    entries = await runChecks(opts, checks, (a) => {
      acceptance = a;
    });
  } catch (err) {
    // The smoke runner's own failure is no verdict on the candidate: the caller retries or fails.
    if (err instanceof SmokeRunnerError) throw err;
    checks.add('verifier.error', [`unexpected error: ${(err as Error).message}`]);
  }
  const passed = checks.list.length > 0 && checks.passed;
  const failed = checks.list.filter((c) => !c.passed);
  const report: VerificationReport = {
    passed,
    checks: checks.list.map((c) => ({ ...c })),
    publicSummary: passed
      ? PUBLIC_SUMMARIES.passed
      : PUBLIC_SUMMARIES[failed[0] ? SUMMARY_FOR[failed[0].name] : 'error'],
    artifacts: passed ? entries : [],
  };
  if (acceptance) report.acceptance = acceptance;
  if (!passed) {
    const reason = failed.map((c) => `${c.name}: ${c.detail ?? 'failed'}`).join(' | ') || 'no checks ran';
    report.internalReason = reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason;
  }
  return report;
}

async function runChecks(
  opts: VerifyCandidateOptions,
  checks: Checks,
  onAcceptance: (a: NonNullable<VerificationReport['acceptance']>) => void,
): Promise<ManifestEntry[]> {
  const limits: VerifyLimits = { ...DEFAULT_VERIFY_LIMITS, ...opts.limits };
  const manifestPath = opts.manifestPath ?? 'artifact-manifest.json';
  const hostPlatform = opts.hostPlatform ?? detectHostPlatform();
  const forbiddenStrings = opts.forbiddenStrings ?? [];
  const markers = opts.buildPathMarkers ?? DEFAULT_BUILD_PATH_MARKERS;

  const manifestPathIssue = manifestPathProblem(manifestPath);
  if (manifestPathIssue) {
    checks.add('manifest.parse', [`manifest path option is unsafe: ${manifestPathIssue}`]);
    return [];
  }

  // --- the tree (lstat walk; nothing followed) ---------------------------------------------
  let tree: TreeWalk;
  try {
    tree = await walkCandidate(opts.root, { maxEntries: limits.maxFileCount * 2 + 100 });
  } catch (err) {
    checks.add('paths.tree', [
      `candidate root unreadable: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    ]);
    return [];
  }
  const files = new Map(tree.files.map((f) => [f.rel, f]));
  const dirs = new Set(tree.dirs);

  // --- manifest ------------------------------------------------------------------------------
  let manifest: ArtifactManifest | undefined;
  const manifestFile = files.get(manifestPath);
  if (!manifestFile) {
    checks.add('manifest.parse', [`manifest not found as a regular file at ${manifestPath}`]);
  } else if (manifestFile.size > limits.maxManifestBytes) {
    checks.add('manifest.parse', [
      `manifest is ${manifestFile.size} bytes (limit ${limits.maxManifestBytes})`,
    ]);
  } else {
    const parsed = parseManifest(await readFile(manifestFile.abs, 'utf8'));
    if (checks.add('manifest.parse', parsed.ok ? [] : parsed.problems) && parsed.ok)
      manifest = parsed.manifest;
  }
  const entries = manifest?.artifacts ?? [];
  if (manifest) {
    checks.add('manifest.ids', duplicateIdProblems(entries));
    checks.add('manifest.source_included', sourceIncludedProblems(entries));
    checks.add('manifest.kinds', kindProblems(entries, opts.expectedArtifactType));
    checks.add('paths.manifest', manifestPathProblems(entries, manifestPath));
  }
  const safeEntries = entries.filter((e) => manifestPathProblem(e.path) === undefined);
  const webEntries = safeEntries.filter((e) => e.kind === 'web');
  const binaryEntries = safeEntries.filter((e) => e.kind === 'binary');
  const binaryPaths = new Set(binaryEntries.map((e) => e.path));
  const inWeb = (rel: string) => webEntries.some((e) => relIsWithin(e.path, rel) && rel !== e.path);

  const treeProblems = [...tree.problems];
  if (tree.truncated) treeProblems.push(`more than ${limits.maxFileCount * 2 + 100} entries; walk stopped`);
  checks.add('paths.tree', treeProblems);

  // --- one pass over every file: hash and content policy -----------------------------------
  const facts = new Map<string, FileFacts>();
  /** Directory digest of each web entry's files (by manifest path), as the gate computed it. */
  const webDigests = new Map<string, string>();
  const policy: string[] = [];
  const buildPaths: string[] = [];
  const format: string[] = [];
  const limitProblems: string[] = [];
  for (const dir of tree.dirs) {
    const p = dirPolicyProblem(dir);
    if (p) policy.push(p);
  }
  let total = 0;
  for (const f of tree.files) {
    total += f.size;
    if (f.rel === manifestPath) {
      facts.set(f.rel, { size: f.size });
      continue;
    }
    const web = inWeb(f.rel);
    const namePolicy = filePolicyProblem(f.rel, web);
    if (namePolicy) policy.push(namePolicy);
    if (f.size > limits.maxFileBytes) {
      limitProblems.push(`file ${f.rel} is ${f.size} bytes (limit ${limits.maxFileBytes})`);
      facts.set(f.rel, { size: f.size });
      continue;
    }
    const buf = await readFile(f.abs);
    facts.set(f.rel, { size: buf.length, sha256: createHash('sha256').update(buf).digest('hex') });
    const archive = archiveFormat(buf);
    if (archive) policy.push(`archive content (${archive}): ${f.rel}`);
    if (web) {
      const asset = assetContentProblem(f.rel, buf);
      if (asset) policy.push(asset);
      const embedded = embeddedSourceProblem(f.rel, buf);
      if (embedded) policy.push(embedded);
    }
    const mapComment = sourceMapCommentProblem(f.rel, buf);
    if (mapComment) policy.push(mapComment);
    const isBinary = binaryPaths.has(f.rel);
    const found = findBuildPaths(buf, {
      markers: isBinary ? markers : [],
      forbiddenStrings,
      sourcePaths: isBinary,
    });
    if (found.length > 0) buildPaths.push(`${f.rel}: ${found.join(', ')}`);
    if (isBinary && opts.checkBinaryFormat !== false) {
      const declared = binaryEntries.find((e) => e.path === f.rel)?.platform;
      const actual = executablePlatform(buf);
      if ('problem' in actual) format.push(`${f.rel}: ${actual.problem}`);
      else if (declared !== undefined && actual.platform !== declared) {
        format.push(`${f.rel}: header says ${actual.platform}, manifest says ${declared}`);
      }
    }
  }

  // --- integrity and coverage (need the manifest) --------------------------------------------
  if (manifest) {
    const integrity: string[] = [];
    for (const e of safeEntries) {
      const file = files.get(e.path);
      let actual: { size: number; sha256?: string } | undefined;
      if (file) {
        if (e.kind === 'web') integrity.push(`${e.artifact_id}: ${e.path} is a file, expected a directory`);
        actual = facts.get(e.path);
      } else if (dirs.has(e.path)) {
        if (e.kind === 'binary')
          integrity.push(`${e.artifact_id}: ${e.path} is a directory, expected a file`);
        const inside = tree.files.filter((f) => relIsWithin(e.path, f.rel) && f.rel !== e.path);
        const digests: DirectoryFileDigest[] = [];
        let size = 0;
        let complete = true;
        for (const f of inside) {
          const fact = facts.get(f.rel);
          size += f.size;
          if (fact?.sha256 === undefined) complete = false;
          else digests.push({ rel: f.rel.slice(e.path.length + 1), sha256: fact.sha256 });
        }
        actual = complete ? { size, sha256: directoryDigest(digests) } : { size };
        if (e.kind === 'web' && actual.sha256 !== undefined) webDigests.set(e.path, actual.sha256);
        if (e.kind === 'web' && e.entrypoint !== undefined && !files.has(`${e.path}/${e.entrypoint}`)) {
          integrity.push(`${e.artifact_id}: entrypoint ${e.entrypoint} not found in ${e.path}`);
        }
      } else {
        integrity.push(`${e.artifact_id}: missing ${e.path}`);
        continue;
      }
      if (actual === undefined) continue;
      if (actual.size > limits.maxArtifactBytes) {
        limitProblems.push(
          `artifact ${e.artifact_id} is ${actual.size} bytes (limit ${limits.maxArtifactBytes})`,
        );
      }
      if (actual.size !== e.size_bytes) {
        integrity.push(`${e.artifact_id}: size mismatch (manifest ${e.size_bytes}, actual ${actual.size})`);
      }
      if (actual.sha256 === undefined)
        integrity.push(`${e.artifact_id}: not hashed (over the file size limit)`);
      else if (actual.sha256 !== e.sha256) {
        integrity.push(`${e.artifact_id}: sha256 mismatch (manifest ${e.sha256}, actual ${actual.sha256})`);
      }
    }
    checks.add('files.integrity', integrity);

    const covered = (rel: string) =>
      rel === manifestPath || safeEntries.some((e) => e.path === rel || relIsWithin(e.path, rel));
    const extra = tree.files.filter((f) => !covered(f.rel)).map((f) => `file not in the manifest: ${f.rel}`);
    checks.add('files.coverage', extra);
  }

  checks.add('source.policy', policy);
  checks.add('binary.build_paths', buildPaths);
  if (binaryEntries.length > 0 && opts.checkBinaryFormat !== false) checks.add('binary.format', format);
  if (tree.files.length > limits.maxFileCount) {
    limitProblems.push(`${tree.files.length} files (limit ${limits.maxFileCount})`);
  }
  if (total > limits.maxTotalBytes)
    limitProblems.push(`${total} bytes in total (limit ${limits.maxTotalBytes})`);
  checks.add('limits', limitProblems);

  // --- runtime smokes: only for a statically clean candidate ----------------------------------
  if (!manifest || !checks.passed) return entries;
  const smoke = opts.smoke ?? {};
  const runnable = binaryEntries.filter((e) => e.platform === hostPlatform);
  if (binaryEntries.length > 0) {
    if (runnable.length === 0) {
      const have = [...new Set(binaryEntries.map((e) => e.platform ?? '?'))].join(', ');
      if (opts.requireHostBinary === false) {
        checks.add(
          'smoke.binary',
          [],
          `not run: no binary for ${hostPlatform ?? 'this runner'} (have ${have})`,
        );
      } else {
        checks.add('smoke.binary', [
          `no binary for the runner platform ${hostPlatform ?? '(unknown)'} (have ${have})`,
        ]);
      }
    } else {
      const problems: string[] = [];
      const sandboxes = new Set<string>();
      const runBinary: BinaryRunner =
        smoke.runBinary ??
        ((_entry, file) =>
          smokeBinary({
            file,
            timeoutMs: smoke.binaryTimeoutMs,
            maxOutputBytes: smoke.maxOutputBytes,
            sandbox: smoke.sandbox,
          }));
      for (const e of runnable) {
        const r = await runBinary(e, path.join(tree.realRoot, e.path));
        sandboxes.add(r.sandbox);
        for (const p of r.problems) problems.push(`${e.artifact_id}: ${p}`);
      }
      checks.add('smoke.binary', problems, `ran ${runnable.map((e) => e.artifact_id).join(', ')} --help`);
      checks.add('smoke.network_sandbox', [], sandboxDetail([...sandboxes]));
    }
  }
  for (const e of webEntries) {
    const r = await smokeWeb({
      dir: path.join(tree.realRoot, e.path),
      entrypoint: e.entrypoint ?? 'index.html',
      timeoutMs: smoke.webTimeoutMs,
    });
    const webOk = checks.add(
      'smoke.web',
      r.problems.map((p) => `${e.artifact_id}: ${p}`),
      r.notes.length > 0 ? summarise(r.notes) : undefined,
    );
    // The page in headless Chromium: non-blank, no uncaught errors, no failed same-origin loads.
    if (!webOk) continue;
    const rendered = smoke.runRender
      ? await smoke.runRender(e, path.join(tree.realRoot, e.path))
      : await renderCheck({
          dir: path.join(tree.realRoot, e.path),
          entrypoint: e.entrypoint ?? 'index.html',
          browser: smoke.browser,
          timeoutMs: smoke.renderTimeoutMs,
        });
    checks.add(
      'smoke.render',
      rendered.problems.map((p) => `${e.artifact_id}: ${p}`),
      rendered.status === 'skipped'
        ? `skipped: ${summarise(rendered.notes)}`
        : rendered.notes.length > 0
          ? summarise(rendered.notes)
          : `rendered ${e.artifact_id} in headless Chromium`,
    );
    // No browser here: with `renderEvidence: 'worker'` the worker's render of these exact bytes
    // must stand in for it; a skip alone never passes.
    if (rendered.status === 'skipped' && smoke.renderEvidence === 'worker') {
      const digest = webDigests.get(e.path);
      checks.add(
        'smoke.render_evidence',
        renderEvidenceProblems(e.artifact_id, digest, smoke.workerRenders ?? []),
        `the worker rendered ${e.artifact_id} in headless Chromium (digest ${digest?.slice(0, 12)}… matches the candidate)`,
      );
    }
  }

  // --- acceptance checks: only for a candidate that passed everything above ------------------
  const accept = opts.acceptance;
  if (!accept || accept.checks.length === 0 || !checks.passed) return entries;
  const ran = await runAcceptance(accept, tree.realRoot, runnable, webEntries, hostPlatform);
  onAcceptance({ outcomes: ran.outcomes, screenshots: ran.screenshots });
  const count = (kind: 'cli' | 'web') => accept.checks.filter((c) => c.kind === kind).length;
  if (count('cli') > 0)
    checks.add('acceptance.cli', ran.cliProblems, `${count('cli')} passed on ${ran.cliRan.join(', ')}`);
  if (count('web') > 0)
    checks.add('acceptance.web', ran.webProblems, `${count('web')} passed on ${ran.webRan.join(', ')}`);
  return entries;
}
