import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { DescribeClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetAccountCommand, GetEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { probeError } from '../errors.ts';
import type { StatusItem } from './status.ts';

/**
 * The post-deploy smoke of `bus-build status --aws`: every dependency of a running stack beyond
 * the table, buckets and state machine (status.ts), each probed with the operator's credentials
 * (names and ARNs from STACK_OUTPUTS_FILE or the environment). Secret values are read only to
 * tell "set" from the blank placeholder the stack creates them with; they are never printed.
 */

const PROBE_TIMEOUT_MS = 5000;
const SDK_OPTIONS = {
  maxAttempts: 1,
  requestHandler: { connectionTimeout: PROBE_TIMEOUT_MS, requestTimeout: PROBE_TIMEOUT_MS },
} as const;

const item = (name: string, state: StatusItem['state'], detail: string, hint?: string): StatusItem => ({
  name,
  state,
  detail,
  ...(hint ? { hint } : {}),
});

const errorName = (err: unknown): string | undefined => (err as { name?: string }).name;
const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function checkEventBus(name: string | undefined): Promise<StatusItem> {
  if (!name) return item('event bus', 'missing', 'EVENT_BUS_NAME not set', 'Set it from the stack outputs.');
  const client = new EventBridgeClient(SDK_OPTIONS);
  try {
    await client.send(new DescribeEventBusCommand({ Name: name }));
    return item('event bus', 'ok', name);
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException')
      return item('event bus', 'missing', `${name} does not exist`);
    return item('event bus', 'missing', `${name}: ${probeError(err)}`);
  } finally {
    client.destroy();
  }
}

export async function checkWorkerCluster(arn: string | undefined): Promise<StatusItem> {
  if (!arn)
    return item('worker cluster', 'missing', 'WORKER_CLUSTER_ARN not set', 'Set it from the stack outputs.');
  const client = new ECSClient(SDK_OPTIONS);
  try {
    const out = await client.send(new DescribeClustersCommand({ clusters: [arn] }));
    const cluster = out.clusters?.[0];
    if (!cluster) return item('worker cluster', 'missing', `${arn} does not exist`);
    if (cluster.status !== 'ACTIVE')
      return item('worker cluster', 'missing', `${cluster.clusterName ?? arn} is ${cluster.status}`);
    return item(
      'worker cluster',
      'ok',
      `${cluster.clusterName ?? arn} active, ${cluster.runningTasksCount ?? 0} running task(s)`,
    );
  } catch (err) {
    return item('worker cluster', 'missing', `${arn}: ${probeError(err)}`);
  } finally {
    client.destroy();
  }
}

/** The SES sender: its identity (address, or its domain) must be verified; sandbox is a warning. */
export async function checkEmailSender(from: string | undefined): Promise<StatusItem[]> {
  if (!from) return [item('email sender', 'missing', 'EMAIL_FROM not set', 'Set it from the stack outputs.')];
  const client = new SESv2Client(SDK_OPTIONS);
  try {
    const domain = from.slice(from.lastIndexOf('@') + 1);
    let verified: { identity: string; ok: boolean } | undefined;
    for (const identity of [from, domain]) {
      try {
        const out = await client.send(new GetEmailIdentityCommand({ EmailIdentity: identity }));
        verified = { identity, ok: out.VerifiedForSendingStatus === true };
        if (verified.ok) break;
      } catch (err) {
        if (errorName(err) !== 'NotFoundException') throw err;
      }
    }
    const items: StatusItem[] = [];
    if (!verified) {
      items.push(item('email sender', 'missing', `${from}: no SES identity`, 'Deploy the stack first.'));
    } else if (!verified.ok) {
      items.push(
        item(
          'email sender',
          'missing',
          `${from}: SES identity ${verified.identity} not verified yet`,
          'Open the link SES mailed to the address, or publish the DKIM CNAME records of the domain identity.',
        ),
      );
    } else {
      items.push(item('email sender', 'ok', `${from} (verified as ${verified.identity})`));
    }
    const account = await client.send(new GetAccountCommand({}));
    items.push(
      account.ProductionAccessEnabled
        ? item(
            'ses account',
            'ok',
            `production access${account.SendingEnabled === false ? ', sending paused' : ''}`,
          )
        : item(
            'ses account',
            'warn',
            'sandbox: codes reach verified recipients only',
            'Request SES production access for this region before visitors sign in.',
          ),
    );
    return items;
  } catch (err) {
    return [item('email sender', 'missing', `${from}: ${probeError(err)}`)];
  } finally {
    client.destroy();
  }
}

/**
 * The two Stripe secrets: set or still the blank placeholder. A missing ARN or a blank value is a
 * warning (card payments stay off; manual approval works); an unreadable secret is missing.
 */
export async function checkStripeSecrets(env: NodeJS.ProcessEnv): Promise<StatusItem> {
  const arns = {
    'secret key': env.STRIPE_SECRET_KEY_ARN?.trim(),
    'webhook secret': env.STRIPE_WEBHOOK_SECRET_ARN?.trim(),
  };
  if (!arns['secret key'] && !arns['webhook secret']) {
    return item('stripe', 'warn', 'no Stripe secret ARNs', 'Set them from the stack outputs.');
  }
  const client = new SecretsManagerClient(SDK_OPTIONS);
  try {
    const states = await Promise.all(
      Object.entries(arns).map(async ([what, arn]) => {
        if (!arn) return { what, state: 'not configured' };
        try {
          const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
          return { what, state: out.SecretString?.trim() ? 'set' : 'not set (placeholder)' };
        } catch (err) {
          return { what, state: `unreadable (${probeError(err)})`, failed: true };
        }
      }),
    );
    const detail = states.map((s) => `${s.what} ${s.state}`).join(', ');
    if (states.some((s) => 'failed' in s)) return item('stripe', 'missing', detail);
    if (states.every((s) => s.state === 'set'))
      return item('stripe', 'ok', `${detail}: card payments can be on`);
    return item(
      'stripe',
      'warn',
      `${detail}: card payments off, manual approval only`,
      'aws secretsmanager put-secret-value for both, then deploy with -c cardPayments=true (README "Deploying").',
    );
  } finally {
    client.destroy();
  }
}

/** Why a Bedrock Converse call failed, in operator terms. */
function modelProblem(err: unknown): { state: StatusItem['state']; detail: string; hint?: string } {
  const name = errorName(err);
  const message = errorMessage(err);
  if (name === 'AccessDeniedException')
    return {
      state: 'missing',
      detail: 'access denied',
      hint: 'Enable access to the model in the Bedrock console (Model access) for this account and region.',
    };
  if (name === 'ResourceNotFoundException')
    return {
      state: 'missing',
      detail: 'not found in this region',
      hint: 'Check -c bedrockModelId / bedrockRegion.',
    };
  if (name === 'ValidationException' && /on-demand throughput|inference profile/i.test(message))
    return {
      state: 'missing',
      detail: 'needs a cross-region inference profile id',
      hint: 'Deploy with -c bedrockModelId=global.<model id> (or us./eu./apac.).',
    };
  if (name === 'ThrottlingException' || name === 'ServiceQuotaExceededException')
    return { state: 'warn', detail: `reachable, but ${name}` };
  return { state: 'missing', detail: probeError(err) };
}

/**
 * Whether the configured intake and coder models can be invoked: one Converse call per distinct
 * model (one output token), with the operator's credentials in the model's region. The stack's
 * roles are granted InvokeModel on exactly this id by the template.
 */
export async function checkModels(env: NodeJS.ProcessEnv): Promise<StatusItem[]> {
  const modelId = env.BEDROCK_MODEL_ID?.trim();
  const region = env.BEDROCK_REGION?.trim() || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  const uses = [
    { name: 'intake model', provider: env.INTAKE_PROVIDER?.trim() || undefined },
    { name: 'coder model', provider: env.CODER?.trim() || undefined },
  ];
  const probes = new Map<string, Promise<StatusItem['state'] | { err: unknown }>>();
  const probe = (id: string): Promise<StatusItem['state'] | { err: unknown }> => {
    let p = probes.get(id);
    if (!p) {
      const client = new BedrockRuntimeClient({ ...SDK_OPTIONS, ...(region ? { region } : {}) });
      p = client
        .send(
          new ConverseCommand({
            modelId: id,
            messages: [{ role: 'user', content: [{ text: 'Reply with: ok' }] }],
            inferenceConfig: { maxTokens: 1 },
          }),
        )
        .then(
          () => 'ok' as const,
          (err: unknown) => ({ err }),
        )
        .finally(() => client.destroy());
      probes.set(id, p);
    }
    return p;
  };
  return Promise.all(
    uses.map(async ({ name, provider }): Promise<StatusItem> => {
      if (!provider)
        return item(name, 'warn', 'provider unknown', 'Set INTAKE_PROVIDER / CODER from the stack outputs.');
      if (provider !== 'bedrock') return item(name, 'ok', `${provider} (not a Bedrock model; not invoked)`);
      if (!modelId)
        return item(name, 'missing', 'BEDROCK_MODEL_ID not set', 'Set it from the stack outputs.');
      const where = `${modelId} in ${region ?? 'the default region'}`;
      const result = await probe(modelId);
      if (result === 'ok') return item(name, 'ok', `${where}: invocable`);
      const problem = modelProblem((result as { err: unknown }).err);
      return item(name, problem.state, `${where}: ${problem.detail}`, problem.hint);
    }),
  );
}
