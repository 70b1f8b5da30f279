import { fileURLToPath } from 'node:url';
import {
  CustomResource,
  CustomResourceProvider,
  CustomResourceProviderRuntime,
  Duration,
  Stack,
} from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { NetworkConfig } from './config.ts';
import { type DataTable, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS } from './data-table.ts';

export interface BuildNetworkProps {
  readonly network: NetworkConfig;
  readonly logRetention: RetentionDays;
  readonly table: DataTable;
  /** Buckets that something inside the VPC reads or writes (the S3 endpoint allows only these). */
  readonly buckets: readonly s3.IBucket[];
  /** Add the `bedrock-runtime` interface endpoint (the worker's coder calls Bedrock). */
  readonly bedrockRuntime?: boolean;
}

/** The interface endpoints every network has (ECR image pull, awslogs, PrepareBranch's events). */
const BASE_INTERFACE_ENDPOINTS: Readonly<Record<string, ec2.InterfaceVpcEndpointAwsService>> = {
  EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  Events: ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
};

const S3_PREFIX_LIST_LOOKUP_CODE = fileURLToPath(new URL('./s3-prefix-list', import.meta.url));

/** NFS, for EFS mount targets. */
export const NFS_PORT = 2049;

/**
 * The private network of the build pipeline: the worker (Fargate) and the one function that
 * mounts the template repository (PrepareBranch).
 *
 * - **No internet at all** (default, `workerEgress: 'none'`). Only isolated subnets: no NAT
 *   gateway, no internet gateway, no route out. The worker clones from EFS, builds with the Go
 *   toolchain in its image (the template has no module dependencies; GOPROXY is off) and talks to
 *   AWS only through VPC endpoints, so code written by a coder cannot call anything else.
 * - **Worker egress** (`workerEgress: 'nat'`, for coders whose model API is outside the VPC):
 *   one NAT gateway in a public subnet and a private subnet with a route to it per AZ. Only the
 *   worker runs there ({@link workerSubnets}), with HTTPS to any address; PrepareBranch, the file
 *   system and the interface endpoints stay in the isolated subnets, and the gateway endpoints
 *   serve both subnet groups.
 * - **Endpoints:** S3 and DynamoDB gateway endpoints (free; their policies allow only this stack's
 *   table and the worker's buckets, plus the ECR layer bucket), and interface endpoints for ECR
 *   (api, dkr: image pull), CloudWatch Logs (awslogs driver) and EventBridge (PrepareBranch
 *   publishes events), usable only by principals of this account. Step Functions needs none:
 *   `ecs:runTask.sync` is polled by the service. A model-driven coder will need a Bedrock runtime
 *   endpoint (`bedrockRuntime`), a worker with container secrets the Secrets Manager endpoint
 *   ({@link addSecretsManagerEndpoint}).
 * - **Security groups:** the worker and in-VPC functions accept nothing inbound and may send only
 *   HTTPS (to the endpoints; see `NetworkConfig.gatewayPrefixListIds`) and NFS to the file system;
 *   the file system accepts NFS only from those two groups; the endpoints accept HTTPS only from
 *   them.
 * - **Smoke sandbox:** the SmokeBinary function (which runs untrusted candidate binaries) has a
 *   group of its own whose only rule is HTTPS out to the region's S3 prefix list (looked up at
 *   deploy time, {@link s3PrefixListId}): it reaches the S3 gateway endpoint (whose policy admits
 *   only the pipeline buckets) and nothing else: no interface endpoint, no file system, no NAT.
 * - **Flow logs** of all traffic go to a log group with the stack's retention.
 */
export class BuildNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** Isolated subnets: PrepareBranch, EFS mount targets, interface endpoints. */
  readonly subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  /** Where the worker runs: the isolated subnets, or with `workerEgress: 'nat'` the egress ones. */
  readonly workerSubnets: ec2.SubnetSelection;
  readonly workerSecurityGroup: ec2.SecurityGroup;
  readonly functionSecurityGroup: ec2.SecurityGroup;
  readonly fileSystemSecurityGroup: ec2.SecurityGroup;
  readonly endpointSecurityGroup: ec2.SecurityGroup;
  /** The SmokeBinary function: no inbound; HTTPS only to the S3 prefix list. */
  readonly smokeSecurityGroup: ec2.SecurityGroup;
  /** Id of the AWS-managed `com.amazonaws.<region>.s3` prefix list (a deploy-time lookup). */
  readonly s3PrefixListId: string;
  readonly flowLogs: LogGroup;

  constructor(scope: Construct, id: string, props: BuildNetworkProps) {
    super(scope, id);
    const { network } = props;
    const egress = network.workerEgress === 'nat';

    this.workerSubnets = egress ? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } : this.subnets;
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: network.maxAzs,
      natGateways: egress ? 1 : 0,
      subnetConfiguration: [
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
        ...(egress
          ? [
              // The NAT gateway only; nothing else is placed in a public subnet.
              { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 26, mapPublicIpOnLaunch: false },
              { name: 'worker', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
            ]
          : []),
      ],
      // Nothing uses the default security group; it keeps no rules (flag-controlled default).
      restrictDefaultSecurityGroup: true,
    });

    this.flowLogs = new LogGroup(this, 'FlowLogs', { retention: props.logRetention });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogs),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    const group = (name: string, description: string) =>
      new ec2.SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound: false });
    this.workerSecurityGroup = group(
      'WorkerSg',
      'bus-build worker tasks: no inbound; HTTPS to VPC endpoints and NFS to the repository file system',
    );
    this.functionSecurityGroup = group(
      'FunctionSg',
      'bus-build in-VPC functions: no inbound; HTTPS to VPC endpoints and NFS to the repository file system',
    );
    this.fileSystemSecurityGroup = group(
      'FileSystemSg',
      'bus-build repository file system: NFS from the worker and functions',
    );
    this.endpointSecurityGroup = group(
      'EndpointSg',
      'bus-build interface VPC endpoints: HTTPS from the worker and functions',
    );

    // Prefix list ids differ per region and cannot be looked up offline: a small custom
    // resource reads it at deploy time (ec2:DescribeManagedPrefixLists, no resource-level ARN).
    const lookup = CustomResourceProvider.getOrCreateProvider(this, 'Custom::S3PrefixListLookup', {
      codeDirectory: S3_PREFIX_LIST_LOOKUP_CODE,
      runtime: CustomResourceProviderRuntime.NODEJS_22_X,
      description: 'Looks up the id of the AWS-managed S3 prefix list of the region',
      timeout: Duration.minutes(1),
      policyStatements: [{ Effect: 'Allow', Action: ['ec2:DescribeManagedPrefixLists'], Resource: '*' }],
    });
    const s3PrefixList = new CustomResource(this, 'S3PrefixList', {
      serviceToken: lookup.serviceToken,
      resourceType: 'Custom::S3PrefixListLookup',
      properties: { Region: Stack.of(this).region },
    });
    this.s3PrefixListId = s3PrefixList.getAttString('PrefixListId');
    this.smokeSecurityGroup = group(
      'SmokeSg',
      'bus-build binary smoke function: no inbound; HTTPS only to the S3 gateway endpoint prefix list',
    );
    // Inline, not through addEgressRule: a prefix list id that is a deploy-time token becomes a
    // standalone SecurityGroupEgress, and a group whose SecurityGroupEgress property is empty keeps
    // EC2's default allow-all egress rule. As the group's only inline rule it replaces that default.
    (this.smokeSecurityGroup.node.defaultChild as ec2.CfnSecurityGroup).addPropertyOverride(
      'SecurityGroupEgress',
      [
        {
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
          DestinationPrefixListId: this.s3PrefixListId,
          Description: 'HTTPS to S3 (the gateway endpoint) only',
        },
      ],
    );

    const httpsPeers = network.gatewayPrefixListIds?.length
      ? [
          ec2.Peer.ipv4(this.vpc.vpcCidrBlock),
          ...network.gatewayPrefixListIds.map((pl) => ec2.Peer.prefixList(pl)),
        ]
      : [ec2.Peer.anyIpv4()];
    for (const client of [this.workerSecurityGroup, this.functionSecurityGroup]) {
      // With egress, the worker's HTTPS goes anywhere (model APIs through the NAT gateway).
      const peers = egress && client === this.workerSecurityGroup ? [ec2.Peer.anyIpv4()] : httpsPeers;
      for (const peer of peers) {
        client.addEgressRule(
          peer,
          ec2.Port.tcp(443),
          peers === httpsPeers ? 'HTTPS to AWS endpoints' : 'HTTPS to AWS endpoints and model APIs (NAT)',
        );
      }
      client.connections.allowTo(
        this.fileSystemSecurityGroup,
        ec2.Port.tcp(NFS_PORT),
        'NFS to the repository file system',
      );
      this.endpointSecurityGroup.addIngressRule(client, ec2.Port.tcp(443), 'HTTPS from bus-build clients');
    }

    const stack = Stack.of(this);
    const s3Endpoint = this.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: this.gatewaySubnets(),
    });
    s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PipelineBuckets',
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject', 's3:PutObject', 's3:ListBucket'],
        resources: props.buckets.flatMap((b) => [b.bucketArn, b.arnForObjects('*')]),
      }),
    );
    s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EcrImageLayers',
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject'],
        resources: [`arn:${stack.partition}:s3:::prod-${stack.region}-starport-layer-bucket/*`],
      }),
    );

    const dynamoEndpoint = this.vpc.addGatewayEndpoint('DynamoDb', {
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: this.gatewaySubnets(),
    });
    dynamoEndpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RunTable',
        principals: [new iam.AnyPrincipal()],
        actions: [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
        resources: props.table.resourceArns,
      }),
    );

    const interfaces: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      ...BASE_INTERFACE_ENDPOINTS,
      ...(props.bedrockRuntime && { BedrockRuntime: ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME }),
    };
    for (const [name, service] of Object.entries(interfaces)) this.addEndpoint(name, service);
  }

  /**
   * The Secrets Manager interface endpoint (idempotent): needed as soon as the worker's task
   * definition has container secrets, which the ECS agent fetches at task start through the
   * task's network (or an in-VPC function reads a secret).
   */
  addSecretsManagerEndpoint(): ec2.InterfaceVpcEndpoint {
    const existing = this.vpc.node.tryFindChild('SecretsManager');
    if (existing) return existing as ec2.InterfaceVpcEndpoint;
    return this.addEndpoint('SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
  }

  /** An interface endpoint in the isolated subnets, HTTPS from the client groups, this account only. */
  private addEndpoint(name: string, service: ec2.InterfaceVpcEndpointAwsService): ec2.InterfaceVpcEndpoint {
    const endpoint = this.vpc.addInterfaceEndpoint(name, {
      service,
      subnets: this.subnets,
      securityGroups: [this.endpointSecurityGroup],
      open: false,
      privateDnsEnabled: true,
    });
    endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ThisAccountOnly',
        principals: [new iam.AnyPrincipal()],
        actions: ['*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:PrincipalAccount': Stack.of(this).account } },
      }),
    );
    return endpoint;
  }

  /** Route tables of the gateway endpoints: every subnet group except the public one. */
  private gatewaySubnets(): ec2.SubnetSelection[] {
    return this.workerSubnets === this.subnets ? [this.subnets] : [this.subnets, this.workerSubnets];
  }

  /** Subnet ids of the worker's subnets (its `AwsvpcConfiguration.Subnets`). */
  get subnetIds(): string[] {
    return this.vpc.selectSubnets(this.workerSubnets).subnetIds;
  }
}
