import { DEFAULT_TABLE_NAME } from './table-schema.ts';

/**
 * Environment configuration read by handlers and adapters. The same names are set by the CDK
 * stack on AWS and by `npm start` locally; see the README's configuration table.
 */
export interface AppConfig {
  tableName: string;
  cookieSecure: boolean;
  priceTableJson: string | undefined;
  eventBusName: string | undefined;
  stagingBucket: string;
  artifactsBucket: string;
  evidenceBucket: string;
  stateMachineArn: string | undefined;
  maxBodyBytes: number;
  /** `presign` (AWS): presigned S3 links. `gateway` (local): links the local gateway checks. */
  downloadMode: 'presign' | 'gateway';
  /** Base URL of the preview origin (local: a second port; AWS: the preview distribution). */
  previewBaseUrl: string | undefined;
}

export const MAX_BODY_BYTES_DEFAULT = 16 * 1024;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return {
    tableName: env.TABLE_NAME ?? DEFAULT_TABLE_NAME,
    cookieSecure: (env.COOKIE_SECURE ?? 'true') !== 'false',
    priceTableJson: env.PRICE_TABLE || undefined,
    eventBusName: env.EVENT_BUS_NAME || undefined,
    stagingBucket: env.STAGING_BUCKET ?? 'bus-build-staging',
    artifactsBucket: env.ARTIFACTS_BUCKET ?? 'bus-build-artifacts',
    evidenceBucket: env.EVIDENCE_BUCKET ?? 'bus-build-evidence',
    stateMachineArn: env.STATE_MACHINE_ARN || undefined,
    maxBodyBytes: Number(env.MAX_BODY_BYTES ?? MAX_BODY_BYTES_DEFAULT),
    downloadMode: env.DOWNLOAD_MODE === 'gateway' ? 'gateway' : 'presign',
    previewBaseUrl: env.PREVIEW_BASE_URL || undefined,
  };
}
