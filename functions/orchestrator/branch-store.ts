import type { BranchStore } from '../../lib/app/orchestrator/ports.ts';
import { RepoStore } from '../../lib/aws/repo-store.ts';

type Repos = Pick<RepoStore, 'ensureBranch' | 'initTemplate'>;

/**
 * PrepareBranch's repository: the bare repository at `REPO_DIR` (EFS on AWS, the data dir
 * locally). With `TEMPLATE_DIR` (the template shipped inside the function bundle on AWS) the
 * repository seeds and updates itself: once per container it commits the template if its content
 * changed and moves the base tag (idempotent, lock-protected), so a deploy of a new template
 * needs no operator step. Locally `npm start` seeds it and TEMPLATE_DIR is unset.
 */
export function branchStoreFromEnv(
  env: NodeJS.ProcessEnv,
  open: (bareDir: string) => Repos = (bareDir) => new RepoStore({ bareDir }),
): BranchStore {
  let repos: Repos | undefined;
  let seeded: Promise<unknown> | undefined;
  return {
    ensureBranch: async (run) => {
      if (!repos) {
        const bareDir = env.REPO_DIR?.trim();
        if (!bareDir) throw new Error('REPO_DIR is not set');
        repos = open(bareDir);
      }
      const templateDir = env.TEMPLATE_DIR?.trim();
      if (templateDir) {
        const r = repos;
        seeded ??= r.initTemplate({ templateDir }).catch((err: unknown) => {
          seeded = undefined;
          throw err;
        });
        await seeded;
      }
      return repos.ensureBranch(run);
    },
  };
}
