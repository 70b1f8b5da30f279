import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import { REPO_ACCESS_POINT_PATH, REPO_GID, REPO_UID } from '../../lib/infra/repo-filesystem.ts';
import { flatten, logicalIdOf, synthBuildStack, testApp, testStackConfig } from './synth.ts';

type Template = ReturnType<typeof synthBuildStack>['template'];
type Rule = Record<string, unknown>;

let stack: BuildStack;
let template: Template;
let resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
beforeAll(() => {
  ({ stack, template } = synthBuildStack());
  resources = template.toJSON().Resources;
});

describe('BuildNetwork', () => {
  const sg = (group: { node: unknown } & object) =>
    resources[logicalIdOf(group as never)]!.Properties as {
      SecurityGroupIngress?: Rule[];
      SecurityGroupEgress?: Rule[];
    };
  const standalone = (type: string, groupProp: string, id: string) =>
    Object.values(resources).filter(
      (r) => r.Type === type && JSON.stringify(r.Properties[groupProp]).includes(`"${id}"`),
    );

  it('has isolated subnets only: no NAT gateway, no internet gateway, no public IPs', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::EIP', 0);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    for (const s of Object.values(template.findResources('AWS::EC2::Subnet'))) {
      expect(s.Properties.MapPublicIpOnLaunch).toBe(false);
    }
    for (const r of Object.values(template.findResources('AWS::EC2::Route'))) {
      expect(r.Properties.GatewayId ?? r.Properties.NatGatewayId).toBeUndefined();
    }
  });

  it('logs all VPC traffic to a log group with retention', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: { Ref: logicalIdOf(stack.network.flowLogs) },
    });
  });

  it('has S3 and DynamoDB gateway endpoints restricted to the pipeline buckets and the run table', () => {
    const gateways = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).filter(
      (e) => e.Properties.VpcEndpointType === 'Gateway',
    );
    expect(gateways.length).toBe(2);
    const policies = JSON.stringify(gateways.map((g) => g.Properties.PolicyDocument));
    expect(policies).toContain(logicalIdOf(stack.buckets.staging));
    expect(policies).toContain(logicalIdOf(stack.buckets.evidence));
    expect(policies).not.toContain(logicalIdOf(stack.buckets.artifacts));
    expect(policies).toContain(logicalIdOf(stack.table.table));
    expect(policies).toContain('starport-layer-bucket');
    expect(policies).not.toMatch(/"Action":"(s3|dynamodb):\*"/);
  });

  it('has interface endpoints for ECR (api, dkr), CloudWatch Logs, EventBridge and the default Bedrock coder, for this account only', () => {
    const interfaces = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).filter(
      (e) => e.Properties.VpcEndpointType === 'Interface',
    );
    const services = interfaces.map((e) => flatten(e.Properties.ServiceName)).sort();
    expect(services).toEqual([
      'com.amazonaws.<AWS::Region>.bedrock-runtime',
      'com.amazonaws.<AWS::Region>.ecr.api',
      'com.amazonaws.<AWS::Region>.ecr.dkr',
      'com.amazonaws.<AWS::Region>.events',
      'com.amazonaws.<AWS::Region>.logs',
    ]);
    const isolated = stack.network.vpc.isolatedSubnets.map((s) => ({ Ref: logicalIdOf(s) }));
    for (const e of interfaces) {
      expect(e.Properties.PrivateDnsEnabled).toBe(true);
      expect(e.Properties.SubnetIds).toEqual(isolated);
      expect(e.Properties.SecurityGroupIds).toEqual([
        { 'Fn::GetAtt': [logicalIdOf(stack.network.endpointSecurityGroup), 'GroupId'] },
      ]);
      expect(e.Properties.PolicyDocument.Statement).toEqual([
        expect.objectContaining({
          Condition: { StringEquals: { 'aws:PrincipalAccount': { Ref: 'AWS::AccountId' } } },
        }),
      ]);
    }
  });

  it('worker and function groups: no inbound, egress only HTTPS and NFS to the file system', () => {
    const fsId = logicalIdOf(stack.network.fileSystemSecurityGroup);
    for (const group of [stack.network.workerSecurityGroup, stack.network.functionSecurityGroup]) {
      const id = logicalIdOf(group);
      const props = sg(group);
      expect(props.SecurityGroupIngress ?? []).toEqual([]);
      expect(standalone('AWS::EC2::SecurityGroupIngress', 'GroupId', id)).toEqual([]);
      expect(props.SecurityGroupEgress).toEqual([
        expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' }),
      ]);
      const egress = standalone('AWS::EC2::SecurityGroupEgress', 'GroupId', id);
      expect(egress.map((e) => e.Properties)).toEqual([
        expect.objectContaining({
          IpProtocol: 'tcp',
          FromPort: 2049,
          ToPort: 2049,
          DestinationSecurityGroupId: { 'Fn::GetAtt': [fsId, 'GroupId'] },
        }),
      ]);
    }
  });

  it('runs the worker in the isolated subnets (the ECS substitution) when it has no egress', () => {
    expect(stack.resolve(stack.network.subnetIds)).toEqual(
      stack.network.vpc.isolatedSubnets.map((s) => ({ Ref: logicalIdOf(s) })),
    );
  });

  it('limits HTTPS egress to the VPC and the gateway prefix lists when they are configured', () => {
    const config = testStackConfig();
    const pinned = new BuildStack(testApp({ cfnValidation: false }), 'Pinned', {
      config: {
        ...config,
        network: { ...config.network, gatewayPrefixListIds: ['pl-6ea54007', 'pl-66a5400f'] },
      },
    });
    const res = CdkTemplate.fromStack(pinned).toJSON().Resources as Record<
      string,
      { Type: string; Properties: Rule }
    >;
    for (const group of [pinned.network.workerSecurityGroup, pinned.network.functionSecurityGroup]) {
      const id = logicalIdOf(group);
      const https = [
        ...((res[id]!.Properties.SecurityGroupEgress as Rule[] | undefined) ?? []),
        ...Object.values(res)
          .filter(
            (r) =>
              r.Type === 'AWS::EC2::SecurityGroupEgress' &&
              JSON.stringify(r.Properties.GroupId).includes(`"${id}"`),
          )
          .map((r) => r.Properties),
      ].filter((r) => r.FromPort === 443);
      expect(https.map((r) => r.CidrIp ?? r.DestinationPrefixListId)).toEqual([
        { 'Fn::GetAtt': [logicalIdOf(pinned.network.vpc), 'CidrBlock'] },
        'pl-6ea54007',
        'pl-66a5400f',
      ]);
      for (const r of https) expect(r).toMatchObject({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 });
    }
  });

  it('file system and endpoint groups accept only NFS / HTTPS from the worker and function groups', () => {
    const clients = [stack.network.workerSecurityGroup, stack.network.functionSecurityGroup]
      .map(logicalIdOf)
      .sort();
    for (const [group, port] of [
      [stack.network.fileSystemSecurityGroup, 2049],
      [stack.network.endpointSecurityGroup, 443],
    ] as const) {
      const id = logicalIdOf(group);
      expect(sg(group).SecurityGroupIngress ?? []).toEqual([]);
      const ingress = standalone('AWS::EC2::SecurityGroupIngress', 'GroupId', id).map((r) => r.Properties);
      expect(
        ingress.map((r) => (r.SourceSecurityGroupId as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]).sort(),
      ).toEqual(clients);
      for (const r of ingress) expect(r).toMatchObject({ IpProtocol: 'tcp', FromPort: port, ToPort: port });
    }
  });
});

describe('BuildNetwork with worker egress (-c workerEgress=nat)', () => {
  // Prefix lists pinned, so that the worker's any-address HTTPS rule can only come from `nat`.
  const prefixLists = ['pl-6ea54007', 'pl-66a5400f'];
  const build = (workerEgress: 'none' | 'nat') => {
    const config = testStackConfig();
    const s = new BuildStack(testApp({ cfnValidation: false }), `Egress-${workerEgress}`, {
      config: { ...config, network: { ...config.network, gatewayPrefixListIds: prefixLists, workerEgress } },
    });
    const res = CdkTemplate.fromStack(s).toJSON().Resources as Record<
      string,
      { Type: string; Properties: Rule }
    >;
    return { s, res };
  };
  const ofType = (res: Record<string, { Type: string; Properties: Rule }>, type: string) =>
    Object.entries(res).filter(([, r]) => r.Type === type);
  /** Every HTTPS egress rule of a group (inline and standalone). */
  const httpsEgress = (res: Record<string, { Type: string; Properties: Rule }>, id: string) =>
    [
      ...((res[id]!.Properties.SecurityGroupEgress as Rule[] | undefined) ?? []),
      ...ofType(res, 'AWS::EC2::SecurityGroupEgress')
        .filter(([, r]) => JSON.stringify(r.Properties.GroupId).includes(`"${id}"`))
        .map(([, r]) => r.Properties),
    ].filter((r) => r.FromPort === 443);
  const anywhere = (rules: Rule[]) => rules.filter((r) => r.CidrIp === '0.0.0.0/0');

  let nat: ReturnType<typeof build>;
  let none: ReturnType<typeof build>;
  beforeAll(() => {
    nat = build('nat');
    none = build('none');
  });

  it('adds one NAT gateway (and its internet gateway) only with nat', () => {
    for (const type of ['AWS::EC2::NatGateway', 'AWS::EC2::InternetGateway', 'AWS::EC2::EIP']) {
      expect(ofType(nat.res, type), type).toHaveLength(1);
      expect(ofType(none.res, type), type).toHaveLength(0);
    }
    // Nothing launched into the public subnets gets a public IP.
    for (const [, subnet] of ofType(nat.res, 'AWS::EC2::Subnet')) {
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    }
  });

  it('routes only the worker subnets through the NAT gateway; the isolated subnets keep no route out', () => {
    const { s, res } = nat;
    const workerSubnets = s.network.vpc.privateSubnets;
    expect(workerSubnets).toHaveLength(2);
    const natRouteTables = ofType(res, 'AWS::EC2::Route')
      .filter(([, r]) => r.Properties.NatGatewayId !== undefined)
      .map(([, r]) => JSON.stringify(r.Properties.RouteTableId))
      .sort();
    expect(natRouteTables).toEqual(
      workerSubnets.map((sub) => JSON.stringify(s.resolve(sub.routeTable.routeTableId))).sort(),
    );
    const isolatedTables = new Set(
      s.network.vpc.isolatedSubnets.map((sub) => JSON.stringify(s.resolve(sub.routeTable.routeTableId))),
    );
    for (const [, r] of ofType(res, 'AWS::EC2::Route')) {
      expect(isolatedTables.has(JSON.stringify(r.Properties.RouteTableId))).toBe(false);
    }
    // The ECS RunTask substitution names the worker subnets; PrepareBranch stays isolated.
    expect(s.resolve(s.network.subnetIds)).toEqual(workerSubnets.map((sub) => ({ Ref: logicalIdOf(sub) })));
    const prepare = res[logicalIdOf(s.pipeline.functions.PrepareBranch!.function)]!.Properties as {
      VpcConfig: { SubnetIds: unknown[] };
    };
    expect(prepare.VpcConfig.SubnetIds).toEqual(
      s.network.vpc.isolatedSubnets.map((sub) => ({ Ref: logicalIdOf(sub) })),
    );
  });

  it('gives the worker, and only the worker, HTTPS to any address only with nat', () => {
    const worker = (x: typeof nat) => httpsEgress(x.res, logicalIdOf(x.s.network.workerSecurityGroup));
    const fns = (x: typeof nat) => httpsEgress(x.res, logicalIdOf(x.s.network.functionSecurityGroup));
    expect(anywhere(worker(nat))).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
    ]);
    expect(worker(nat).every((r) => r.FromPort === 443 && r.ToPort === 443)).toBe(true);
    expect(anywhere(worker(none))).toEqual([]);
    expect(anywhere(fns(nat))).toEqual([]);
    expect(anywhere(fns(none))).toEqual([]);
  });

  it('keeps the gateway endpoints on the worker subnets too (S3 and DynamoDB never via NAT)', () => {
    const { s, res } = nat;
    const tables = [...s.network.vpc.isolatedSubnets, ...s.network.vpc.privateSubnets]
      .map((sub) => JSON.stringify(s.resolve(sub.routeTable.routeTableId)))
      .sort();
    const gateways = ofType(res, 'AWS::EC2::VPCEndpoint').filter(
      ([, e]) => e.Properties.VpcEndpointType === 'Gateway',
    );
    expect(gateways).toHaveLength(2);
    for (const [, e] of gateways) {
      expect((e.Properties.RouteTableIds as unknown[]).map((t) => JSON.stringify(t)).sort()).toEqual(tables);
    }
  });
});

describe('RepoFileSystem', () => {
  it('is encrypted, backed up, elastic and retained', () => {
    template.resourceCountIs('AWS::EFS::FileSystem', 1);
    template.hasResource('AWS::EFS::FileSystem', {
      DeletionPolicy: 'Retain',
      Properties: {
        Encrypted: true,
        BackupPolicy: { Status: 'ENABLED' },
        ThroughputMode: 'elastic',
      },
    });
  });

  it('file system policy: no Allow; denies plain NFS and mounts without an access point', () => {
    const fs = Object.values(template.findResources('AWS::EFS::FileSystem'))[0]!;
    const statements = fs.Properties.FileSystemPolicy.Statement as Record<string, unknown>[];
    expect(statements.every((s) => s.Effect === 'Deny')).toBe(true);
    expect(statements.map((s) => s.Condition)).toEqual([
      { Bool: { 'aws:SecureTransport': 'false' } },
      { Null: { 'elasticfilesystem:AccessPointArn': 'true' } },
    ]);
  });

  it('has one mount target per isolated subnet in the file system group', () => {
    const targets = Object.values(template.findResources('AWS::EFS::MountTarget'));
    expect(targets.length).toBe(2);
    for (const t of targets) {
      expect(t.Properties.SecurityGroups).toEqual([
        { 'Fn::GetAtt': [logicalIdOf(stack.network.fileSystemSecurityGroup), 'GroupId'] },
      ]);
    }
  });

  it('exposes /repos through one access point as uid/gid 10001', () => {
    template.resourceCountIs('AWS::EFS::AccessPoint', 1);
    template.hasResourceProperties('AWS::EFS::AccessPoint', {
      PosixUser: { Uid: REPO_UID, Gid: REPO_GID },
      RootDirectory: {
        Path: REPO_ACCESS_POINT_PATH,
        CreationInfo: { OwnerUid: REPO_UID, OwnerGid: REPO_GID, Permissions: '750' },
      },
    });
  });
});
