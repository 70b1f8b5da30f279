import { Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, type HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as events from 'aws-cdk-lib/aws-events';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { API_ROUTES, type RouteDef } from '../../functions/api/routes.ts';
import { type BuildBuckets, KEY_PREFIXES } from './buckets.ts';
import { BuildFunction } from './build-function.ts';
import type { StackConfig } from './config.ts';
import type { DataTable } from './data-table.ts';
import type { OriginVerifySecret } from './origin-verify.ts';
import type { SessionSecret } from './session-secret.ts';

export interface BuildApiProps {
  readonly config: StackConfig;
  readonly table: DataTable;
  readonly sessionSecret: SessionSecret;
  /**
   * The portal distribution's origin-verify value (per-source limits trust the viewer address
   * only with it); omitted: the socket address is always used (e.g. in unit tests).
   */
  readonly originVerify?: OriginVerifySecret;
  /** The routes to serve; defaults to the product's route table. */
  readonly routes?: readonly RouteDef[];
  /** The build pipeline the API starts and reads from (omitted: API only, e.g. in unit tests). */
  readonly pipeline?: ApiPipeline;
}

export interface ApiPipeline {
  readonly stateMachine: sfn.IStateMachine;
  readonly buckets: BuildBuckets;
  readonly eventBus: events.IEventBus;
}

/** Routes that presign artifact downloads: flagged, or (until flagged) named ListArtifacts…/DownloadArtifact…. */
export function routeReadsArtifacts(route: RouteDef): boolean {
  return route.readsArtifacts ?? /^(ListArtifacts|DownloadArtifact)/.test(route.id);
}

/** One JSON line per request; no headers, bodies or query strings (they may carry codes or tokens). */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTime',
    ip: '$context.identity.sourceIp',
    userAgent: '$context.identity.userAgent',
    routeKey: '$context.routeKey',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    errorMessage: '$context.error.message',
  }),
);

/**
 * The public HTTP API: one Lambda per route of `functions/api/routes.ts`, each with only the
 * table access its route needs (read-only vs read-write) and read access to the session key.
 * With the pipeline: every function knows the state machine, buckets and event bus by name;
 * writing routes may put events on the bus; only `startsExecution` routes may start the state
 * machine; only artifact routes may read published objects (`s3:GetObject` on artifacts `runs/*`,
 * to presign downloads). No API function can write or delete in any bucket.
 * The `$default` stage is throttled and writes JSON access logs.
 */
export class BuildApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly functions: Record<string, BuildFunction> = {};

  constructor(scope: Construct, id: string, props: BuildApiProps) {
    super(scope, id);
    const { config } = props;

    this.api = new HttpApi(this, 'HttpApi', {
      apiName: `bus-build-${config.stage}`,
      description: `BusDK Artifact Builder public API (${config.stage})`,
      createDefaultStage: false,
    });

    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: config.logRetention });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: config.api.throttleRateLimit, burstLimit: config.api.throttleBurstLimit },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
    });

    const { pipeline } = props;
    const environment: Record<string, string> = {
      TABLE_NAME: props.table.tableName,
      SESSION_SECRET_ARN: props.sessionSecret.secretArn,
      COOKIE_SECURE: 'true',
      MAX_BODY_BYTES: String(config.api.maxBodyBytes),
      ...(pipeline && {
        STATE_MACHINE_ARN: pipeline.stateMachine.stateMachineArn,
        EVENT_BUS_NAME: pipeline.eventBus.eventBusName,
        STAGING_BUCKET: pipeline.buckets.staging.bucketName,
        EVIDENCE_BUCKET: pipeline.buckets.evidence.bucketName,
        ARTIFACTS_BUCKET: pipeline.buckets.artifacts.bucketName,
      }),
    };

    for (const route of props.routes ?? API_ROUTES) {
      const fn = new BuildFunction(this, route.id, {
        entry: route.entry,
        description: `bus-build ${config.stage} API ${route.method} ${route.path}`,
        runtime: config.lambda.runtime,
        memorySize: config.lambda.memorySize,
        timeout: config.api.timeout,
        logRetention: config.logRetention,
        environment: {
          ...environment,
          ...(route.perSource &&
            props.originVerify && { ORIGIN_VERIFY_SECRET_ARN: props.originVerify.secretArn }),
        },
      });
      if (route.writes) props.table.grantReadWriteData(fn.function);
      else props.table.grantReadData(fn.function);
      props.sessionSecret.grantRead(fn.function);
      if (route.perSource) props.originVerify?.grantRead(fn.function);
      if (pipeline) {
        if (route.writes) pipeline.eventBus.grantPutEventsTo(fn.function);
        if (route.startsExecution) pipeline.stateMachine.grantStartExecution(fn.function);
        if (routeReadsArtifacts(route)) {
          pipeline.buckets.grantReadPrefix(fn.role, 'artifacts', KEY_PREFIXES.publishedRuns);
        }
      } else if (route.startsExecution || routeReadsArtifacts(route)) {
        throw new Error(`route ${route.id} needs the build pipeline (state machine / artifacts bucket)`);
      }
      this.functions[route.id] = fn;

      const [httpRoute] = this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${route.id}Integration`, fn.function),
      });
      if (httpRoute) {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'Public visitor API: anyone may start a build chat without an account. Each handler ' +
            'authorizes in code: a run is visible only to the signed session (or verified email) ' +
            'that owns it and everything else gets 404, which an API Gateway authorizer cannot ' +
            'express. Abuse is bounded by stage throttling and the body size limit.',
        });
      }
    }
  }

  /** Base URL of the API (the `$default` stage has no path prefix). */
  get url(): string {
    return this.stage.url;
  }
}
