import { readFileSync } from 'node:fs';
import { type CfnElement, Duration, Fn, Size, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ASL_FILE, ECS_SUBSTITUTIONS, LAMBDA_TASKS, WORKER_STATE } from '../../state-machines/tasks.ts';
import { DEFAULT_INFRA_RETRY, type InfraRetryPolicy } from '../app/orchestrator/record-worker-failure.ts';
import { type BuildBuckets, KEY_PREFIXES } from './buckets.ts';
import { BuildFunction } from './build-function.ts';
import type { StackConfig } from './config.ts';
import type { DataTable } from './data-table.ts';
import type { BuildNetwork } from './network.ts';
import { repoPath } from './paths.ts';
import { REPO_DIR, type RepoFileSystem } from './repo-filesystem.ts';
import type { BuildWorker } from './worker.ts';

/** The rule Step Functions manages in the account to learn when an `ecs:runTask.sync` task stops. */
export const ECS_SYNC_RULE = 'StepFunctionsGetEventsForECSTaskRule';

/** `${Name}` placeholders of the ASL (the file's Comment mentions `${...}`, which is not one). */
const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9]*)\}/g;

/**
 * Substitutes every `${Name}` placeholder of an ASL document. Unlike CloudFormation's
 * DefinitionSubstitutions, an unknown placeholder or an unused value is an error at synth time,
 * and the template shows the complete definition (values that are CloudFormation references are
 * rendered as `Fn::Join` pieces), so `cdk diff` reviews the workflow itself.
 */
export function renderDefinition(asl: string, values: Readonly<Record<string, string>>): string {
  const used = new Set<string>();
  const rendered = asl.replace(PLACEHOLDER, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`ASL placeholder \${${name}} has no value`);
    used.add(name);
    return value;
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`substitutions not used by the ASL: ${unused.join(', ')}`);
  // Any other `${` (prose in a Comment) is written as the JSON escape `\u0024{`: the same string
  // to Step Functions, but not a parameter CloudFormation would try to resolve. CDK tokens
  // (`${Token[…]}`) are left for synthesis.
  const escaped = rendered.replace(/\$\{(?!Token\[)/g, '\\u0024{');
  JSON.parse(escaped.replace(/\$\{Token\[[^\]]+\]\}/g, 'token'));
  return escaped;
}

/** Per-task sizing beyond the defaults (512 MB memory, 512 MB /tmp). */
const TASK_SIZING: Record<string, { memorySize?: number; ephemeralStorageMiB?: number }> = {
  // Downloads the candidate, checks hashes, runs the binary and web smoke tests.
  VerifyArtifacts: { memorySize: 1024, ephemeralStorageMiB: 2048 },
  // Downloads the candidate again and uploads the verified objects.
  Publish: { memorySize: 1024, ephemeralStorageMiB: 2048 },
};

/**
 * Per-task environment beyond the shared one. (VerifyArtifacts renders web artifacts in the
 * isolated WebChecks function; `RENDER_EVIDENCE=worker` remains only as an explicit fallback.)
 */
const TASK_ENVIRONMENT: Record<string, Record<string, string>> = {};

/**
 * The SmokeBinary function's timeout: its download (≤ 30 s) plus `--help` and `--version` at the
 * verifier's default 10 s each, with room to spare.
 */
export const SMOKE_FUNCTION_TIMEOUT_SECONDS = 90;

/**
 * The WebChecks function's timeout: the download of the web files, a render check, and up to 8
 * web checks of at most 25 s each (lib/verify/isolated-web-checks.ts) in Chromium for Lambda (a
 * cold start unpacks it into /tmp).
 */
export const WEB_CHECK_FUNCTION_TIMEOUT_SECONDS = 240;

export interface BuildStateMachineProps {
  readonly config: StackConfig;
  readonly table: DataTable;
  readonly buckets: BuildBuckets;
  readonly network: BuildNetwork;
  readonly repos: RepoFileSystem;
  readonly worker: BuildWorker;
  readonly eventBus: events.IEventBus;
}

/**
 * The build-run workflow (`state-machines/build-run.asl.json`): one Lambda per task of
 * `state-machines/tasks.ts` and the worker as an ECS Fargate task.
 *
 * What each task function may do, beyond reading and writing the run table and putting events on
 * the bus (all of them):
 *
 * | task                | S3 / EFS                                                                 |
 * |---------------------|--------------------------------------------------------------------------|
 * | PrepareBranch       | mounts the repository access point (runs in the VPC); no S3              |
 * | AssignWorker        | writes staging `assignments/*`                                           |
 * | RecordWorkerFailure | reads evidence `runs/*`                                                  |
 * | VerifyArtifacts     | reads staging `candidates/*`, reads and writes evidence `runs/*`         |
 * | Publish             | reads staging `candidates/*`, reads and writes artifacts `runs/*` (only) |
 * | FailRun             | nothing                                                                  |
 *
 * A reader of a bucket also gets ListBucket on it (paging a prefix; 404 for a missing key).
 *
 * VerifyArtifacts does not run candidate binaries itself: it invokes the SmokeBinary function
 * (`SMOKE_FUNCTION_NAME`; `lambda:InvokeFunction` on it only) with a presigned GET of the staged
 * binary. That function runs in the isolated subnets with a security group of its own (HTTPS to
 * the S3 prefix list only) and a role that may write its logs and attach its network interfaces,
 * nothing else, so a binary that reads its credentials or calls out gains nothing.
 * The state machine's role may invoke those six functions, run and stop the worker task, pass its
 * two roles to ECS, and manage the `.sync` EventBridge rule; it logs (without execution data) and
 * traces. The execution timeout is derived from the attempt budget (`executionTimeoutSeconds`).
 */
export class BuildStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Record<string, BuildFunction> = {};
  /** Runs candidate binaries for VerifyArtifacts, without data permissions or internet. */
  readonly smokeFunction: BuildFunction;
  /** Renders and runs the web acceptance checks of candidate web apps for VerifyArtifacts, isolated. */
  readonly webCheckFunction: BuildFunction;
  /** Fails the runs of executions that ended ABORTED or TIMED_OUT (no FailRun ran for them). */
  readonly reconciler: BuildFunction;
  readonly reconcileRule: events.Rule;
  /** Settles card payments left open (capture after a Stripe outage), on a schedule. */
  readonly settler: BuildFunction;
  readonly settleRule: events.Rule;
  readonly logGroup: LogGroup;
  /** The definition with every substitution applied (tokens until synthesis). */
  readonly definition: string;

  constructor(scope: Construct, id: string, props: BuildStateMachineProps) {
    super(scope, id);
    const { config, table, buckets, network, repos, worker, eventBus } = props;
    const stack = Stack.of(this);

    const asl = withExecutionTimeout(
      readFileSync(repoPath(ASL_FILE), 'utf8'),
      config.orchestrator.maxAttempts,
    );
    checkWorkerTimeout(asl, config.worker.timeoutSeconds);

    const environment = {
      TABLE_NAME: table.tableName,
      EVENT_BUS_NAME: eventBus.eventBusName,
      STAGING_BUCKET: buckets.staging.bucketName,
      EVIDENCE_BUCKET: buckets.evidence.bucketName,
      ARTIFACTS_BUCKET: buckets.artifacts.bucketName,
    };

    for (const task of LAMBDA_TASKS) {
      const sizing = TASK_SIZING[task.state] ?? {};
      const inVpc = task.state === 'PrepareBranch';
      const fn = new BuildFunction(this, task.state, {
        entry: task.entry,
        description: `bus-build ${config.stage} orchestrator ${task.state}`,
        runtime: config.lambda.runtime,
        memorySize: sizing.memorySize ?? config.lambda.memorySize,
        ephemeralStorageSize: sizing.ephemeralStorageMiB
          ? Size.mebibytes(sizing.ephemeralStorageMiB)
          : undefined,
        timeout: Duration.seconds(task.timeout),
        logRetention: config.logRetention,
        environment: inVpc
          ? {
              ...environment,
              REPO_DIR,
              // The template ships in the bundle; PrepareBranch seeds/updates the EFS repository.
              TEMPLATE_DIR: '/var/task/template-repo',
              MAX_ATTEMPTS: String(config.orchestrator.maxAttempts),
            }
          : { ...environment, ...TASK_ENVIRONMENT[task.state] },
        ...(inVpc && { bundleDirs: ['template-repo'] }),
        ...(inVpc && {
          vpc: network.vpc,
          vpcSubnets: network.subnets,
          securityGroups: [network.functionSecurityGroup],
          filesystem: repos.lambdaFileSystem(),
        }),
      });
      table.grantReadWriteData(fn.function);
      eventBus.grantPutEventsTo(fn.function);
      this.functions[task.state] = fn;
    }

    const fn = (state: string): BuildFunction => {
      const found = this.functions[state];
      if (!found) throw new Error(`LAMBDA_TASKS has no ${state} task`);
      return found;
    };
    buckets.grantWritePrefix(fn('AssignWorker').role, 'staging', KEY_PREFIXES.assignments);

    buckets.grantList(fn('RecordWorkerFailure').role, 'evidence');
    buckets.grantReadPrefix(fn('RecordWorkerFailure').role, 'evidence', KEY_PREFIXES.evidenceRuns);

    // The architecture of every BuildFunction is arm64, so VerifyArtifacts' detected platform
    // (linux-arm64, what AssignWorker always builds) is the platform this function can run.
    this.smokeFunction = new BuildFunction(this, 'SmokeBinary', {
      entry: 'functions/orchestrator/smoke-binary.ts',
      description: `bus-build ${config.stage} runs a candidate binary's smoke test, isolated`,
      runtime: config.lambda.runtime,
      memorySize: 512,
      // The downloaded binary (≤ 128 MiB) plus the smoke's scratch copy of it.
      ephemeralStorageSize: Size.mebibytes(1024),
      timeout: Duration.seconds(SMOKE_FUNCTION_TIMEOUT_SECONDS),
      logRetention: config.logRetention,
      vpc: network.vpc,
      vpcSubnets: network.subnets,
      securityGroups: [network.smokeSecurityGroup],
    });
    fn('VerifyArtifacts').function.addEnvironment(
      'SMOKE_FUNCTION_NAME',
      this.smokeFunction.function.functionName,
    );
    fn('VerifyArtifacts').role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeSmokeFunction',
        actions: ['lambda:InvokeFunction'],
        resources: [this.smokeFunction.function.functionArn],
      }),
    );

    // Web artifacts are rendered and checked in their own isolated function: the same isolated
    // subnets and HTTPS-to-S3-only security group as SmokeBinary, a role with logs and ENIs only.
    // x86_64: the npm package @sparticuz/chromium ships only an x64 Chromium (bin/chromium.br);
    // it and playwright-core are installed into the bundle (they locate their own files).
    this.webCheckFunction = new BuildFunction(this, 'WebChecks', {
      entry: 'functions/orchestrator/web-checks.ts',
      description: `bus-build ${config.stage} renders and checks a candidate web app, isolated`,
      runtime: config.lambda.runtime,
      architecture: Architecture.X86_64,
      nodeModules: ['@sparticuz/chromium', 'playwright-core'],
      memorySize: 2048,
      // Chromium unpacked (~ 200 MB) plus the web files (≤ 64 MiB) and the browser profile.
      ephemeralStorageSize: Size.mebibytes(1024),
      timeout: Duration.seconds(WEB_CHECK_FUNCTION_TIMEOUT_SECONDS),
      logRetention: config.logRetention,
      vpc: network.vpc,
      vpcSubnets: network.subnets,
      securityGroups: [network.smokeSecurityGroup],
    });
    fn('VerifyArtifacts').function.addEnvironment(
      'WEB_CHECK_FUNCTION_NAME',
      this.webCheckFunction.function.functionName,
    );
    fn('VerifyArtifacts').role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeWebCheckFunction',
        actions: ['lambda:InvokeFunction'],
        resources: [this.webCheckFunction.function.functionArn],
      }),
    );

    const verify = fn('VerifyArtifacts').role;
    buckets.grantList(verify, 'staging');
    buckets.grantReadPrefix(verify, 'staging', KEY_PREFIXES.candidates);
    buckets.grantList(verify, 'evidence');
    buckets.grantReadPrefix(verify, 'evidence', KEY_PREFIXES.evidenceRuns);
    buckets.grantWritePrefix(verify, 'evidence', KEY_PREFIXES.evidenceRuns);

    const publish = fn('Publish').role;
    buckets.grantList(publish, 'staging');
    buckets.grantReadPrefix(publish, 'staging', KEY_PREFIXES.candidates);
    buckets.grantList(publish, 'artifacts');
    buckets.grantReadPrefix(publish, 'artifacts', KEY_PREFIXES.publishedRuns);
    buckets.grantWritePrefix(publish, 'artifacts', KEY_PREFIXES.publishedRuns);

    const values: Record<string, string> = {
      ClusterArn: worker.cluster.clusterArn,
      WorkerTaskDefinitionArn: worker.taskDefinition.taskDefinitionArn,
      WorkerSubnetIds: network.subnetIds.join(','),
      WorkerSecurityGroupId: network.workerSecurityGroup.securityGroupId,
    };
    for (const name of ECS_SUBSTITUTIONS) {
      if (!(name in values)) throw new Error(`no value for ECS substitution ${name}`);
    }
    for (const task of LAMBDA_TASKS) values[task.substitution] = fn(task.state).function.functionArn;
    this.definition = renderDefinition(asl, values);

    // Retained on delete and rollback (the LogGroup default), so the name must differ per stack:
    // a fixed name would make the next create after a failed first deploy fail with "already
    // exists". The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small; the
    // suffix is the stack id's UUID, new for every created stack.
    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/bus-build-${config.stage}-build-run-${stackUuid(stack)}`,
      retention: config.logRetention,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: `bus-build-${config.stage}-build-run`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(this.definition),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });

    const role = this.stateMachine.role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeTaskFunctions',
        actions: ['lambda:InvokeFunction'],
        resources: LAMBDA_TASKS.map((t) => fn(t.state).function.functionArn),
      }),
    );
    // Tasks of the worker's cluster (their ids are only known at run time).
    const workerTasks = stack.formatArn({
      service: 'ecs',
      resource: 'task',
      resourceName: `${worker.cluster.clusterName}/*`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RunWorkerTask',
        actions: ['ecs:RunTask'],
        resources: [worker.taskDefinition.taskDefinitionArn],
        conditions: { ArnEquals: { 'ecs:cluster': worker.cluster.clusterArn } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WatchWorkerTask',
        actions: ['ecs:StopTask', 'ecs:DescribeTasks'],
        resources: [workerTasks],
      }),
    );
    // The ASL propagates the task definition's tags to the task (PropagateTags); ECS authorises
    // tags set at creation separately, so allow tagging only as part of this RunTask.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TagWorkerTaskOnRun',
        actions: ['ecs:TagResource'],
        resources: [workerTasks],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PassWorkerRoles',
        actions: ['iam:PassRole'],
        resources: worker.passRoles.map((r) => r.roleArn),
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'EcsSyncRule',
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [stack.formatArn({ service: 'events', resource: 'rule', resourceName: ECS_SYNC_RULE })],
      }),
    );

    // An execution that is stopped or hits its overall timeout never reaches FailRun: the default
    // bus's status-change event for this state machine triggers the reconciler, which fails the
    // run with a customer-safe code (lib/app/orchestrator/reconcile-execution.ts).
    this.reconciler = new BuildFunction(this, 'ReconcileExecution', {
      entry: 'functions/orchestrator/reconcile-execution.ts',
      description: `bus-build ${config.stage} reconciles executions that ended ABORTED or TIMED_OUT`,
      runtime: config.lambda.runtime,
      memorySize: config.lambda.memorySize,
      timeout: Duration.seconds(30),
      logRetention: config.logRetention,
      environment,
    });
    table.grantReadWriteData(this.reconciler.function);
    eventBus.grantPutEventsTo(this.reconciler.function);
    this.reconcileRule = new events.Rule(this, 'ReconcileRule', {
      description: 'Build-run executions that ended without FailRun (ABORTED, TIMED_OUT)',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['ABORTED', 'TIMED_OUT'],
          stateMachineArn: [this.stateMachine.stateMachineArn],
        },
      },
      targets: [new targets.LambdaFunction(this.reconciler.function, { retryAttempts: 8 })],
    });

    // Capture / release of card payments that Publish / FailRun could not settle (a Stripe outage):
    // retried on a schedule with backoff until it succeeds or the hold expires.
    this.settler = new BuildFunction(this, 'SettlePayments', {
      entry: 'functions/orchestrator/settle-payments.ts',
      description: `bus-build ${config.stage} retries open card settlements (capture / release)`,
      runtime: config.lambda.runtime,
      memorySize: config.lambda.memorySize,
      timeout: Duration.minutes(5),
      logRetention: config.logRetention,
      environment,
    });
    table.grantReadWriteData(this.settler.function);
    this.settleRule = new events.Rule(this, 'SettleRule', {
      description: 'Retries card settlements left open (capture after an outage)',
      schedule: events.Schedule.rate(Duration.minutes(SETTLE_INTERVAL_MINUTES)),
      targets: [new targets.LambdaFunction(this.settler.function, { retryAttempts: 2 })],
    });

    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions adds these for tracing and logging: xray:PutTraceSegments/PutTelemetryRecords/' +
        'GetSamplingRules/GetSamplingTargets and the CloudWatch Logs delivery actions (CreateLogDelivery, ' +
        'GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, ' +
        'DescribeResourcePolicies, DescribeLogGroups), none of which supports resource-level permissions.',
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/<${stack.getLogicalId(
        worker.cluster.node.defaultChild as CfnElement,
      )}>/*]`,
      reason:
        'ecs:runTask.sync stops and describes the worker task it started (and tags it while RunTask ' +
        'creates it), whose id exists only at run time; the ARN pattern is limited to tasks of the ' +
        'worker cluster (task/<cluster>/*).',
    });
  }
}

/** How often the settle reconcile runs on AWS. */
export const SETTLE_INTERVAL_MINUTES = 15;

/** The UUID part of the stack id (`arn:…:stack/<name>/<uuid>`): unique for every created stack. */
function stackUuid(stack: Stack): string {
  return Fn.select(2, Fn.split('/', stack.stackId));
}

/** Seconds added to the derived execution timeout on top of every state's own bound. */
export const EXECUTION_TIMEOUT_MARGIN_SECONDS = 600;

/**
 * The execution's overall `TimeoutSeconds`, derived from the attempt budget so that a run that
 * uses every attempt is never cut off by the execution timeout before its states' own bounds:
 * PrepareBranch once; per attempt AssignWorker + RunWorker (the worker timeout plus Fargate's
 * start, bounded by the state) + the longer of VerifyArtifacts and RecordWorkerFailure; then
 * Publish and FailRun (a failed Publish still fails the run); plus the retry back-offs of every
 * Task state and a fixed margin.
 */
export function executionTimeoutSeconds(
  asl: string,
  maxAttempts: number,
  infra: InfraRetryPolicy = DEFAULT_INFRA_RETRY,
): number {
  const doc = JSON.parse(asl) as {
    States: Record<string, { TimeoutSeconds?: number; Retry?: RetryRule[] }>;
  };
  const bound = (state: string): number => {
    const s = doc.States[state];
    if (s?.TimeoutSeconds === undefined) throw new Error(`${state} has no TimeoutSeconds in ${ASL_FILE}`);
    return s.TimeoutSeconds + backoffSeconds(s.Retry ?? []);
  };
  const perAttempt =
    bound('AssignWorker') +
    bound(WORKER_STATE) +
    Math.max(bound('VerifyArtifacts'), bound('RecordWorkerFailure'));
  const once = bound('PrepareBranch') + bound('Publish') + bound('FailRun');
  // Infrastructure failures add attempts (and their backoff waits) that use no repair attempt.
  let infraWaits = 0;
  for (let i = 0; i < infra.max; i++) infraWaits += Math.min(3600, infra.baseSeconds * 2 ** i);
  return once + (maxAttempts + infra.max) * perAttempt + infraWaits + EXECUTION_TIMEOUT_MARGIN_SECONDS;
}

interface RetryRule {
  MaxAttempts?: number;
  IntervalSeconds?: number;
  BackoffRate?: number;
}

/** The longest total wait of a state's retriers (ASL defaults: 3 attempts, 1 s, rate 2). */
function backoffSeconds(retry: readonly RetryRule[]): number {
  return Math.max(
    0,
    ...retry.map((r) => {
      let wait = 0;
      for (let i = 0; i < (r.MaxAttempts ?? 3); i++)
        wait += (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** i;
      return Math.ceil(wait);
    }),
  );
}

/** The ASL with its top-level `TimeoutSeconds` replaced by the derived one (same key order). */
export function withExecutionTimeout(
  asl: string,
  maxAttempts: number,
  infra: InfraRetryPolicy = DEFAULT_INFRA_RETRY,
): string {
  const doc = JSON.parse(asl) as Record<string, unknown>;
  doc.TimeoutSeconds = executionTimeoutSeconds(asl, maxAttempts, infra);
  return JSON.stringify(doc, null, 2);
}

/** The worker must stop itself (WORKER_TIMEOUT_SECONDS) before the RunWorker state times out. */
function checkWorkerTimeout(asl: string, workerTimeoutSeconds: number): void {
  const doc = JSON.parse(asl) as { States: Record<string, { TimeoutSeconds?: number }> };
  const stateTimeout = doc.States[WORKER_STATE]?.TimeoutSeconds;
  if (stateTimeout === undefined) throw new Error(`${WORKER_STATE} has no TimeoutSeconds in ${ASL_FILE}`);
  if (workerTimeoutSeconds + 60 > stateTimeout) {
    throw new Error(
      `worker.timeoutSeconds (${workerTimeoutSeconds}) must be at least 60 s below the ${WORKER_STATE} timeout (${stateTimeout})`,
    );
  }
}
