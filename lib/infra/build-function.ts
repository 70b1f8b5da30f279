import { type Duration, type Size, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  ApplicationLogLevel,
  Architecture,
  type FileSystem,
  LoggingFormat,
  type Runtime,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { REPO_ROOT, repoPath } from './paths.ts';

export interface BuildFunctionProps {
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly runtime: Runtime;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logRetention: RetentionDays;
  readonly environment?: Record<string, string>;
  /**
   * Repository directories copied into the bundle next to the handler (e.g. `template-repo`,
   * found at `/var/task/<dir>` at run time); their `dist/` is left out.
   */
  readonly bundleDirs?: readonly string[];
  /** /tmp size (default 512 MiB). */
  readonly ephemeralStorageSize?: Size;
  /**
   * Run inside this VPC (only for functions that must reach something private, e.g. EFS).
   * Requires `securityGroups` and `vpcSubnets`.
   */
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** An EFS access point to mount (requires `vpc`). */
  readonly filesystem?: FileSystem;
  /** Default ARM64; x86_64 only where a dependency ships no arm64 build (the WebChecks Chromium). */
  readonly architecture?: Architecture;
  /** Packages installed into the bundle instead of bundled (they locate files of their own). */
  readonly nodeModules?: readonly string[];
}

/** ESM bundles have no `require`; some CommonJS dependencies still call it. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __bbCreateRequire } from 'node:module'; const require = __bbCreateRequire(import.meta.url);";

/**
 * What a function in a VPC needs to attach its Hyperplane ENIs (the actions of the
 * AWSLambdaVPCAccessExecutionRole managed policy). EC2 evaluates them against `*`: the Describe
 * actions support no resource-level permissions and Lambda creates the ENIs before their ids exist.
 */
export const VPC_ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
] as const;

const XRAY_REASON =
  'Active X-Ray tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no ' +
  'resource-level permissions, so AWS requires Resource "*". test/infra checks that every ' +
  'wildcard-resource statement in the stack contains only the allow-listed actions.';

const VPC_REASON =
  ' This function runs in the VPC, so its role also carries the EC2 network-interface actions of ' +
  'AWSLambdaVPCAccessExecutionRole (inline, instead of the managed policy); EC2 evaluates them ' +
  'against "*" because Lambda creates the ENIs before their ids exist.';

/**
 * The one place that sets the defaults of every Lambda function: Node.js runtime from config,
 * ARM64, active X-Ray tracing, JSON logs into an explicit log group with retention, ESM bundling
 * with minify and source maps (local esbuild, no Docker), and a role that can write only its own
 * log group. Callers add data access with the least-privilege grants of the resources they use.
 * API handlers and orchestrator tasks alike use it.
 */
export class BuildFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: BuildFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention });

    // An explicit role instead of the AWSLambdaBasicExecutionRole managed policy (which allows
    // writing to every log group in the account): this function writes only its own log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.description}`,
    });
    this.logGroup.grantWrite(this.role);
    if (props.vpc) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: [...VPC_ENI_ACTIONS], resources: ['*'] }),
      );
    }

    this.function = new NodejsFunction(this, 'Function', {
      entry: repoPath(props.entry),
      handler: 'handler',
      description: props.description,
      runtime: props.runtime,
      architecture: props.architecture ?? Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      ephemeralStorageSize: props.ephemeralStorageSize,
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel.INFO,
      systemLogLevelV2: SystemLogLevel.WARN,
      depsLockFilePath: repoPath('package-lock.json'),
      projectRoot: REPO_ROOT,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      allowPublicSubnet: false,
      filesystem: props.filesystem,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Ship the SDK version the tests ran against instead of whatever the runtime carries.
        bundleAwsSDK: true,
        ...(props.nodeModules?.length && { nodeModules: [...props.nodeModules] }),
        ...(props.bundleDirs?.length && {
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (inputDir: string, outputDir: string) =>
              (props.bundleDirs ?? []).flatMap((dir) => [
                `cp -R "${inputDir}/${dir}" "${outputDir}/${dir}"`,
                `rm -rf "${outputDir}/${dir}/dist"`,
              ]),
          },
        }),
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: props.vpc ? XRAY_REASON + VPC_REASON : XRAY_REASON,
    });
  }
}
