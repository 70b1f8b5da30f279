import { spawn, spawnSync } from 'node:child_process';
import {
  detectEngine,
  type Engine,
  ImageUsageError,
  imageCommands,
  parseImageArgs,
} from '../lib/infra/image-build.ts';
import { REPO_ROOT } from '../lib/infra/paths.ts';

/** `npm run image -- …`: see lib/infra/image-build.ts and README "The worker image". */
async function main(): Promise<number> {
  let opts: ReturnType<typeof parseImageArgs>;
  try {
    opts = parseImageArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ImageUsageError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const available = async (engine: Engine) =>
    spawnSync(engine, ['info'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
  const found = await detectEngine(opts.engine, available);
  if ('reason' in found) {
    console.error(`npm run image: ${found.reason}`);
    return 3;
  }
  const { commands, uri } = imageCommands(found.engine, opts);
  for (const argv of commands) {
    console.info(`$ ${argv.join(' ')}`);
    if (opts.dryRun) continue;
    const code = await new Promise<number>((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, stdio: 'inherit' });
      child.on('error', () => resolve(127));
      child.on('close', (c) => resolve(c ?? 1));
    });
    if (code !== 0) return code;
  }
  const sized = opts.dryRun
    ? undefined
    : spawnSync(found.engine, ['image', 'inspect', '--format', '{{.Size}}', opts.tag], { encoding: 'utf8' });
  if (sized?.status === 0) console.info(`image size: ${(Number(sized.stdout.trim()) / 1e9).toFixed(2)} GB`);
  console.info(opts.push ? `deploy with: npx cdk deploy -c workerImage=${uri}` : `built ${uri}`);
  return 0;
}

process.exitCode = await main();
