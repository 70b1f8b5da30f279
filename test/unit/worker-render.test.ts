import { describe, expect, it } from 'vitest';
import type { RenderCheckOptions, RenderCheckResult } from '../../lib/verify/render-check.ts';
import { renderWebArtifacts } from '../../worker-image/src/render.ts';

const fake = (result: RenderCheckResult) => {
  const calls: RenderCheckOptions[] = [];
  const check = async (opts: RenderCheckOptions) => {
    calls.push(opts);
    return result;
  };
  return { calls, check };
};

describe('worker render check', () => {
  const web = { artifact_id: 'web', kind: 'web', path: 'web', entrypoint: 'index.html' };
  const bin = { artifact_id: 'bin-linux-amd64', kind: 'binary', path: 'bin/x' };

  it('renders each web entry from the manifest directory and passes when it renders', async () => {
    const { calls, check } = fake({ status: 'passed', problems: [], notes: [] });
    const out = await renderWebArtifacts('/w/dist', [web, bin], check);
    expect(out.failure).toBeUndefined();
    expect(calls).toEqual([{ dir: '/w/dist/web', entrypoint: 'index.html' }]);
  });

  it('fails the attempt with the problems when the page is blank or throws', async () => {
    const { check } = fake({ status: 'failed', problems: ['uncaught script error: boom'], notes: [] });
    const out = await renderWebArtifacts('/w/dist', [web], check);
    expect(out.failure).toBe('render check failed: uncaught script error: boom');
  });

  it('treats a missing browser as a logged skip, and leaves unsafe paths to the gate', async () => {
    const { calls, check } = fake({ status: 'skipped', problems: [], notes: ['no browser found'] });
    const out = await renderWebArtifacts('/w/dist', [web, { ...web, path: '../../etc' }], check);
    expect(out.failure).toBeUndefined();
    expect(calls).toHaveLength(1);
    expect(out.log.join('\n')).toMatch(/skipped \(no browser found\)[\s\S]*unsafe path/);
  });
});
