import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { BuildBuckets } from './buckets.ts';
import { BuildApi } from './build-api.ts';
import type { StackConfig } from './config.ts';
import { DataTable } from './data-table.ts';
import { BuildNetwork } from './network.ts';
import { RepoFileSystem } from './repo-filesystem.ts';
import { SessionSecret } from './session-secret.ts';
import { BuildStateMachine } from './state-machine.ts';
import { BuildWorker } from './worker.ts';

export interface BuildStackProps extends StackProps {
  readonly config: StackConfig;
}

/**
 * The BusDK Artifact Builder on AWS: run table, session key, the three buckets, the private
 * network, the template repository on EFS, the Fargate worker, the build-run state machine with
 * its task functions, the domain event bus, and the public HTTP API.
 */
export class BuildStack extends Stack {
  readonly table: DataTable;
  readonly sessionSecret: SessionSecret;
  readonly buckets: BuildBuckets;
  readonly eventBus: events.EventBus;
  readonly network: BuildNetwork;
  readonly repos: RepoFileSystem;
  readonly worker: BuildWorker;
  readonly pipeline: BuildStateMachine;
  readonly api: BuildApi;

  constructor(scope: Construct, id: string, props: BuildStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.table = new DataTable(this, 'Data');
    this.sessionSecret = new SessionSecret(this, 'Session', { stage: config.stage });
    this.buckets = new BuildBuckets(this, 'Buckets', { storage: config.storage });
    this.eventBus = new events.EventBus(this, 'EventBus', {
      eventBusName: `bus-build-${config.stage}`,
      description: `BusDK Artifact Builder (${config.stage}) domain events (bus.build.*)`,
    });
    this.network = new BuildNetwork(this, 'Network', {
      network: config.network,
      logRetention: config.logRetention,
      table: this.table,
      buckets: [this.buckets.staging, this.buckets.evidence],
    });
    this.repos = new RepoFileSystem(this, 'Repos', { network: this.network });
    this.worker = new BuildWorker(this, 'Worker', {
      config,
      network: this.network,
      repos: this.repos,
      buckets: this.buckets,
      table: this.table,
    });
    this.pipeline = new BuildStateMachine(this, 'Pipeline', {
      config,
      table: this.table,
      buckets: this.buckets,
      network: this.network,
      repos: this.repos,
      worker: this.worker,
      eventBus: this.eventBus,
    });
    this.api = new BuildApi(this, 'Api', {
      config,
      table: this.table,
      sessionSecret: this.sessionSecret,
      pipeline: { stateMachine: this.pipeline.stateMachine, buckets: this.buckets, eventBus: this.eventBus },
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the public API' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'DynamoDB run table' });
    new CfnOutput(this, 'StateMachineArn', {
      value: this.pipeline.stateMachine.stateMachineArn,
      description: 'Build-run state machine',
    });
    new CfnOutput(this, 'EventBusName', {
      value: this.eventBus.eventBusName,
      description: 'Domain event bus',
    });
    new CfnOutput(this, 'StagingBucket', {
      value: this.buckets.staging.bucketName,
      description: 'Worker staging',
    });
    new CfnOutput(this, 'EvidenceBucket', {
      value: this.buckets.evidence.bucketName,
      description: 'Internal evidence',
    });
    new CfnOutput(this, 'ArtifactsBucket', {
      value: this.buckets.artifacts.bucketName,
      description: 'Published, verified artifacts',
    });
    new CfnOutput(this, 'RepoFileSystemId', {
      value: this.repos.fileSystem.fileSystemId,
      description: 'EFS file system of the template repository (seed it once; see repo-filesystem.ts)',
    });
    new CfnOutput(this, 'RepoAccessPointId', {
      value: this.repos.accessPoint.accessPointId,
      description: 'EFS access point of the template repository',
    });
    new CfnOutput(this, 'WorkerClusterArn', {
      value: this.worker.cluster.clusterArn,
      description: 'Worker cluster',
    });
  }
}
