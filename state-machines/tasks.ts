/**
 * The Task states of `build-run.asl.json` and what runs them. CDK creates one Lambda per
 * `lambda` task and substitutes its ARN for `${substitution}`; the local runner maps the same
 * state names to the same handler modules. `RunWorker` is the ECS Fargate task (a child process
 * locally).
 */
export interface LambdaTaskDef {
  state: string;
  substitution: string;
  entry: string;
  /** Seconds; the Lambda timeout (the state's TimeoutSeconds is the outer bound). */
  timeout: number;
}

export const LAMBDA_TASKS: LambdaTaskDef[] = [
  {
    state: 'PrepareBranch',
    substitution: 'PrepareBranchFunctionArn',
    entry: 'functions/orchestrator/prepare-branch.ts',
    timeout: 90,
  },
  {
    state: 'AssignWorker',
    substitution: 'AssignWorkerFunctionArn',
    entry: 'functions/orchestrator/assign-worker.ts',
    timeout: 30,
  },
  {
    state: 'RecordWorkerFailure',
    substitution: 'RecordWorkerFailureFunctionArn',
    entry: 'functions/orchestrator/record-worker-failure.ts',
    timeout: 30,
  },
  {
    state: 'VerifyArtifacts',
    substitution: 'VerifyArtifactsFunctionArn',
    entry: 'functions/orchestrator/verify-artifacts.ts',
    // Waits for the isolated SmokeBinary and WebChecks functions (the latter up to 240 s).
    timeout: 540,
  },
  {
    state: 'Publish',
    substitution: 'PublishFunctionArn',
    entry: 'functions/orchestrator/publish.ts',
    timeout: 240,
  },
  {
    state: 'FailRun',
    substitution: 'FailRunFunctionArn',
    entry: 'functions/orchestrator/fail-run.ts',
    timeout: 30,
  },
];

export const WORKER_STATE = 'RunWorker';
export const ECS_SUBSTITUTIONS = [
  'ClusterArn',
  'WorkerTaskDefinitionArn',
  'WorkerSubnetIds',
  'WorkerSecurityGroupId',
];
export const ASL_FILE = 'state-machines/build-run.asl.json';
