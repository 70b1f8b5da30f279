import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Our custom-resource handlers run behind CDK's provider entrypoint (`useCfnResponseWrapper`,
 * the default): it calls `index.handler` with a blanked ResponseURL and sends the CloudFormation
 * response itself from what the handler returns. These tests run the real entrypoint from
 * aws-cdk-lib with each handler (fake AWS clients) and capture the response it would send.
 */
const require = createRequire(import.meta.url);
const ROOT = resolve(import.meta.dirname, '../..');
const entrypoint = require(
  join(
    ROOT,
    'node_modules/aws-cdk-lib/custom-resource-handlers/dist/core/nodejs-entrypoint-handler/index.js',
  ),
) as {
  handler: (event: unknown, context: unknown) => Promise<void>;
  external: {
    sendHttpRequest: (options: unknown, body: string) => Promise<void>;
    log: (...args: unknown[]) => void;
    includeStackTraces: boolean;
    userHandlerIndex: string;
  };
};

const dir = mkdtempSync(join(tmpdir(), 'cr-wrapper-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `event` through the CDK entrypoint with `module.handlerWith(clients)` as the user handler. */
async function throughWrapper(modulePath: string, clients: unknown, event: Record<string, unknown>) {
  const shim = join(dir, `shim-${Math.random().toString(36).slice(2)}.cjs`);
  (globalThis as Record<string, unknown>).__crClients = clients;
  writeFileSync(
    shim,
    `module.exports = { handler: require(${JSON.stringify(modulePath)}).handlerWith(() => globalThis.__crClients) };`,
  );
  const sent: Record<string, unknown>[] = [];
  Object.assign(entrypoint.external, {
    userHandlerIndex: shim,
    includeStackTraces: false,
    log: () => {},
    sendHttpRequest: async (_options: unknown, body: string) => void sent.push(JSON.parse(body)),
  });
  await entrypoint.handler(
    {
      StackId: 'stack',
      RequestId: 'req',
      LogicalResourceId: 'Res',
      ResponseURL: 'https://cloudformation-response.example/put',
      ...event,
    },
    {},
  );
  expect(sent).toHaveLength(1);
  return sent[0]!;
}

describe('custom resources behind the CDK response wrapper', () => {
  it('S3 prefix-list lookup: SUCCESS with the id as data; FAILED with the reason', async () => {
    const mod = join(ROOT, 'lib/infra/s3-prefix-list/index.js');
    const event = { RequestType: 'Create', ResourceProperties: { Region: 'eu-north-1' } };
    const ok = await throughWrapper(mod, { prefixListId: async () => 'pl-0123' }, event);
    expect(ok).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'com.amazonaws.eu-north-1.s3',
      Data: { PrefixListId: 'pl-0123' },
    });
    const failed = await throughWrapper(
      mod,
      {
        prefixListId: async () => {
          throw new Error('no managed prefix list');
        },
      },
      event,
    );
    expect(failed.Status).toBe('FAILED');
    expect(String(failed.Reason)).toContain('no managed prefix list');
  });

  it('preview key import: SUCCESS without echoing the key; FAILED on a short key', async () => {
    const mod = join(ROOT, 'lib/infra/preview-function/key-import/index.js');
    const key = 'k'.repeat(64);
    const event = {
      RequestType: 'Create',
      ResourceProperties: { SecretArn: 'arn:secret', Bucket: 'b', Key: 'kvs-import/preview-key-v1.json' },
    };
    const puts: string[] = [];
    const ok = await throughWrapper(
      mod,
      {
        getSecret: async () => key,
        putObject: async (_b: string, _k: string, body: string) => void puts.push(body),
      },
      event,
    );
    expect(ok).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'b/kvs-import/preview-key-v1.json',
      NoEcho: true,
    });
    expect(JSON.stringify(ok)).not.toContain(key);
    expect(puts).toHaveLength(1);
    const failed = await throughWrapper(
      mod,
      { getSecret: async () => 'short', putObject: async () => {} },
      event,
    );
    expect(failed.Status).toBe('FAILED');
    expect(JSON.stringify(failed)).not.toContain('"short"');
  });
});
