import { RUN_ID_PATTERN } from './ids.ts';

export const BRANCH_PATTERN = /^build\/\d{8}\/run_[a-z2-7]{26}$/;

/**
 * The one place a branch name is generated: `build/{YYYYMMDD}/{run_id}`, from the run's creation
 * date (UTC) and its validated id. Nothing a visitor types reaches a ref name.
 */
export function branchName(runId: string, createdAt: string): string {
  if (!RUN_ID_PATTERN.test(runId)) throw new Error('invalid run id for a branch name');
  const date = new Date(createdAt);
  if (Number.isNaN(date.getTime())) throw new Error('invalid creation date for a branch name');
  const ymd = date.toISOString().slice(0, 10).replaceAll('-', '');
  const name = `build/${ymd}/${runId}`;
  if (!BRANCH_PATTERN.test(name)) throw new Error('invalid branch name');
  return name;
}
