import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cloneBranch,
  commitAndPush,
  repoLeaseRef,
  StaleRepoLeaseError,
  takeRepoLease,
} from '../../worker-image/src/git.ts';
import { WORKER_AUTHOR } from '../../worker-image/src/worker.ts';

/** Real git against a real bare repository: the repository side of "one worker per attempt". */

const RUN = 'run_aaaaaaaaaaaaaaaaaaaaaaaaaa';
const BRANCH = `build/20261207/${RUN}`;
let root: string;
let bare: string;

const git = (...args: string[]) =>
  execFileSync('git', args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: root, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' },
  }).trim();

async function attempt(n: number) {
  const dir = join(root, `attempt-${n}`);
  await cloneBranch({ url: bare, branch: BRANCH, dir });
  const lease = await takeRepoLease({ dir, url: bare, runId: RUN, holder: `run ${RUN} attempt ${n}` });
  return { dir, lease };
}

async function change(dir: string, text: string) {
  await writeFile(join(dir, 'work.txt'), text);
  return (lease: Awaited<ReturnType<typeof attempt>>['lease']) =>
    commitAndPush({ dir, message: `work: ${text}`, author: WORKER_AUTHOR, branch: BRANCH, url: bare, lease });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'repo-lease-'));
  bare = join(root, 'template.git');
  const seed = join(root, 'seed');
  git('init', '--quiet', '--bare', bare);
  git('init', '--quiet', seed);
  await writeFile(join(seed, 'README.md'), 'template\n');
  git('-C', seed, 'add', '.');
  git('-C', seed, '-c', 'user.name=t', '-c', 'user.email=t@t.invalid', 'commit', '--quiet', '-m', 'base');
  git('-C', seed, 'push', '--quiet', bare, `HEAD:refs/heads/${BRANCH}`);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('repository lease (fencing ref per run)', () => {
  it("refuses a stale attempt's push once a newer attempt took the lease; the newer one's push succeeds", async () => {
    const base = git('--git-dir', bare, 'rev-parse', `refs/heads/${BRANCH}`);
    const stale = await attempt(1);
    const pushStale = await change(stale.dir, 'orphan');
    const current = await attempt(2); // e.g. the retry after a crashed stack
    const pushCurrent = await change(current.dir, 'retry');

    await expect(pushStale(stale.lease)).rejects.toBeInstanceOf(StaleRepoLeaseError);
    // The atomic push moved nothing: neither the branch nor the lease.
    expect(git('--git-dir', bare, 'rev-parse', `refs/heads/${BRANCH}`)).toBe(base);
    expect(git('--git-dir', bare, 'rev-parse', repoLeaseRef(RUN))).toBe(current.lease.token);

    const pushed = await pushCurrent(current.lease);
    expect(pushed.committed).toBe(true);
    expect(git('--git-dir', bare, 'rev-parse', `refs/heads/${BRANCH}`)).toBe(pushed.commit);
    // The lease advanced with the push, and the same holder can push again.
    expect(git('--git-dir', bare, 'rev-parse', repoLeaseRef(RUN))).toBe(current.lease.token);
    const again = await change(current.dir, 'retry, second push');
    expect((await again(current.lease)).committed).toBe(true);
    expect(git('--git-dir', bare, 'log', '-1', '--format=%B', repoLeaseRef(RUN))).toContain('attempt 2');
  });
});
