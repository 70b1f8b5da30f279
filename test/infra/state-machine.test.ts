import { readFileSync } from 'node:fs';
import { Token } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.ts';
import { VPC_ENI_ACTIONS } from '../../lib/infra/build-function.ts';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import { repoPath } from '../../lib/infra/paths.ts';
import { REPO_DIR, REPO_MOUNT_PATH } from '../../lib/infra/repo-filesystem.ts';
import { ECS_SYNC_RULE, executionTimeoutSeconds, renderDefinition } from '../../lib/infra/state-machine.ts';
import { ASL_FILE, ECS_SUBSTITUTIONS, LAMBDA_TASKS } from '../../state-machines/tasks.ts';
import {
  actionsOf,
  allowsAction,
  allRoleStatements,
  flatten,
  logicalIdOf,
  resourcesOf,
  statementsForRole,
  synthBuildStack,
  testApp,
  testStackConfig,
} from './synth.ts';

type T = ReturnType<typeof synthBuildStack>['template'];
type Json = ReturnType<T['toJSON']>;

let stack: BuildStack;
let template: T;
let machine: Json;
/** The definition with every CloudFormation reference flattened to `<LogicalId…>`. */
let definition: string;
beforeAll(() => {
  ({ stack, template } = synthBuildStack());
  machine = template.toJSON().Resources[logicalIdOf(stack.pipeline.stateMachine)];
  definition = flatten(machine.Properties.DefinitionString);
});

const ASL = readFileSync(repoPath(ASL_FILE), 'utf8');
const taskFn = (state: string) => {
  const fn = stack.pipeline.functions[state];
  if (!fn) throw new Error(`no function for ${state}`);
  return fn;
};

describe('renderDefinition', () => {
  const values = Object.fromEntries(
    [...LAMBDA_TASKS.map((t) => t.substitution), ...ECS_SUBSTITUTIONS].map((n) => [n, `value-of-${n}`]),
  );

  it('substitutes every placeholder of the real ASL and leaves valid JSON', () => {
    const out = renderDefinition(ASL, values);
    expect(out).not.toMatch(/\$\{/);
    const doc = JSON.parse(out);
    expect(doc.States.PrepareBranch.Parameters.FunctionName).toBe('value-of-PrepareBranchFunctionArn');
    expect(doc.States.RunWorker.Parameters.Cluster).toBe('value-of-ClusterArn');
    // Prose `${...}` in the Comment survives as the same characters once parsed.
    expect(doc.Comment).toContain('$' + '{...}');
  });

  it('rejects a placeholder without a value and a value without a placeholder', () => {
    const { ClusterArn: _omitted, ...missing } = values;
    expect(() => renderDefinition(ASL, missing)).toThrow(/\$\{ClusterArn\} has no value/);
    expect(() => renderDefinition(ASL, { ...values, Extra: 'x' })).toThrow(/not used by the ASL: Extra/);
  });

  it('keeps CDK tokens for CloudFormation to resolve', () => {
    const token = Token.asString({ Ref: 'Something' });
    const out = renderDefinition(`{"a":"$\{X}"}`, { X: token });
    expect(out).toBe(`{"a":"${token}"}`);
  });
});

describe('BuildStateMachine', () => {
  it('is one STANDARD state machine, traced, logging ALL without execution data', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    expect(machine.Properties).toMatchObject({
      StateMachineName: 'bus-build-test-build-run',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: { 'Fn::GetAtt': [logicalIdOf(stack.pipeline.logGroup), 'Arn'] },
            },
          },
        ],
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: {
        'Fn::Join': [
          '',
          [
            '/aws/vendedlogs/states/bus-build-test-build-run-',
            { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] },
          ],
        ],
      },
      RetentionInDays: 30,
    });
  });

  it('renders the whole ASL inline: every state, no placeholder left, no S3 definition', () => {
    expect(machine.Properties.DefinitionS3Location).toBeUndefined();
    expect(machine.Properties.DefinitionSubstitutions).toBeUndefined();
    expect(definition).not.toMatch(/\$\{/);
    const doc = JSON.parse(definition);
    expect(Object.keys(doc.States)).toEqual(Object.keys(JSON.parse(ASL).States));
    for (const state of [
      'PrepareBranch',
      'AssignWorker',
      'RunWorker',
      'RecordWorkerFailure',
      'VerifyArtifacts',
      'Publish',
      'FailRun',
    ]) {
      expect(doc.States[state], state).toBeDefined();
    }
    expect(doc.TimeoutSeconds).toBe(executionTimeoutSeconds(ASL, 3));
  });

  it('points each Lambda task at its own function', () => {
    const doc = JSON.parse(definition);
    for (const task of LAMBDA_TASKS) {
      expect(doc.States[task.state].Parameters.FunctionName).toBe(
        `<${logicalIdOf(taskFn(task.state).function)}.Arn>`,
      );
    }
  });

  it('runs the worker task in the cluster, isolated subnets and worker security group', () => {
    const run = JSON.parse(definition).States.RunWorker.Parameters;
    expect(run.Cluster).toBe(`<${logicalIdOf(stack.worker.cluster)}.Arn>`);
    expect(run.TaskDefinition).toBe(`<${logicalIdOf(stack.worker.taskDefinition)}>`);
    const subnets = stack.network.vpc.isolatedSubnets.map((s) => `<${logicalIdOf(s)}>`).join(',');
    expect(run.NetworkConfiguration.AwsvpcConfiguration['Subnets.$']).toBe(
      `States.StringSplit('${subnets}', ',')`,
    );
    expect(run.NetworkConfiguration.AwsvpcConfiguration['SecurityGroups.$']).toBe(
      `States.Array('<${logicalIdOf(stack.network.workerSecurityGroup)}.GroupId>')`,
    );
    expect(run.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('DISABLED');
    expect(run.Overrides.ContainerOverrides[0].Name).toBe('worker');
  });

  it('refuses a worker timeout that would not end before the RunWorker state times out', () => {
    const config = testStackConfig();
    const runWorker = JSON.parse(ASL).States.RunWorker.TimeoutSeconds as number;
    expect(
      () =>
        new BuildStack(testApp({ cfnValidation: false }), 'Late', {
          config: { ...config, worker: { ...config.worker, timeoutSeconds: runWorker - 30 } },
        }),
    ).toThrow(/below the RunWorker timeout/);
  });

  it('outputs the state machine ARN', () => {
    template.hasOutput('StateMachineArn', { Value: { Ref: logicalIdOf(stack.pipeline.stateMachine) } });
  });
});

describe('state machine role', () => {
  const statements = () => statementsForRole(template, logicalIdOf(stack.pipeline.stateMachine.role));
  const withAction = (action: string) => statements().filter((s) => allowsAction(s, action));

  it('invokes exactly the six task functions (unqualified ARNs)', () => {
    const invoke = withAction('lambda:InvokeFunction');
    expect(invoke.length).toBe(1);
    expect(resourcesOf(invoke[0]!).sort()).toEqual(
      LAMBDA_TASKS.map((t) => `<${logicalIdOf(taskFn(t.state).function)}.Arn>`).sort(),
    );
  });

  it('runs only the worker task definition, only in the worker cluster', () => {
    const run = withAction('ecs:RunTask');
    expect(run).toEqual([
      expect.objectContaining({
        Resource: { Ref: logicalIdOf(stack.worker.taskDefinition) },
        Condition: {
          ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [logicalIdOf(stack.worker.cluster), 'Arn'] } },
        },
      }),
    ]);
  });

  it('stops and describes tasks of the worker cluster only', () => {
    for (const action of ['ecs:StopTask', 'ecs:DescribeTasks']) {
      expect(withAction(action).flatMap(resourcesOf)).toEqual([
        `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/<${logicalIdOf(stack.worker.cluster)}>/*`,
      ]);
    }
  });

  it('may tag worker tasks only while RunTask creates them (propagated task definition tags)', () => {
    const tag = withAction('ecs:TagResource');
    expect(tag.flatMap(resourcesOf)).toEqual([
      `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/<${logicalIdOf(stack.worker.cluster)}>/*`,
    ]);
    expect(tag[0]!.Condition).toEqual({ StringEquals: { 'ecs:CreateAction': 'RunTask' } });
  });

  it('passes only the worker task and execution roles, only to ECS tasks', () => {
    const pass = withAction('iam:PassRole');
    expect(pass.length).toBe(1);
    expect(resourcesOf(pass[0]!).sort()).toEqual(
      [stack.worker.taskRole, stack.worker.taskDefinition.obtainExecutionRole()]
        .map((r) => `<${logicalIdOf(r)}.Arn>`)
        .sort(),
    );
    expect(pass[0]!.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
    });
  });

  it('manages only the Step Functions ECS .sync rule', () => {
    for (const action of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule']) {
      expect(withAction(action).flatMap(resourcesOf)).toEqual([
        `arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/${ECS_SYNC_RULE}`,
      ]);
    }
  });

  it('touches no bucket, table or secret', () => {
    for (const a of actionsOf(statements())) expect(a).not.toMatch(/^(s3|dynamodb|secretsmanager):/);
  });
});

describe('orchestrator functions', () => {
  const fnProps = (state: string) =>
    template.toJSON().Resources[logicalIdOf(taskFn(state).function)].Properties;
  const roleStatements = (state: string) => statementsForRole(template, logicalIdOf(taskFn(state).role));
  /** `action <flattened resource>` lines of a role's S3 statements. */
  const s3Grants = (state: string) =>
    roleStatements(state)
      .filter((s) => actionsOf([s]).some((a) => a.startsWith('s3:')))
      .flatMap((s) => actionsOf([s]).flatMap((a) => resourcesOf(s).map((r) => `${a} ${r}`)))
      .sort();
  const arn = (b: 'staging' | 'evidence' | 'artifacts') => `<${logicalIdOf(stack.buckets[b])}.Arn>`;

  it('has one function per LAMBDA_TASKS entry with its entry timeout, on arm64 with tracing', () => {
    expect(Object.keys(stack.pipeline.functions).sort()).toEqual(LAMBDA_TASKS.map((t) => t.state).sort());
    for (const task of LAMBDA_TASKS) {
      const p = fnProps(task.state);
      expect(p.Timeout, task.state).toBe(task.timeout);
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.Runtime).toBe('nodejs24.x');
      expect(p.LoggingConfig).toMatchObject({ LogFormat: 'JSON' });
    }
  });

  it('gives every task the table, the event bus and the bucket names', () => {
    for (const task of LAMBDA_TASKS) {
      expect(fnProps(task.state).Environment.Variables).toMatchObject({
        TABLE_NAME: { Ref: logicalIdOf(stack.table.table) },
        EVENT_BUS_NAME: { Ref: logicalIdOf(stack.eventBus) },
        STAGING_BUCKET: { Ref: logicalIdOf(stack.buckets.staging) },
        EVIDENCE_BUCKET: { Ref: logicalIdOf(stack.buckets.evidence) },
        ARTIFACTS_BUCKET: { Ref: logicalIdOf(stack.buckets.artifacts) },
      });
      const actions = actionsOf(roleStatements(task.state));
      expect(actions).toEqual(
        expect.arrayContaining([
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'events:PutEvents',
        ]),
      );
      expect(actions).not.toContain('dynamodb:Scan');
    }
  });

  it('no task relies on the worker render evidence (VerifyArtifacts renders in the isolated WebChecks function)', () => {
    for (const task of LAMBDA_TASKS) {
      const vars = fnProps(task.state).Environment.Variables as Record<string, unknown>;
      expect(vars.RENDER_EVIDENCE, task.state).toBeUndefined();
      expect(vars.WEB_CHECK_FUNCTION_NAME !== undefined, task.state).toBe(task.state === 'VerifyArtifacts');
    }
  });

  it('runs only PrepareBranch in the VPC, with the repository access point at /mnt/repos', () => {
    for (const task of LAMBDA_TASKS) {
      const p = fnProps(task.state);
      const actions = actionsOf(roleStatements(task.state));
      if (task.state === 'PrepareBranch') {
        expect(p.VpcConfig).toEqual({
          SubnetIds: stack.network.vpc.isolatedSubnets.map((s) => ({ Ref: logicalIdOf(s) })),
          SecurityGroupIds: [{ 'Fn::GetAtt': [logicalIdOf(stack.network.functionSecurityGroup), 'GroupId'] }],
        });
        expect(p.FileSystemConfigs).toEqual([{ Arn: expect.anything(), LocalMountPath: REPO_MOUNT_PATH }]);
        expect(p.Environment.Variables).toMatchObject({
          REPO_DIR,
          MAX_ATTEMPTS: '3',
          TEMPLATE_DIR: '/var/task/template-repo',
        });
        expect(actions).toEqual(
          expect.arrayContaining([...VPC_ENI_ACTIONS, 'elasticfilesystem:ClientMount']),
        );
        const efs = roleStatements(task.state).filter((s) =>
          allowsAction(s, 'elasticfilesystem:ClientMount'),
        );
        expect(efs.flatMap(resourcesOf)).toEqual([`<${logicalIdOf(stack.repos.fileSystem)}.Arn>`]);
        expect(JSON.stringify(efs[0]!.Condition)).toContain(logicalIdOf(stack.repos.accessPoint));
        expect(actions).not.toContain('elasticfilesystem:ClientRootAccess');
      } else {
        expect(p.VpcConfig, task.state).toBeUndefined();
        expect(p.FileSystemConfigs).toBeUndefined();
        expect(actions.filter((a) => a.startsWith('ec2:') || a.startsWith('elasticfilesystem:'))).toEqual([]);
      }
    }
  });

  it('grants each task exactly its S3 access', () => {
    const [staging, evidence, artifacts] = [arn('staging'), arn('evidence'), arn('artifacts')];
    expect(s3Grants('PrepareBranch')).toEqual([]);
    expect(s3Grants('FailRun')).toEqual([]);
    expect(s3Grants('AssignWorker')).toEqual([`s3:PutObject ${staging}/assignments/*`]);
    expect(s3Grants('RecordWorkerFailure')).toEqual([
      `s3:GetObject ${evidence}/runs/*`,
      `s3:ListBucket ${evidence}`,
    ]);
    expect(s3Grants('VerifyArtifacts')).toEqual(
      [
        `s3:GetObject ${staging}/candidates/*`,
        `s3:GetObject ${evidence}/runs/*`,
        `s3:PutObject ${evidence}/runs/*`,
        `s3:ListBucket ${staging}`,
        `s3:ListBucket ${evidence}`,
      ].sort(),
    );
    expect(s3Grants('Publish')).toEqual(
      [
        `s3:GetObject ${staging}/candidates/*`,
        `s3:GetObject ${artifacts}/runs/*`,
        `s3:PutObject ${artifacts}/runs/*`,
        `s3:ListBucket ${staging}`,
        `s3:ListBucket ${artifacts}`,
      ].sort(),
    );
  });
});

describe('published artifacts (stack-wide least privilege)', () => {
  const artifactsRef = () => logicalIdOf(stack.buckets.artifacts);
  const touchesArtifacts = (resources: string[]) =>
    resources.some((r) => r.includes(artifactsRef()) || r === '*');

  it('only the Publish function can put objects in the artifacts bucket', () => {
    const writers = allRoleStatements(template)
      .filter(
        ({ statement }) =>
          allowsAction(statement, 's3:PutObject') && touchesArtifacts(resourcesOf(statement)),
      )
      .map(({ role }) => role);
    expect([...new Set(writers)]).toEqual([logicalIdOf(taskFn('Publish').role)]);
  });

  it('no role can delete from any bucket', () => {
    // Except the portal's deploy-time sync (prune), only in the portal bucket: test/infra/portal.test.ts.
    const portalDeploy = logicalIdOf(stack.portal.deploymentRole);
    for (const { role, statement } of allRoleStatements(template)) {
      if (role === portalDeploy) continue;
      for (const action of [
        's3:DeleteObject',
        's3:DeleteObjectVersion',
        's3:DeleteBucket',
        's3:PutBucketPolicy',
      ]) {
        expect(allowsAction(statement, action), `${action} on ${role}`).toBe(false);
      }
    }
  });

  it('API roles cannot write the artifacts bucket (or any bucket)', () => {
    for (const route of API_ROUTES) {
      const role = logicalIdOf(stack.api.functions[route.id]!.role);
      for (const s of statementsForRole(template, role)) {
        expect(allowsAction(s, 's3:PutObject'), route.id).toBe(false);
      }
    }
  });

  it('the worker cannot reach the artifacts bucket, even through its VPC endpoint', () => {
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint'));
    expect(JSON.stringify(endpoints)).not.toContain(artifactsRef());
  });
});

describe('reconciling executions that end without FailRun', () => {
  it('routes ABORTED and TIMED_OUT status changes of this state machine to the reconciler', () => {
    const rule = template.toJSON().Resources[logicalIdOf(stack.pipeline.reconcileRule)].Properties;
    expect(rule.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['ABORTED', 'TIMED_OUT'],
        stateMachineArn: [{ Ref: logicalIdOf(stack.pipeline.stateMachine) }],
      },
    });
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0].Arn).toEqual({
      'Fn::GetAtt': [logicalIdOf(stack.pipeline.reconciler.function), 'Arn'],
    });
    const fn = template.toJSON().Resources[logicalIdOf(stack.pipeline.reconciler.function)].Properties;
    expect(fn.Environment.Variables.TABLE_NAME).toBeDefined();
    expect(fn.VpcConfig).toBeUndefined();
  });
});
