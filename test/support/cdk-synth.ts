import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The real `npm run synth` (`cdk synth --quiet`: cdk.json's app command, esbuild bundling of every
 * function, the AwsSolutions validation plugin of bin/app.ts) into `outDir`: the cloud assembly
 * `cdk deploy` would upload. About 20 s on two cores when run alone.
 */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The sender `npm run synth` passes too (package.json): the one setting without a default. */
export const SYNTH_EMAIL_FROM = 'no-reply@busdk.com';
export const SYNTH_STACK = 'BusBuild-dev';

export interface SynthResult {
  code: number | null;
  output: string;
  ms: number;
}

export function runCdkSynth(outDir: string, timeoutMs = 230_000): Promise<SynthResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // npx resolves the project's own cdk CLI (and the Node it runs under), as `npm run synth` does.
    const args = [
      'cdk',
      'synth',
      '--quiet',
      '--no-notices',
      '-c',
      `emailFrom=${SYNTH_EMAIL_FROM}`,
      '-o',
      outDir,
    ];
    const child = spawn('npx', args, {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

/** runCdkSynth that throws (with the output's tail) unless cdk exits 0. */
export async function synthesizeAssembly(outDir: string, timeoutMs?: number): Promise<SynthResult> {
  const result = await runCdkSynth(outDir, timeoutMs);
  if (result.code !== 0) throw new Error(`cdk synth exited ${result.code}:\n${result.output.slice(-4000)}`);
  return result;
}
