import type { BuildRun } from '../../domain/run.ts';
import { type CommandResult, requireRun, s3Uri, short } from '../output.ts';
import { formatBytes, formatTime, renderTable, section } from '../table.ts';
import type { Connection } from '../target.ts';

/** The approved title of a check id (the spec's words), or the id when the spec has none. */
function checkTitle(run: BuildRun, id: string): string {
  const title = run.spec?.checks?.find((c) => c.id === id)?.title;
  return title ? `${id} "${title}"` : id;
}

/**
 * One row per verification check, grouped by attempt, then one per acceptance check the gate ran
 * (`check <id> "<title>"`, where it ran, the internal detail of a failure). Shared with `show`,
 * so a failed attempt names the agreed check it failed.
 */
export function verificationTable(run: BuildRun): string {
  const rows = run.verification.flatMap((v) => {
    const head = {
      attempt: String(v.attempt),
      result: v.passed ? 'passed' : 'FAILED',
      at: formatTime(v.at),
      check: '',
      detail: v.internalReason ?? '',
    };
    const checks = v.checks.map((c) => ({
      attempt: '',
      result: c.passed ? 'ok' : 'FAIL',
      at: '',
      check: c.name,
      detail: c.detail ?? '',
    }));
    const outcomes = (v.outcomes ?? []).map((o) => ({
      attempt: '',
      result: o.passed ? 'ok' : 'FAIL',
      at: '',
      check: `check ${checkTitle(run, o.id)} on ${o.ranOn} (${o.durationMs} ms)`,
      detail: o.detail ?? '',
    }));
    return [head, ...checks, ...outcomes];
  });
  return renderTable(
    rows,
    [
      { header: 'ATTEMPT', value: (r) => r.attempt },
      { header: 'RESULT', value: (r) => r.result },
      { header: 'AT', value: (r) => r.at },
      { header: 'CHECK', value: (r) => r.check },
      { header: 'DETAIL', value: (r) => r.detail, maxWidth: 100 },
    ],
    '(no verification yet)',
  );
}

/** `artifacts`: the submitted manifest, the verified (published) artifacts and all verification results. */
export async function artifactsCommand(conn: Connection, runId: string): Promise<CommandResult> {
  const run = await requireRun(conn.store, runId);
  const published = run.artifacts.map((a) => ({
    ...a,
    location: s3Uri(conn.buckets.artifacts, a.published_key),
  }));
  const manifest = run.manifest?.artifacts ?? [];

  const text = [
    `Build run ${run.runId} (${run.phase}, ${run.attempts} attempt${run.attempts === 1 ? '' : 's'})`,
    section(
      'Manifest (last submitted)',
      renderTable(
        manifest,
        [
          { header: 'ID', value: (a) => a.artifact_id },
          { header: 'KIND', value: (a) => a.kind },
          { header: 'NAME', value: (a) => a.name },
          { header: 'PLATFORM', value: (a) => a.platform ?? '' },
          { header: 'SIZE', value: (a) => formatBytes(a.size_bytes), align: 'right' },
          { header: 'SHA256', value: (a) => short(a.sha256) },
          { header: 'SOURCE', value: (a) => (a.source_included ? 'yes' : 'no') },
          { header: 'PATH', value: (a) => a.path },
        ],
        '(no manifest submitted)',
      ),
    ),
    section(
      'Verified artifacts',
      renderTable(
        published,
        [
          { header: 'ID', value: (a) => a.artifact_id },
          { header: 'KIND', value: (a) => a.kind },
          { header: 'NAME', value: (a) => a.name },
          { header: 'TYPE', value: (a) => a.content_type },
          { header: 'SIZE', value: (a) => formatBytes(a.size_bytes), align: 'right' },
          { header: 'VERIFIED', value: (a) => formatTime(a.verified_at) },
          {
            header: 'CHECKS',
            value: (a) =>
              a.receipt
                ? `${a.receipt.checks.filter((c) => c.passed).length}/${a.receipt.checks.length} passed${a.receipt.screenshot_key ? ' + screenshot' : ''}`
                : '',
          },
          { header: 'LOCATION', value: (a) => a.location },
        ],
        '(none verified)',
      ),
    ),
    section('Verification', verificationTable(run)),
  ].join('\n\n');

  return {
    data: {
      runId: run.runId,
      phase: run.phase,
      attempts: run.attempts,
      manifest: run.manifest ?? null,
      artifacts: published,
      verification: run.verification,
    },
    text,
  };
}
