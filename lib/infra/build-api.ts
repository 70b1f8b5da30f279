import { Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, type HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_ROUTES, type RouteDef } from '../../functions/api/routes.ts';
import { ApiFunction } from './api-function.ts';
import type { StackConfig } from './config.ts';
import type { DataTable } from './data-table.ts';
import type { SessionSecret } from './session-secret.ts';

export interface BuildApiProps {
  readonly config: StackConfig;
  readonly table: DataTable;
  readonly sessionSecret: SessionSecret;
  /** The routes to serve; defaults to the product's route table. */
  readonly routes?: readonly RouteDef[];
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
 * The `$default` stage is throttled and writes JSON access logs.
 */
export class BuildApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly functions: Record<string, ApiFunction> = {};

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

    const environment = {
      TABLE_NAME: props.table.tableName,
      SESSION_SECRET_ARN: props.sessionSecret.secretArn,
      COOKIE_SECURE: 'true',
      MAX_BODY_BYTES: String(config.api.maxBodyBytes),
    };

    for (const route of props.routes ?? API_ROUTES) {
      const fn = new ApiFunction(this, route.id, {
        entry: route.entry,
        description: `bus-build ${config.stage} API ${route.method} ${route.path}`,
        runtime: config.lambda.runtime,
        memorySize: config.lambda.memorySize,
        timeout: config.api.timeout,
        logRetention: config.logRetention,
        environment,
      });
      if (route.writes) props.table.grantReadWriteData(fn.function);
      else props.table.grantReadData(fn.function);
      props.sessionSecret.grantRead(fn.function);
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
