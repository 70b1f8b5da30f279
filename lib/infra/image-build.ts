import { parseArgs } from 'node:util';

/**
 * `npm run image`: builds the worker image from `worker-image/Dockerfile` (context: the
 * repository root, as the CDK asset does) with docker or podman, optionally pushes it, and prints
 * the URI to deploy with (`-c workerImage=<uri>`), so `cdk deploy` needs no container engine.
 * This module is the pure part (arguments, engine choice, the commands); bin/image.ts runs them.
 */

export const ENGINES = ['docker', 'podman'] as const;
export type Engine = (typeof ENGINES)[number];

export interface ImageOptions {
  engine?: Engine;
  platform: string;
  tag: string;
  /** Repository to push to (`<registry>/<repo>`); the pushed URI is `<push>:<tag part>`. */
  push?: string;
  dryRun: boolean;
}

export const DEFAULT_PLATFORM = 'linux/arm64';
export const DEFAULT_TAG = 'bus-build-worker:dev';

export const IMAGE_USAGE = [
  'Usage: npm run image -- [--engine docker|podman] [--platform linux/arm64] [--tag name:tag]',
  '                        [--push <registry>/<repository>] [--dry-run]',
  'Engine: --engine, else CONTAINER_ENGINE, else the first of docker, podman on PATH.',
].join('\n');

export class ImageUsageError extends Error {}

export function parseImageArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ImageOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        engine: { type: 'string' },
        platform: { type: 'string' },
        tag: { type: 'string' },
        push: { type: 'string' },
        'dry-run': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ImageUsageError(`${err instanceof Error ? err.message : String(err)}\n${IMAGE_USAGE}`);
  }
  const engine = (values.engine as string | undefined) ?? (env.CONTAINER_ENGINE?.trim() || undefined);
  if (engine !== undefined && !(ENGINES as readonly string[]).includes(engine)) {
    throw new ImageUsageError(`unknown engine ${engine} (use ${ENGINES.join(' or ')})\n${IMAGE_USAGE}`);
  }
  const platform = (values.platform as string | undefined) ?? DEFAULT_PLATFORM;
  if (!/^linux\/(arm64|amd64)$/.test(platform)) {
    throw new ImageUsageError(
      `--platform must be linux/arm64 (what the task runs) or linux/amd64: ${platform}`,
    );
  }
  const tag = (values.tag as string | undefined) ?? DEFAULT_TAG;
  if (!/^[a-z0-9][a-z0-9._/-]*:[\w.-]{1,128}$/.test(tag)) {
    throw new ImageUsageError(`--tag must be name:tag in lower case: ${tag}`);
  }
  const push = values.push as string | undefined;
  if (push !== undefined && !/^[a-z0-9][a-z0-9.-]*(:\d+)?\/[a-z0-9._/-]+$/.test(push)) {
    throw new ImageUsageError(`--push must be <registry>/<repository> without a tag: ${push}`);
  }
  return {
    ...(engine ? { engine: engine as Engine } : {}),
    platform,
    tag,
    ...(push ? { push } : {}),
    dryRun: values['dry-run'] === true,
  };
}

/**
 * The engine to use: the requested one if it answers `info` (a docker CLI without a
 * running daemon does not count), else the first of ENGINES that
 * does. `available` runs `<engine> info` (injected so the choice is testable without one).
 */
export async function detectEngine(
  requested: Engine | undefined,
  available: (engine: Engine) => Promise<boolean>,
): Promise<{ engine: Engine } | { reason: string }> {
  if (requested) {
    return (await available(requested))
      ? { engine: requested }
      : {
          reason: `${requested} was requested but \`${requested} info\` fails here (no engine or no daemon)`,
        };
  }
  for (const engine of ENGINES) if (await available(engine)) return { engine };
  return {
    reason:
      'no container engine: neither `docker info` nor `podman info` succeeds here (not installed, or no ' +
      'daemon). Install or start one, ' +
      'or build on another machine (or CI) and deploy with -c workerImage=<uri>',
  };
}

/** The commands to run, in order (argv arrays), and the URI to deploy with. */
export function imageCommands(engine: Engine, opts: ImageOptions): { commands: string[][]; uri: string } {
  const build = [
    engine,
    'build',
    '--platform',
    opts.platform,
    '-f',
    'worker-image/Dockerfile',
    '-t',
    opts.tag,
    '.',
  ];
  if (!opts.push) return { commands: [build], uri: opts.tag };
  const uri = `${opts.push}:${opts.tag.slice(opts.tag.lastIndexOf(':') + 1)}`;
  return { commands: [build, [engine, 'tag', opts.tag, uri], [engine, 'push', uri]], uri };
}
