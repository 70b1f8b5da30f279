import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type RouteDef } from '../../functions/api/routes.ts';
import { BuildBuckets } from '../../lib/infra/buckets.ts';
import { BuildApi, routeReadsArtifacts } from '../../lib/infra/build-api.ts';
import type { BuildStack } from '../../lib/infra/build-stack.ts';
import { DataTable, TABLE_WRITE_ACTIONS } from '../../lib/infra/data-table.ts';
import { SessionSecret } from '../../lib/infra/session-secret.ts';
import {
  actionsOf,
  allowsAction,
  CDK_PROVIDER_ROLE,
  logicalIdOf,
  resourcesOf,
  statementsForRole,
  synthBuildStack,
  testApp,
  testStackConfig,
} from './synth.ts';

describe('BuildApi', () => {
  let stack: BuildStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synthBuildStack());
  });

  const roleId = (routeId: string) => {
    const fn = stack.api.functions[routeId];
    if (!fn) throw new Error(`no function for route ${routeId}`);
    return stack.getLogicalId(fn.role.node.defaultChild as CfnElement);
  };

  /** The API's functions (the stack also has the orchestrator's). */
  const apiFunctions = () =>
    Object.values(template.findResources('AWS::Lambda::Function')).filter((fn) =>
      String(fn.Properties.Description).startsWith('bus-build test API '),
    );

  describe('functions', () => {
    it('has exactly one Lambda per route', () => {
      expect(apiFunctions().length).toBe(API_ROUTES.length);
      expect(Object.keys(stack.api.functions).sort()).toEqual(API_ROUTES.map((r) => r.id).sort());
    });

    it('runs every API function on Node.js 22+ / arm64 with active tracing and JSON logs', () => {
      const functions = apiFunctions();
      for (const fn of functions) {
        const p = fn.Properties;
        expect(p.Runtime).toMatch(/^nodejs(\d+)\.x$/);
        expect(Number(/^nodejs(\d+)/.exec(p.Runtime)?.[1])).toBeGreaterThanOrEqual(22);
        expect(p.Architectures).toEqual(['arm64']);
        expect(p.TracingConfig).toEqual({ Mode: 'Active' });
        expect(p.MemorySize).toBe(512);
        expect(p.Timeout).toBeLessThanOrEqual(29);
        expect(p.LoggingConfig).toMatchObject({ LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } });
        expect(p.Handler).toBe('index.handler');
      }
    });

    it('gives functions the table, the secret ARN and secure cookies — never the secret itself', () => {
      const functions = apiFunctions();
      for (const fn of functions) {
        const env = fn.Properties.Environment.Variables;
        expect(env).toMatchObject({
          TABLE_NAME: { Ref: expect.any(String) },
          SESSION_SECRET_ARN: { Ref: expect.any(String) },
          COOKIE_SECURE: 'true',
          NODE_OPTIONS: '--enable-source-maps',
          MAX_BODY_BYTES: expect.stringMatching(/^\d+$/),
        });
        expect(env).not.toHaveProperty('SESSION_SECRET');
      }
    });

    it('sets a retention on every log group', () => {
      const groups = template.findResources('AWS::Logs::LogGroup');
      const apiGroups = Object.keys(groups).filter((id) => id.startsWith('Api'));
      expect(apiGroups.length).toBe(API_ROUTES.length + 1); // one per function + API access logs
      for (const g of Object.values(groups)) expect(g.Properties.RetentionInDays).toBe(30);
    });

    it('uses no managed policies (each role writes only its own log group)', () => {
      const roles = template.findResources('AWS::IAM::Role');
      expect(Object.keys(roles).filter((id) => id.startsWith('Api')).length).toBe(API_ROUTES.length);
      for (const [id, r] of Object.entries(roles)) {
        if (CDK_PROVIDER_ROLE.test(id)) continue;
        expect(r.Properties.ManagedPolicyArns, id).toBeUndefined();
      }
    });
  });

  describe('routes', () => {
    it.each(API_ROUTES.map((r) => [`${r.method} ${r.path}`]))('has route %s', (routeKey) => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey,
        Target: Match.anyValue(),
      });
    });

    it('has no other routes (no $default catch-all)', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Route', API_ROUTES.length);
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /api/v1/build-runs' });
    });

    it('integrates every route with Lambda proxy payload 2.0', () => {
      const integrations = Object.values(template.findResources('AWS::ApiGatewayV2::Integration'));
      expect(integrations.length).toBe(API_ROUTES.length);
      for (const i of integrations) {
        expect(i.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
      }
    });
  });

  describe('stage', () => {
    it('is the auto-deployed $default stage with throttling and JSON access logs', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 },
        AccessLogSettings: {
          DestinationArn: Match.anyValue(),
          Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
        },
      });
    });
  });

  describe('least-privilege IAM', () => {
    const readOnly = API_ROUTES.filter((r) => !r.writes);
    const writing = API_ROUTES.filter((r) => r.writes);

    it('has both read-only and writing routes to check', () => {
      expect(readOnly.length).toBeGreaterThan(0);
      expect(writing.length).toBeGreaterThan(0);
    });

    it.each(readOnly.map((r) => [r.id]))('read-only route %s has no DynamoDB write action', (id) => {
      const actions = actionsOf(statementsForRole(template, roleId(id)));
      expect(actions).toContain('dynamodb:GetItem');
      expect(actions).toContain('dynamodb:Query');
      for (const write of TABLE_WRITE_ACTIONS) expect(actions).not.toContain(write);
      expect(actions.filter((a) => a.startsWith('dynamodb:') && a.includes('*'))).toEqual([]);
    });

    it.each(writing.map((r) => [r.id]))('writing route %s can put and update items', (id) => {
      const actions = actionsOf(statementsForRole(template, roleId(id)));
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem']));
    });

    it('never grants Scan, table administration or index/*', () => {
      for (const route of API_ROUTES) {
        const statements = statementsForRole(template, roleId(route.id));
        const actions = actionsOf(statements);
        expect(actions).not.toContain('dynamodb:Scan');
        expect(actions.filter((a) => /^dynamodb:(Create|Delete|Update)Table/.test(a))).toEqual([]);
        expect(JSON.stringify(statements)).not.toContain('/index/*');
      }
    });

    it('lets every function read the session secret, plus only the secrets its route needs', () => {
      const id = (s: { secret: Parameters<typeof logicalIdOf>[0] }) => `<${logicalIdOf(s.secret)}>`;
      const stripeKey = `<${logicalIdOf(stack.payments.stripeSecretKey)}>`;
      const extra: Record<string, string[]> = {
        Checkout: [stripeKey],
        StripeWebhook: [stripeKey, `<${logicalIdOf(stack.payments.stripeWebhookSecret)}>`],
        ListArtifacts: [id(stack.preview.key)],
        ...Object.fromEntries(
          API_ROUTES.filter((r) => r.perSource).map((r) => [r.id, [id(stack.originVerify)]]),
        ),
      };
      expect(
        API_ROUTES.filter((r) => r.perSource)
          .map((r) => r.id)
          .sort(),
      ).toEqual(['CreateRun', 'PostMessage', 'RequestEmailCode', 'SetContact'].sort());
      for (const route of API_ROUTES) {
        const statements = statementsForRole(template, roleId(route.id));
        const secretActions = actionsOf(statements).filter((a) => a.startsWith('secretsmanager:'));
        expect([...new Set(secretActions)].sort(), route.id).toEqual([
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
        ]);
        const readable = statements
          .filter((s) => allowsAction(s, 'secretsmanager:GetSecretValue'))
          .flatMap(resourcesOf);
        expect([...new Set(readable)].sort(), route.id).toEqual(
          [id(stack.sessionSecret), ...(extra[route.id] ?? [])].sort(),
        );
      }
    });
  });

  describe('session secret', () => {
    it('is generated by Secrets Manager at deploy time, never written into the template', () => {
      // The session key and the preview link key (test/infra/preview.test.ts), both generated; the
      // Stripe secrets hold only a blank placeholder until operators set them (payments.test.ts).
      const secrets = template.findResources('AWS::SecretsManager::Secret');
      const generated = [stack.sessionSecret.secret, stack.preview.key.secret, stack.originVerify.secret].map(
        logicalIdOf,
      );
      const placeholders = [stack.payments.stripeSecretKey, stack.payments.stripeWebhookSecret].map(
        logicalIdOf,
      );
      expect(Object.keys(secrets).sort()).toEqual([...generated, ...placeholders].sort());
      for (const id of generated) {
        expect(secrets[id]?.Properties).toMatchObject({
          GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
        });
        expect(secrets[id]?.Properties.SecretString, id).toBeUndefined();
      }
      for (const id of placeholders) expect(secrets[id]?.Properties.SecretString.trim(), id).toBe('');
    });
  });

  describe('outputs', () => {
    it('exports the API URL and the table name', () => {
      template.hasOutput('ApiUrl', {});
      template.hasOutput('TableName', {});
    });
  });

  describe('build pipeline access', () => {
    it('tells every function the state machine, the event bus and the three buckets', () => {
      for (const fn of apiFunctions()) {
        expect(fn.Properties.Environment.Variables).toMatchObject({
          STATE_MACHINE_ARN: { Ref: logicalIdOf(stack.pipeline.stateMachine) },
          EVENT_BUS_NAME: { Ref: logicalIdOf(stack.eventBus) },
          STAGING_BUCKET: { Ref: logicalIdOf(stack.buckets.staging) },
          EVIDENCE_BUCKET: { Ref: logicalIdOf(stack.buckets.evidence) },
          ARTIFACTS_BUCKET: { Ref: logicalIdOf(stack.buckets.artifacts) },
        });
      }
    });

    it('lets only writing routes put events, and only on the build bus', () => {
      for (const route of API_ROUTES) {
        const statements = statementsForRole(template, roleId(route.id));
        const put = statements.filter((s) => allowsAction(s, 'events:PutEvents'));
        if (!route.writes) expect(put, route.id).toEqual([]);
        for (const s of put) expect(resourcesOf(s)).toEqual([`<${logicalIdOf(stack.eventBus)}.Arn>`]);
      }
    });

    it('lets artifact routes read published objects only (GetObject on artifacts runs/*)', () => {
      const artifacts = logicalIdOf(stack.buckets.artifacts);
      for (const route of API_ROUTES) {
        const s3 = statementsForRole(template, roleId(route.id)).filter((s) =>
          actionsOf([s]).some((a) => a.startsWith('s3:')),
        );
        if (routeReadsArtifacts(route)) {
          expect(
            s3.map((s) => [actionsOf([s]), resourcesOf(s)]),
            route.id,
          ).toEqual([[['s3:GetObject'], [`<${artifacts}.Arn>/runs/*`]]]);
        } else {
          expect(s3, route.id).toEqual([]);
        }
      }
    });

    it('gives no API function states:StartExecution unless its route is flagged', () => {
      for (const route of API_ROUTES) {
        const start = statementsForRole(template, roleId(route.id)).filter((s) =>
          allowsAction(s, 'states:StartExecution'),
        );
        expect(start.length > 0, route.id).toBe(Boolean(route.startsExecution));
      }
    });
  });
});

describe('BuildApi route flags', () => {
  const routes: RouteDef[] = [
    {
      id: 'Approve',
      method: 'POST',
      path: '/approve',
      entry: 'functions/api/get-run.ts',
      writes: true,
      startsExecution: true,
    },
    { id: 'DownloadArtifactX', method: 'GET', path: '/dl', entry: 'functions/api/get-run.ts', writes: false },
    {
      id: 'Presign',
      method: 'GET',
      path: '/presign',
      entry: 'functions/api/get-run.ts',
      writes: false,
      readsArtifacts: true,
    },
    { id: 'Plain', method: 'GET', path: '/plain', entry: 'functions/api/get-run.ts', writes: false },
  ];
  let api: BuildApi;
  let template: Template;
  let stateMachineArn: string;
  beforeAll(() => {
    const stack = new Stack(testApp({ cfnValidation: false }), 'Flags');
    const config = testStackConfig();
    stateMachineArn = 'arn:aws:states:eu-west-1:111111111111:stateMachine:bus-build-test-build-run';
    const buckets = new BuildBuckets(stack, 'Buckets', { storage: config.storage });
    api = new BuildApi(stack, 'Api', {
      config,
      table: new DataTable(stack, 'Data'),
      sessionSecret: new SessionSecret(stack, 'Session', { stage: 'test' }),
      routes,
      pipeline: {
        stateMachine: sfn.StateMachine.fromStateMachineArn(stack, 'Sm', stateMachineArn),
        buckets,
        eventBus: new events.EventBus(stack, 'Bus'),
      },
    });
    template = Template.fromStack(stack);
  });

  const statements = (id: string) => statementsForRole(template, logicalIdOf(api.functions[id]!.role));

  it('grants states:StartExecution on the build state machine only to startsExecution routes', () => {
    for (const route of routes) {
      const start = statements(route.id).filter((s) => allowsAction(s, 'states:StartExecution'));
      if (route.startsExecution) {
        expect(start.map(resourcesOf)).toEqual([[stateMachineArn]]);
      } else {
        expect(start, route.id).toEqual([]);
      }
    }
  });

  it('grants artifact reads to readsArtifacts routes and to DownloadArtifact…/ListArtifacts… ids', () => {
    const reads = routes.filter((r) => statements(r.id).some((s) => allowsAction(s, 's3:GetObject')));
    expect(reads.map((r) => r.id).sort()).toEqual(['DownloadArtifactX', 'Presign']);
    expect(routeReadsArtifacts({ ...routes[3]!, id: 'ListArtifacts' })).toBe(true);
    expect(routeReadsArtifacts({ ...routes[3]!, id: 'DownloadArtifact', readsArtifacts: false })).toBe(false);
  });

  it('refuses artifact or execution routes without the pipeline', () => {
    const stack = new Stack(testApp({ cfnValidation: false }), 'NoPipeline');
    const config = testStackConfig();
    expect(
      () =>
        new BuildApi(stack, 'Api', {
          config,
          table: new DataTable(stack, 'Data'),
          sessionSecret: new SessionSecret(stack, 'Session', { stage: 'test' }),
          routes: [routes[0]!],
        }),
    ).toThrow(/needs the build pipeline/);
  });
});
