import { readFileSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import { repoPath } from '../../lib/infra/paths.ts';
import { REPO_DIR, REPO_MOUNT_PATH } from '../../lib/infra/repo-filesystem.ts';
import {
  WORKER_COMMAND_USER,
  WORKER_CONTAINER_NAME,
  WORKER_KEPT_CAPABILITIES,
  WORKER_WRITABLE_PATHS,
} from '../../lib/infra/worker.ts';
import {
  actionsOf,
  allowsAction,
  logicalIdOf,
  resourcesOf,
  statementsForRole,
  synthBuildStack,
  testApp,
  testStackConfig,
} from './synth.ts';

type T = ReturnType<typeof synthBuildStack>['template'];

let stack: BuildStack;
let template: T;
/** Template JSON (CloudFormation's loose shape). */
type Json = ReturnType<T['toJSON']>;
let taskDef: Json;
let container: Json;
beforeAll(() => {
  ({ stack, template } = synthBuildStack());
  taskDef = template.toJSON().Resources[logicalIdOf(stack.worker.taskDefinition)].Properties;
  container = taskDef.ContainerDefinitions[0];
});

describe('BuildWorker task definition', () => {
  it('is one Fargate task on ARM64 Linux, sized from config', () => {
    template.resourceCountIs('AWS::ECS::TaskDefinition', 1);
    const { worker } = testStackConfig();
    expect(taskDef).toMatchObject({
      Family: 'bus-build-test-worker',
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: String(worker.cpu),
      Memory: String(worker.memoryLimitMiB),
      EphemeralStorage: { SizeInGiB: worker.ephemeralStorageGiB },
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
    expect(taskDef.ContainerDefinitions.length).toBe(1);
  });

  it('runs in a cluster with Container Insights', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('runs the worker image (ARM64 asset) as root, which runs untrusted commands as the builder user', () => {
    expect(container.Name).toBe(WORKER_CONTAINER_NAME);
    expect(container.Essential).toBe(true);
    // Root only to drop privileges: COMMAND_USER is the image's unprivileged builder user.
    expect(container.User).toBe('0:0');
    expect(JSON.stringify(container.Image)).toContain('cdk-hnb659fds-container-assets');
    const dockerfile = readFileSync(repoPath('worker-image/Dockerfile'), 'utf8');
    const [uid, gid] = WORKER_COMMAND_USER.split(':');
    expect(dockerfile).toMatch(new RegExp(`--uid ${uid} --gid ${gid} .*builder`));
    expect(dockerfile).toContain(`COMMAND_USER=${WORKER_COMMAND_USER}`);
    // The image ends as root (the last USER), and the Go cache is the builder's.
    expect([...dockerfile.matchAll(/^USER (\S+)$/gm)].at(-1)?.[1]).toBe('root');
    expect(dockerfile).toContain('GOCACHE=/home/builder/.cache/go-build');
    // The EFS mount is closed to the builder (the access point maps every client to the owner),
    // and root's git trusts exactly the repository's path, never '*'.
    expect(REPO_MOUNT_PATH).toBe('/mnt/repos');
    expect(dockerfile).toMatch(/chmod 0700 \/root \/mnt/);
    expect(dockerfile).toContain(`safe.directory ${REPO_DIR}`);
    expect(dockerfile).not.toMatch(/safe\.directory '\*'/);
  });

  it('keeps only the capabilities the privilege switch needs and runs an init process', () => {
    const drop: string[] = container.LinuxParameters.Capabilities.Drop;
    expect(container.LinuxParameters.InitProcessEnabled).toBe(true);
    expect(container.LinuxParameters.Capabilities.Add).toBeUndefined();
    expect([...WORKER_KEPT_CAPABILITIES].sort()).toEqual([
      'CHOWN',
      'DAC_OVERRIDE',
      'KILL',
      'SETGID',
      'SETUID',
    ]);
    for (const kept of WORKER_KEPT_CAPABILITIES) expect(drop).not.toContain(kept);
    for (const dropped of [
      'NET_RAW',
      'SYS_PTRACE',
      'SYS_ADMIN',
      'FOWNER',
      'FSETID',
      'MKNOD',
      'SETPCAP',
      'SETFCAP',
    ]) {
      expect(drop).toContain(dropped);
    }
    expect(drop).not.toContain('ALL');
    expect(container.Privileged).toBeUndefined();
  });

  it('sets the worker environment contract (RUN_ID/ATTEMPT come from the state machine)', () => {
    const env = Object.fromEntries(
      (container.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
    );
    expect(env).toEqual({
      TABLE_NAME: { Ref: logicalIdOf(stack.table.table) },
      STAGING_BUCKET: { Ref: logicalIdOf(stack.buckets.staging) },
      EVIDENCE_BUCKET: { Ref: logicalIdOf(stack.buckets.evidence) },
      REPO_DIR,
      // Amazon Bedrock is the AWS default coder (models.test.ts covers the providers).
      CODER: 'bedrock',
      BEDROCK_MODEL_ID: testStackConfig().models.bedrockModelId,
      WORKER_TIMEOUT_SECONDS: '1500',
      // The image carries Chromium: on AWS a worker that cannot render fails the attempt.
      RENDER_CHECK: 'required',
      COMMAND_USER: WORKER_COMMAND_USER,
    });
    expect(JSON.stringify(container)).not.toContain('ARTIFACTS_BUCKET');
    expect(container.Secrets).toBeUndefined();
  });

  it('logs through awslogs (non-blocking) to a log group with retention', () => {
    expect(container.LogConfiguration).toMatchObject({
      LogDriver: 'awslogs',
      Options: {
        'awslogs-group': { Ref: logicalIdOf(stack.worker.logGroup) },
        'awslogs-stream-prefix': 'worker',
        mode: 'non-blocking',
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('mounts the repository access point read-write at /mnt/repos with TLS and IAM', () => {
    expect(taskDef.Volumes).toEqual([
      {
        Name: 'repos',
        EFSVolumeConfiguration: {
          FilesystemId: { Ref: logicalIdOf(stack.repos.fileSystem) },
          TransitEncryption: 'ENABLED',
          AuthorizationConfig: {
            AccessPointId: { Ref: logicalIdOf(stack.repos.accessPoint) },
            IAM: 'ENABLED',
          },
        },
      },
    ]);
    expect(container.MountPoints).toEqual([
      { SourceVolume: 'repos', ContainerPath: REPO_MOUNT_PATH, ReadOnly: false },
    ]);
  });

  it('can run with a read-only root file system and task-local writable paths', () => {
    const config = testStackConfig();
    const ro = new BuildStack(testApp({ cfnValidation: false }), 'ReadOnly', {
      config: { ...config, worker: { ...config.worker, readonlyRootFilesystem: true } },
    });
    const def = Template.fromStack(ro).toJSON().Resources[logicalIdOf(ro.worker.taskDefinition)].Properties;
    const c = def.ContainerDefinitions[0];
    expect(c.ReadonlyRootFilesystem).toBe(true);
    expect(def.Volumes.map((v: { Name: string }) => v.Name).sort()).toEqual(
      ['repos', ...Object.keys(WORKER_WRITABLE_PATHS)].sort(),
    );
    expect(c.MountPoints).toEqual(
      expect.arrayContaining(
        Object.entries(WORKER_WRITABLE_PATHS).map(([SourceVolume, ContainerPath]) => ({
          SourceVolume,
          ContainerPath,
          ReadOnly: false,
        })),
      ),
    );
  });
});

describe('BuildWorker image: the Dockerfile asset, or a prebuilt image (-c workerImage)', () => {
  const withImage = (id: string, image: string) => {
    const config = testStackConfig();
    const app = testApp({ cfnValidation: false });
    const s = new BuildStack(app, id, { config: { ...config, worker: { ...config.worker, image } } });
    const json = Template.fromStack(s).toJSON();
    const def = json.Resources[logicalIdOf(s.worker.taskDefinition)].Properties;
    const assets = app.synth().getStackByName(s.stackName).assets;
    return { s, json, def, assets };
  };
  const dockerAssets = (assets: readonly { packaging?: string }[]) =>
    assets.filter((a) => a.packaging === 'container-image');

  it('builds worker-image/Dockerfile as an ARM64 image asset by default', () => {
    // The bootstrap's container-assets repository, tagged with the build context's hash.
    expect(container.Image['Fn::Sub']).toMatch(
      /\/cdk-[a-z0-9]+-container-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}:[0-9a-f]{64}$/,
    );
  });

  it('pulls a prebuilt ECR image by its URI, with ECR pull rights on that repository only, and builds nothing', () => {
    const uri = '111111111111.dkr.ecr.eu-west-1.amazonaws.com/bus-build-worker:2026-12-07';
    const { s, json, def, assets } = withImage('PrebuiltEcr', uri);
    expect(dockerAssets(assets)).toEqual([]);
    // `<account>.dkr.ecr.<region>.${AWS::URLSuffix}/<repository>:<tag>`: the URI, resolved per partition.
    expect(def.ContainerDefinitions[0].Image).toEqual({
      'Fn::Join': [
        '',
        ['111111111111.dkr.ecr.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/bus-build-worker:2026-12-07'],
      ],
    });
    const execRole = def.ExecutionRoleArn['Fn::GetAtt'][0] as string;
    const pulls = statementsForRole(Template.fromJSON(json), execRole).filter((st) =>
      allowsAction(st, 'ecr:BatchGetImage'),
    );
    expect(pulls.length).toBeGreaterThan(0);
    for (const st of pulls) expect(JSON.stringify(st.Resource)).toContain(':repository/bus-build-worker');
    expect(s.worker.taskDefinition).toBeDefined();
  });

  it('takes an image of another registry as is (no ECR rights, no asset)', () => {
    const { def, assets } = withImage(
      'PrebuiltOther',
      `ghcr.io/busdk/bus-build-worker@sha256:${'a'.repeat(64)}`,
    );
    expect(dockerAssets(assets)).toEqual([]);
    expect(def.ContainerDefinitions[0].Image).toBe(`ghcr.io/busdk/bus-build-worker@sha256:${'a'.repeat(64)}`);
  });
});

describe('BuildWorker task role (least privilege)', () => {
  const statements = () => statementsForRole(template, logicalIdOf(stack.worker.taskRole));

  it('has no permission at all on the artifacts bucket', () => {
    const artifacts = logicalIdOf(stack.buckets.artifacts);
    expect(JSON.stringify(statements())).not.toContain(artifacts);
    for (const s of statements()) for (const r of resourcesOf(s)) expect(r).not.toBe('*');
  });

  it('reads assignments/*, writes candidates/* in staging and runs/* in evidence; nothing else in S3', () => {
    const staging = logicalIdOf(stack.buckets.staging);
    const evidence = logicalIdOf(stack.buckets.evidence);
    const s3 = statements()
      .filter((s) => actionsOf([s]).some((a) => a.startsWith('s3:')))
      .flatMap((s) => actionsOf([s]).flatMap((a) => resourcesOf(s).map((r) => `${a} ${r}`)))
      .sort();
    expect(s3).toEqual(
      [
        `s3:GetObject <${staging}.Arn>/assignments/*`,
        `s3:PutObject <${staging}.Arn>/candidates/*`,
        `s3:PutObject <${evidence}.Arn>/runs/*`,
      ].sort(),
    );
  });

  it('may only Query and PutItem run items (RUN#…) on the base table', () => {
    const ddb = statements().filter((s) => actionsOf([s]).some((a) => a.startsWith('dynamodb:')));
    expect(ddb).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:Query'],
        Resource: { 'Fn::GetAtt': [logicalIdOf(stack.table.table), 'Arn'] },
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RUN#*'] } },
      },
    ]);
  });

  it('may mount and write the file system only through the repository access point (no root access)', () => {
    const efs = statements().filter((s) => actionsOf([s]).some((a) => a.startsWith('elasticfilesystem:')));
    expect(efs.length).toBe(1);
    expect(actionsOf(efs).sort()).toEqual(['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite']);
    expect(efs[0]!.Condition).toEqual({
      StringEquals: { 'elasticfilesystem:AccessPointArn': expect.anything() },
    });
    expect(JSON.stringify(efs[0]!.Condition)).toContain(logicalIdOf(stack.repos.accessPoint));
  });

  it('has no delete, event, state machine or wildcard actions', () => {
    for (const s of statements()) {
      for (const a of actionsOf([s])) {
        expect(a).not.toContain('*');
        expect(a).not.toMatch(/Delete|^events:|^states:|^iam:|Scan/);
      }
      expect(allowsAction(s, 's3:DeleteObject')).toBe(false);
    }
  });
});
