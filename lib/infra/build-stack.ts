import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { BuildApi } from './build-api.ts';
import type { StackConfig } from './config.ts';
import { DataTable } from './data-table.ts';
import { SessionSecret } from './session-secret.ts';

export interface BuildStackProps extends StackProps {
  readonly config: StackConfig;
}

/** The BusDK Artifact Builder on AWS: run table, session key and the public HTTP API. */
export class BuildStack extends Stack {
  readonly table: DataTable;
  readonly sessionSecret: SessionSecret;
  readonly api: BuildApi;

  constructor(scope: Construct, id: string, props: BuildStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.table = new DataTable(this, 'Data');
    this.sessionSecret = new SessionSecret(this, 'Session', { stage: config.stage });
    this.api = new BuildApi(this, 'Api', { config, table: this.table, sessionSecret: this.sessionSecret });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the public API' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'DynamoDB run table' });
  }
}
