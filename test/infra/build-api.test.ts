import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.ts';
import type { BuildStack } from '../../lib/infra/build-stack.ts';
import { TABLE_WRITE_ACTIONS } from '../../lib/infra/data-table.ts';
import { actionsOf, statementsForRole, synthBuildStack } from './synth.ts';

type Template = ReturnType<typeof synthBuildStack>['template'];

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

  describe('functions', () => {
    it('has exactly one Lambda per route', () => {
      template.resourceCountIs('AWS::Lambda::Function', API_ROUTES.length);
      expect(Object.keys(stack.api.functions).sort()).toEqual(API_ROUTES.map((r) => r.id).sort());
    });

    it('runs every function on Node.js 22+ / arm64 with active tracing and JSON logs', () => {
      const functions = Object.values(template.findResources('AWS::Lambda::Function'));
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
      const functions = Object.values(template.findResources('AWS::Lambda::Function'));
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
      const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
      expect(groups.length).toBe(API_ROUTES.length + 1); // one per function + API access logs
      for (const g of groups) expect(g.Properties.RetentionInDays).toBe(30);
    });

    it('uses no managed policies (each role writes only its own log group)', () => {
      const roles = Object.values(template.findResources('AWS::IAM::Role'));
      expect(roles.length).toBe(API_ROUTES.length);
      for (const r of roles) expect(r.Properties.ManagedPolicyArns).toBeUndefined();
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

    it('lets every function read the session secret and nothing else in Secrets Manager', () => {
      for (const route of API_ROUTES) {
        const statements = statementsForRole(template, roleId(route.id));
        const secretActions = actionsOf(statements).filter((a) => a.startsWith('secretsmanager:'));
        expect(secretActions.sort()).toEqual([
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
        ]);
      }
    });
  });

  describe('session secret', () => {
    it('is generated by Secrets Manager at deploy time, never written into the template', () => {
      template.resourceCountIs('AWS::SecretsManager::Secret', 1);
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
        SecretString: Match.absent(),
      });
    });
  });

  describe('outputs', () => {
    it('exports the API URL and the table name', () => {
      template.hasOutput('ApiUrl', {});
      template.hasOutput('TableName', {});
    });
  });
});
