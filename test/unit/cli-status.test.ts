import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkCoder,
  checkModel,
  checkNode,
  checkStripe,
  parseGoVersion,
  renderStatus,
  type StatusItem,
} from '../../lib/cli/commands/status.ts';
import { probeError } from '../../lib/cli/errors.ts';
import { type CliIo, main } from '../../lib/cli/main.ts';

const SECRETS = {
  STRIPE_SECRET_KEY: 'sk_test_SECRETVALUE',
  STRIPE_WEBHOOK_SECRET: 'whsec_WEBHOOKSECRETVALUE',
  OPENAI_API_KEY: 'sk-OPENAIKEYVALUE',
  OPENAI_BASE_URL: 'https://user:URLPASSWORD@models.example.com/v1',
  SESSION_SECRET: 'SESSIONSECRETVALUE',
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-status-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

function io(env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    env,
    cwd: dir,
    now: () => new Date('2026-11-24T10:00:00Z'),
  };
  return { io: value, out: () => out.join('\n'), err: () => err.join('\n') };
}

describe('status', () => {
  it('never prints secret values, in text or JSON, and names what is set', async () => {
    for (const json of [false, true]) {
      const cap = io({ ...SECRETS, PATH: process.env.PATH, DATA_DIR: join(dir, 'data') });
      const code = await main(['status', ...(json ? ['--json'] : [])], cap.io);
      const all = cap.out() + cap.err();
      for (const secret of Object.values(SECRETS)) expect(all).not.toContain(secret);
      expect(all).not.toContain('URLPASSWORD');
      expect(all).not.toContain('models.example.com');
      expect(all).toContain('STRIPE_SECRET_KEY set');
      expect(all).toContain('OPENAI_API_KEY set');
      // No stack is running in the data dir: a required item is missing.
      expect(code).toBe(1);
      if (json) {
        const parsed = JSON.parse(cap.out());
        expect(parsed.ready).toBe(false);
        expect(parsed.items.find((i: StatusItem) => i.name === 'local stack')).toMatchObject({
          state: 'missing',
          hint: 'The local stack is not running. Start it with: npm start',
        });
      } else {
        expect(cap.out()).toMatch(/local stack\s+missing/);
        expect(cap.out()).toContain('Start it with: npm start');
        expect(cap.out()).toMatch(/Not ready: \d+ items? missing\./);
      }
    }
  });

  it('reports the configuration items', () => {
    expect(checkStripe({})).toMatchObject({
      state: 'ok',
      detail: expect.stringContaining('manual approval only'),
    });
    expect(checkStripe({ STRIPE_SECRET_KEY: 'sk_test_x' })).toMatchObject({
      state: 'warn',
      detail: 'STRIPE_SECRET_KEY set, STRIPE_WEBHOOK_SECRET not set',
    });
    expect(checkStripe({ STRIPE_SECRET_KEY: 'a', STRIPE_WEBHOOK_SECRET: 'b' }).state).toBe('ok');
    expect(checkModel({})).toMatchObject({
      state: 'ok',
      detail: 'not configured (offline intake/coder in use)',
    });
    expect(checkModel({ BEDROCK_MODEL_ID: 'anthropic.x' }).detail).toMatch(/^configured: Bedrock/);
    expect(checkModel({ OPENAI_API_KEY: 'k' })).toMatchObject({ state: 'warn' });
    expect(checkCoder({})).toMatchObject({ state: 'ok', detail: 'offline recipe coder' });
    expect(checkCoder({ CODER: 'gpt' })).toMatchObject({ state: 'missing' });
    expect(checkNode('22.1.0').state).toBe('ok');
    expect(checkNode('20.20.2')).toMatchObject({ state: 'missing', detail: 'v20.20.2 (need ≥ 22)' });
  });

  it('parses go versions and describes probe errors without bodies', () => {
    expect(parseGoVersion('go version go1.19.8 linux/amd64')).toEqual({
      major: 1,
      minor: 19,
      text: 'go1.19.8',
    });
    expect(parseGoVersion('go version go1.22 linux/arm64')).toMatchObject({ major: 1, minor: 22 });
    expect(parseGoVersion('nothing')).toBeUndefined();
    expect(probeError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('connection refused');
    expect(probeError({ name: 'AggregateError', errors: [{ code: 'ECONNREFUSED' }] })).toBe(
      'connection refused',
    );
    expect(probeError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }))).toBe(
      'connection refused',
    );
    expect(probeError({ name: 'TimeoutError' })).toBe('timed out');
    expect(probeError({ name: 'AccessDenied', message: 'long body' })).toBe('AccessDenied');
  });

  it('renders items with hints and a summary', () => {
    const items: StatusItem[] = [
      { name: 'node', state: 'ok', detail: 'v22.0.0' },
      { name: 'go', state: 'missing', detail: 'not found on PATH', hint: 'Install Go.' },
      { name: 'stripe', state: 'warn', detail: 'half', hint: 'Set both.' },
    ];
    const text = renderStatus(items, {
      kind: 'local',
      dataDir: '/d',
      infoFile: '/d/x',
      info: undefined,
      running: false,
    });
    expect(text).toContain('Target: local stack, data dir /d');
    expect(text).toMatch(/ITEM\s+STATE\s+DETAIL/);
    expect(text).toContain('  go: Install Go.');
    expect(text).toContain('  stripe: Set both.');
    expect(text).toContain('Not ready: 1 item missing.');
    expect(
      renderStatus([items[0]!, items[2]!], {
        kind: 'local',
        dataDir: '/d',
        infoFile: '',
        info: undefined,
        running: false,
      }),
    ).toContain('Ready (1 warning).');
  });
});
