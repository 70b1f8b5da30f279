import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: handler `entry` paths in `functions/api/routes.ts` are relative to it. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Absolute path of a repository-relative file. */
export function repoPath(relative: string): string {
  return join(REPO_ROOT, relative);
}
