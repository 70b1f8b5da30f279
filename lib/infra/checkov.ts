import { CfnResource, type IAspect } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Decisions on the checkov findings of the synthesized template that are not fixed, written where
 * checkov reads them: `Metadata.checkov.skip[{ id, comment }]` of each resource (checkov's own
 * suppression format for CloudFormation), the same way cdk-nag acknowledgements carry a reason.
 * Applied to the whole stack as an aspect (build-stack.ts), so CDK-generated resources (custom
 * resource providers, the bucket-deployment function) get the same decision as ours.
 *
 * | check        | what                                   | decision                                          |
 * |--------------|----------------------------------------|---------------------------------------------------|
 * | CKV_AWS_21   | S3 bucket versioning                   | fixed for artifacts and portal; the rest: below   |
 * | CKV_AWS_116  | Lambda dead-letter queue               | acknowledged: no function is invoked async but    |
 * |              |                                        | the reconciler, whose rule retries (below)        |
 * | CKV_AWS_115  | Lambda reserved concurrency            | acknowledged: API stage throttling bounds load    |
 * | CKV_AWS_173  | Lambda env vars with a customer key    | acknowledged: no secret is in an environment     |
 * | CKV_AWS_117  | Lambda inside a VPC                    | acknowledged for the functions that call public   |
 * |              |                                        | AWS/Stripe/model endpoints (the VPC has no NAT)   |
 * | CKV_AWS_158  | log group with a customer key          | acknowledged: logs carry no secrets or source     |
 * | CKV_AWS_119  | DynamoDB with a customer key           | acknowledged: AWS-owned encryption at rest        |
 * | CKV_AWS_149  | Secrets Manager with a customer key    | acknowledged: one account, roles scoped per secret|
 */
export interface CheckovSkip {
  readonly id: string;
  readonly comment: string;
}

const CMK_REASON =
  'Encrypted at rest with an AWS-managed key. A customer-managed KMS key adds a key policy and a ' +
  'kms:Decrypt grant to every reader for no gain here: single account, no cross-account reader, and ' +
  'access is already scoped per role and per resource (and per key prefix in S3). Only the operator ' +
  'SNS topic has a customer key, which its encryption at rest requires.';

/** Why a bucket is not versioned (CKV_AWS_21), by the construct id of the bucket. */
const UNVERSIONED_BUCKETS: Record<string, string> = {
  AccessLogs:
    'Server access log bucket: S3 log delivery writes new objects only and they expire; versions ' +
    'would only keep expired logs longer.',
  Staging:
    'Worker staging: every assignment and candidate is written once under a per-run, per-attempt ' +
    'key and expires after the staging period; the verified copy lives in the versioned artifacts ' +
    'bucket.',
  Evidence:
    'Internal evidence: written once per run and attempt under run-scoped keys by the task roles ' +
    'and expired by lifecycle; no writer overwrites an object, so there is no earlier version to keep.',
  Logs:
    'CloudFront standard log bucket: log delivery writes new objects only and they expire after ' +
    '90 days; versioning would only keep expired logs.',
  ImportBucket:
    'Deploy-time import document of the preview KeyValueStore: written once per key version, ' +
    'deleted with the stack and expired after one day; the secret itself is in Secrets Manager.',
};

const LAMBDA_SKIPS: readonly CheckovSkip[] = [
  {
    id: 'CKV_AWS_116',
    comment:
      'Invoked synchronously (API Gateway, Step Functions Task, CloudFormation custom resource): the ' +
      'caller sees and retries the error, so an async dead-letter queue would never receive anything. ' +
      'The one async caller, the reconcile rule, retries 8 times and the reconciler is idempotent.',
  },
  {
    id: 'CKV_AWS_115',
    comment:
      'Reserved concurrency would carve capacity out of the account pool (new accounts have 10) and ' +
      'can fail the deploy; load is bounded by the HTTP API stage throttling and one execution per run.',
  },
  {
    id: 'CKV_AWS_173',
    comment:
      'Environment variables hold names, ARNs and switches only (tables, buckets, secret ARNs, model ' +
      'ids); every secret is read from Secrets Manager at run time, so a customer key protects nothing.',
  },
];

const OUTSIDE_VPC: CheckovSkip = {
  id: 'CKV_AWS_117',
  comment:
    'Runs outside the VPC on purpose: it calls public endpoints (Stripe, SES, Bedrock, S3, DynamoDB, ' +
    'CloudFront) and the VPC has no NAT. Only what needs EFS (PrepareBranch) or must be isolated from ' +
    'data (SmokeBinary) runs in the isolated subnets.',
};

/** The checkov decisions for one CloudFormation resource, or none. */
export function checkovSkips(resource: CfnResource): CheckovSkip[] {
  const props = resourceProperties(resource);
  switch (resource.cfnResourceType) {
    case 'AWS::S3::Bucket': {
      const versioned =
        (props.versioningConfiguration as { status?: string } | undefined)?.status === 'Enabled';
      if (versioned) return [];
      const reason = UNVERSIONED_BUCKETS[resource.node.scope?.node.id ?? ''];
      if (!reason) {
        throw new Error(
          `bucket ${resource.node.path} is not versioned and has no checkov decision (lib/infra/checkov.ts)`,
        );
      }
      return [{ id: 'CKV_AWS_21', comment: reason }];
    }
    case 'AWS::Lambda::Function': {
      const inVpc = props.vpcConfig !== undefined || props.VpcConfig !== undefined;
      return [...LAMBDA_SKIPS, ...(inVpc ? [] : [OUTSIDE_VPC])];
    }
    case 'AWS::Logs::LogGroup':
      return [{ id: 'CKV_AWS_158', comment: CMK_REASON }];
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable':
      return [{ id: 'CKV_AWS_119', comment: CMK_REASON }];
    case 'AWS::SecretsManager::Secret':
      return [{ id: 'CKV_AWS_149', comment: CMK_REASON }];
    default:
      return [];
  }
}

/** The resource's properties as set (L1 constructs and raw CfnResources alike). */
function resourceProperties(resource: CfnResource): Record<string, unknown> {
  const own = (resource as unknown as { _cfnProperties?: Record<string, unknown> })._cfnProperties ?? {};
  return { ...own, ...(resource as unknown as Record<string, unknown>) };
}

/** Adds `Metadata.checkov.skip` with the decisions to every resource that has some. */
export class CheckovDecisions implements IAspect {
  visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node)) return;
    const skips = checkovSkips(node);
    if (skips.length === 0) return;
    node.addMetadata('checkov', { skip: skips });
  }
}
