import { Aspects, CfnOutput, Stack, type StackProps, Token } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { API_ROUTES } from '../../functions/api/routes.ts';
import { BuildBuckets } from './buckets.ts';
import { BuildApi } from './build-api.ts';
import { CheckovDecisions } from './checkov.ts';
import { type StackConfig, validateStackConfig } from './config.ts';
import { DataTable } from './data-table.ts';
import { Messaging } from './messaging.ts';
import { ModelProviders } from './models.ts';
import { BuildNetwork } from './network.ts';
import { OriginVerifySecret } from './origin-verify.ts';
import { Payments } from './payments.ts';
import { PortalHosting } from './portal-hosting.ts';
import { PreviewDistribution } from './preview-distribution.ts';
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
  /** The origin-verify header value CloudFront adds to `/api/*` requests. */
  readonly originVerify: OriginVerifySecret;
  readonly buckets: BuildBuckets;
  readonly eventBus: events.EventBus;
  readonly network: BuildNetwork;
  readonly repos: RepoFileSystem;
  readonly worker: BuildWorker;
  readonly pipeline: BuildStateMachine;
  readonly api: BuildApi;
  readonly preview: PreviewDistribution;
  readonly payments: Payments;
  readonly messaging: Messaging;
  readonly models: ModelProviders;
  readonly portal: PortalHosting;

  constructor(scope: Construct, id: string, props: BuildStackProps) {
    super(scope, id, props);
    const { config } = props;
    // Again with the stack's region when it is known (an explicit env): a coder's Bedrock region
    // must match it unless the worker has egress.
    validateStackConfig(config, Token.isUnresolved(this.region) ? undefined : this.region);

    // checkov's suppressions with their reasons on every resource they concern (checkov.ts).
    Aspects.of(this).add(new CheckovDecisions());

    this.table = new DataTable(this, 'Data');
    this.sessionSecret = new SessionSecret(this, 'Session', { stage: config.stage });
    this.originVerify = new OriginVerifySecret(this, 'OriginVerify', { stage: config.stage });
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
      bedrockRuntime: config.worker.coder === 'bedrock',
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
      originVerify: this.originVerify,
      pipeline: { stateMachine: this.pipeline.stateMachine, buckets: this.buckets, eventBus: this.eventBus },
    });

    // Web previews: their own CloudFront origin over the published artifacts; ListArtifacts signs
    // the links with the dedicated preview key that the edge function verifies.
    // The portal (chat app) first: previews name it as the one origin allowed to frame them. The
    // portal's own CSP frames preview origins by pattern (default CloudFront domains), so the two
    // distributions do not depend on each other both ways.
    this.portal = new PortalHosting(this, 'Portal', {
      stage: config.stage,
      api: this.api.api,
      originVerifyValue: this.originVerify.headerValue,
      previewOrigin: 'https://*.cloudfront.net',
      // Receipt screenshots: ListArtifacts presigns them on the artifacts bucket's regional domain.
      imageOrigins: [`https://${this.buckets.artifacts.bucketRegionalDomainName}`],
      accessLogs: this.buckets.accessLogs,
      logRetention: config.logRetention,
      apiRateLimitPer5Min: config.api.wafRateLimitPer5Min,
    });
    this.preview = new PreviewDistribution(this, 'Preview', {
      stage: config.stage,
      artifacts: this.buckets.artifacts,
      accessLogs: this.buckets.accessLogs,
      frameAncestors: [this.portal.url],
    });
    const listArtifacts = this.api.functions.ListArtifacts;
    if (listArtifacts) this.preview.grantSigning(listArtifacts.function);
    new CfnOutput(this, 'PreviewUrl', {
      value: this.preview.url,
      description: 'Preview origin (web artifacts; separate from the portal and the API)',
    });

    ({
      payments: this.payments,
      messaging: this.messaging,
      models: this.models,
      portal: this.portal,
    } = this.wireProductFeatures(config));

    // The ECS agent fetches container secrets (a model API key) at task start over the task's
    // network: without this endpoint an isolated worker could not even start. PrepareBranch, the
    // one in-VPC function, reads no secret.
    if (hasContainerSecrets(this, this.worker.taskDefinition)) this.network.addSecretsManagerEndpoint();

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
    // What `bus-build status --aws` checks beyond the resources (lib/cli/stack-outputs.ts).
    new CfnOutput(this, 'EmailFrom', {
      value: config.email.from,
      description: 'SES sender of sign-in codes',
    });
    new CfnOutput(this, 'IntakeProvider', {
      value: config.models.intakeProvider,
      description: 'Intake provider',
    });
    new CfnOutput(this, 'Coder', { value: config.worker.coder, description: "The worker's coder" });
    new CfnOutput(this, 'BedrockModelId', {
      value: config.models.bedrockModelId,
      description: 'Bedrock model (or inference profile) of the intake and coder',
    });
    if (config.models.bedrockRegion) {
      new CfnOutput(this, 'BedrockRegion', {
        value: config.models.bedrockRegion,
        description: 'Bedrock region',
      });
    }
  }
  /**
   * Payments, email, model providers and the portal, granted per function (see each construct):
   * Stripe key to Checkout, StripeWebhook, Publish and FailRun (capture/cancel; those two run
   * outside the VPC, so they reach api.stripe.com directly), the webhook secret to StripeWebhook,
   * the operator topic to Checkout, SES sending to `sendsEmail` routes, model access to PostMessage
   * and the worker only when configured.
   */

  private wireProductFeatures(config: StackConfig): {
    payments: Payments;
    messaging: Messaging;
    models: ModelProviders;
    portal: PortalHosting;
  } {
    const apiFn = (id: string) => {
      const fn = this.api.functions[id];
      if (!fn) throw new Error(`no API function ${id}`);
      return fn.function;
    };
    const taskFn = (state: string) => {
      const fn = this.pipeline.functions[state];
      if (!fn) throw new Error(`no orchestrator function ${state}`);
      return fn.function;
    };

    const payments = new Payments(this, 'Payments', { stage: config.stage, config: config.payments });
    for (const fn of [
      apiFn('Checkout'),
      apiFn('StripeWebhook'),
      taskFn('Publish'),
      taskFn('FailRun'),
      this.pipeline.settler.function,
    ]) {
      payments.grantStripeKey(fn);
    }
    payments.advertiseCard(apiFn('GetRun'));
    payments.grantWebhookSecret(apiFn('StripeWebhook'));
    payments.grantNotify(apiFn('Checkout'));

    const messaging = new Messaging(this, 'Email', { config: config.email });
    for (const route of API_ROUTES.filter((r) => r.sendsEmail)) messaging.grantSend(apiFn(route.id));

    const models = new ModelProviders(this, 'Models', {
      stage: config.stage,
      models: config.models,
      coder: config.worker.coder,
    });
    models.configureIntake(apiFn('PostMessage'));
    models.configureWorker(this.worker.container, this.worker.taskRole);

    const portal = this.portal;
    apiFn('Checkout').addEnvironment('PORTAL_URL', portal.url);
    new CfnOutput(this, 'PortalUrl', {
      value: portal.url,
      description: 'The portal (chat app) with the API under /api/*',
    });
    new CfnOutput(this, 'StripeSecretKeyArn', {
      value: payments.stripeSecretKey.secretArn,
      description: 'Put the Stripe secret API key here after deploy',
    });
    new CfnOutput(this, 'StripeWebhookSecretArn', {
      value: payments.stripeWebhookSecret.secretArn,
      description:
        'Put the Stripe webhook signing secret here (endpoint: <PortalUrl>/api/v1/webhooks/stripe)',
    });
    new CfnOutput(this, 'OperatorTopicArn', {
      value: payments.operatorTopic.topicArn,
      description: 'Operator notifications (manual approval requests)',
    });
    return { payments, messaging, models, portal };
  }
}

/** Whether any container of the task definition has `secrets` (resolved from the L1 properties). */
export function hasContainerSecrets(stack: Stack, taskDefinition: ecs.TaskDefinition): boolean {
  const cfn = taskDefinition.node.defaultChild as ecs.CfnTaskDefinition;
  const containers = stack.resolve(cfn.containerDefinitions) as {
    secrets?: unknown[];
    Secrets?: unknown[];
  }[];
  return (containers ?? []).some((c) => (c.secrets ?? c.Secrets ?? []).length > 0);
}
