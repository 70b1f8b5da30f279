import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModelConfig, loadModelConfig, secretReader } from '../../lib/ai/config.ts';
import { OpenAIModelClient } from '../../lib/ai/openai.ts';

let url = '';
const seen: (string | undefined)[] = [];
const server = createServer((req, res) => {
  seen.push(req.headers.authorization);
  req.resume().on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        choices: [{ message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      }),
    );
  });
});
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => server.close());

describe('OpenAI-compatible API key from Secrets Manager', () => {
  it('reads the key once from the secret and sends it as a bearer token', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).resolves({ SecretString: ' sk-from-secret \n' });
    const client = new OpenAIModelClient({
      baseUrl: url,
      model: 'm',
      apiKey: secretReader('arn:aws:secretsmanager:x:1:secret:k', new SecretsManagerClient({})),
    });
    await client.converse({ system: 's', messages: [{ role: 'user', content: 'hi' }] });
    await client.converse({ system: 's', messages: [{ role: 'user', content: 'hi' }] });
    expect(seen.slice(-2)).toEqual(['Bearer sk-from-secret', 'Bearer sk-from-secret']);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    sm.restore();
  });

  it('loads OPENAI_API_KEY_ARN and never prints the key', () => {
    const config = loadModelConfig(
      { OPENAI_BASE_URL: url, OPENAI_MODEL: 'm', OPENAI_API_KEY_ARN: 'arn:aws:secretsmanager:x:1:secret:k' },
      'openai',
    );
    expect(config).toMatchObject({ apiKeyArn: 'arn:aws:secretsmanager:x:1:secret:k' });
    expect(describeModelConfig(config)).toContain('in Secrets Manager');
  });
});
