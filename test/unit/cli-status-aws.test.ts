import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetAccountCommand, GetEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StatusItem } from '../../lib/cli/commands/status.ts';
import { checkModels } from '../../lib/cli/commands/status-aws.ts';
import { type CliIo, main } from '../../lib/cli/main.ts';

/**
 * `bus-build status --aws`, the post-deploy smoke: every dependency of a deployed stack, probed
 * through the AWS SDK (aws-sdk-client-mock answers as the services would), names and ARNs from a
 * `cdk deploy --outputs-file` file, and no secret value in the output.
 */

const STRIPE_KEY = 'sk_live_NEVERPRINTED123';
const WEBHOOK = 'whsec_NEVERPRINTED456';
const MODEL = 'global.anthropic.claude-sonnet-4-5-20250929-v1:0';

let dir: string;
let server: Server;
let baseUrl: string;
let mocks: { restore(): void }[] = [];
let ddb: AwsClientStub<DynamoDBClient>;
let s3: AwsClientStub<S3Client>;
let sfn: AwsClientStub<SFNClient>;
let events: AwsClientStub<EventBridgeClient>;
let ecs: AwsClientStub<ECSClient>;
let ses: AwsClientStub<SESv2Client>;
let secrets: AwsClientStub<SecretsManagerClient>;
let bedrock: AwsClientStub<BedrockRuntimeClient>;

beforeAll(async () => {
  // The deployed API and portal: a real HTTP server answering what they answer.
  server = createServer((req, res) => {
    res.writeHead(req.url === '/api/v1/openapi.json' || req.url === '/' ? 200 : 404).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-status-aws-'));
  ddb = mockClient(DynamoDBClient);
  s3 = mockClient(S3Client);
  sfn = mockClient(SFNClient);
  events = mockClient(EventBridgeClient);
  ecs = mockClient(ECSClient);
  ses = mockClient(SESv2Client);
  secrets = mockClient(SecretsManagerClient);
  bedrock = mockClient(BedrockRuntimeClient);
  mocks = [ddb, s3, sfn, events, ecs, ses, secrets, bedrock];
  // A healthy stack.
  ddb.on(DescribeTableCommand).resolves({ Table: { TableStatus: 'ACTIVE' } });
  s3.on(HeadBucketCommand).resolves({});
  sfn.on(ListExecutionsCommand).resolves({ executions: [] });
  events.on(DescribeEventBusCommand).resolves({ Name: 'bus-build-prod' });
  ecs
    .on(DescribeClustersCommand)
    .resolves({ clusters: [{ clusterName: 'worker', status: 'ACTIVE', runningTasksCount: 0 }] });
  ses.on(GetEmailIdentityCommand).resolves({ VerifiedForSendingStatus: true });
  ses.on(GetAccountCommand).resolves({ ProductionAccessEnabled: true, SendingEnabled: true });
  secrets.on(GetSecretValueCommand, { SecretId: 'arn:stripe-key' }).resolves({ SecretString: STRIPE_KEY });
  secrets.on(GetSecretValueCommand, { SecretId: 'arn:stripe-webhook' }).resolves({ SecretString: WEBHOOK });
  bedrock.on(ConverseCommand).resolves({ stopReason: 'max_tokens' });
});
afterEach(async () => {
  for (const m of mocks) m.restore();
  await rm(dir, { recursive: true, force: true });
});

function outputsFile(overrides: Record<string, string> = {}): string {
  const file = join(dir, 'cdk-outputs.json');
  const outputs = {
    ApiUrl: `${baseUrl}/`,
    PortalUrl: `${baseUrl}/`,
    TableName: 'BusBuild-prod-DataTable',
    StateMachineArn: 'arn:aws:states:eu-west-1:111111111111:stateMachine:bus-build-prod-build-run',
    EventBusName: 'bus-build-prod',
    StagingBucket: 'staging-bucket',
    EvidenceBucket: 'evidence-bucket',
    ArtifactsBucket: 'artifacts-bucket',
    WorkerClusterArn: 'arn:aws:ecs:eu-west-1:111111111111:cluster/worker',
    StripeSecretKeyArn: 'arn:stripe-key',
    StripeWebhookSecretArn: 'arn:stripe-webhook',
    EmailFrom: 'no-reply@busdk.com',
    IntakeProvider: 'bedrock',
    Coder: 'bedrock',
    BedrockModelId: MODEL,
    ...overrides,
  };
  writeFileSync(file, JSON.stringify({ 'BusBuild-prod': outputs }));
  return file;
}

async function status(outputs: Record<string, string> = {}) {
  const out: string[] = [];
  const io: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => out.push(t),
    env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', STACK_OUTPUTS_FILE: outputsFile(outputs) },
    cwd: dir,
    now: () => new Date('2026-12-07T10:00:00Z'),
  };
  const code = await main(['status', '--aws', '--json'], io);
  const text = out.join('\n');
  const parsed = JSON.parse(text) as { ready: boolean; items: StatusItem[] };
  const byName = (name: string) => parsed.items.find((i) => i.name === name);
  return { code, text, parsed, byName };
}

describe('bus-build status --aws', () => {
  it('checks every dependency of a healthy stack from the outputs file, printing no secret', async () => {
    const { code, text, parsed, byName } = await status();
    expect(text).not.toContain(STRIPE_KEY);
    expect(text).not.toContain(WEBHOOK);
    for (const name of [
      'dynamodb',
      's3',
      'step functions',
      'event bus',
      'worker cluster',
      'api',
      'portal',
      'stripe',
      'email sender',
      'ses account',
      'intake model',
      'coder model',
    ]) {
      expect(byName(name)?.state, name).toBe('ok');
    }
    expect(byName('stripe')!.detail).toContain('secret key set, webhook secret set');
    expect(byName('intake model')!.detail).toBe(`${MODEL} in eu-west-1: invocable`);
    // One Converse call for the one model both use, with one output token.
    const calls = bedrock.commandCalls(ConverseCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toMatchObject({ modelId: MODEL, inferenceConfig: { maxTokens: 1 } });
    expect(ddb.commandCalls(DescribeTableCommand)[0]!.args[0].input.TableName).toBe(
      'BusBuild-prod-DataTable',
    );
    expect(events.commandCalls(DescribeEventBusCommand)[0]!.args[0].input.Name).toBe('bus-build-prod');
    expect(parsed.ready).toBe(true);
    expect(code).toBe(0);
  });

  it('reports what a first deploy still lacks: unverified sender, sandbox, placeholder secrets', async () => {
    ses.on(GetEmailIdentityCommand).resolves({ VerifiedForSendingStatus: false });
    ses.on(GetAccountCommand).resolves({ ProductionAccessEnabled: false });
    secrets.on(GetSecretValueCommand).resolves({ SecretString: ' ' });
    const { code, byName } = await status();
    expect(byName('email sender')).toMatchObject({ state: 'missing' });
    expect(byName('email sender')!.hint).toMatch(/link SES mailed|DKIM/);
    expect(byName('ses account')).toMatchObject({ state: 'warn', detail: expect.stringMatching(/sandbox/) });
    expect(byName('stripe')).toMatchObject({
      state: 'warn',
      detail:
        'secret key not set (placeholder), webhook secret not set (placeholder): card payments off, manual approval only',
    });
    expect(code).toBe(1);
  });

  it('fails on a missing resource and an unreachable API', async () => {
    events
      .on(DescribeEventBusCommand)
      .rejects(Object.assign(new Error('nope'), { name: 'ResourceNotFoundException' }));
    ecs.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'worker', status: 'INACTIVE' }] });
    const { code, byName } = await status({ ApiUrl: 'http://127.0.0.1:1/' });
    expect(byName('event bus')).toMatchObject({ state: 'missing', detail: 'bus-build-prod does not exist' });
    expect(byName('worker cluster')).toMatchObject({ state: 'missing', detail: 'worker is INACTIVE' });
    expect(byName('api')).toMatchObject({ state: 'missing' });
    expect(code).toBe(1);
  });

  it('refuses an outputs file it cannot use, naming the fix', async () => {
    const cap: string[] = [];
    const io: CliIo = {
      stdout: (t) => cap.push(t),
      stderr: (t) => cap.push(t),
      env: { PATH: process.env.PATH, STACK_OUTPUTS_FILE: join(dir, 'missing.json') },
      cwd: dir,
      now: () => new Date(),
    };
    expect(await main(['status', '--aws'], io)).not.toBe(0);
    expect(cap.join('\n')).toMatch(/missing\.json does not exist .*--outputs-file/);
  });
});

describe('models on AWS (status --aws)', () => {
  const env = {
    INTAKE_PROVIDER: 'bedrock',
    CODER: 'bedrock',
    BEDROCK_MODEL_ID: MODEL,
    AWS_REGION: 'us-east-1',
  };

  it('names why a model cannot be invoked', async () => {
    const cases: [string, string, RegExp, StatusItem['state']][] = [
      ['AccessDeniedException', 'no access', /access denied/, 'missing'],
      ['ResourceNotFoundException', 'no model', /not found in this region/, 'missing'],
      [
        'ValidationException',
        "Invocation of model ID anthropic.x with on-demand throughput isn't supported.",
        /needs a cross-region inference profile id/,
        'missing',
      ],
      ['ThrottlingException', 'slow down', /reachable, but ThrottlingException/, 'warn'],
    ];
    for (const [name, message, detail, state] of cases) {
      bedrock.reset();
      bedrock.on(ConverseCommand).rejects(Object.assign(new Error(message), { name }));
      const items = await checkModels(env);
      expect(items.map((i) => i.name)).toEqual(['intake model', 'coder model']);
      for (const i of items) {
        expect(i.state, name).toBe(state);
        expect(i.detail, name).toMatch(detail);
      }
    }
  });

  it('invokes each distinct model once, in BEDROCK_REGION when set, and skips non-Bedrock providers', async () => {
    const items = await checkModels({ ...env, CODER: 'offline', BEDROCK_REGION: 'eu-central-1' });
    expect(items[0]).toMatchObject({ state: 'ok', detail: `${MODEL} in eu-central-1: invocable` });
    expect(items[1]).toMatchObject({ state: 'ok', detail: 'offline (not a Bedrock model; not invoked)' });
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(1);
    const region = await bedrock.commandCalls(ConverseCommand)[0]!.thisValue.config.region();
    expect(region).toBe('eu-central-1');
  });
});
