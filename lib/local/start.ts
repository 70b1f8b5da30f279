/**
 * `npm start`: the whole product on this machine, no AWS account. See .env.example for the
 * variables it reads (a `.env` file in the working directory is loaded; the real environment
 * wins). Data lives under DATA_DIR (default `.data/`) and survives restarts.
 */
import { existsSync } from 'node:fs';
import { log } from '../log.ts';
import { PortInUseError } from './listen.ts';
import { DataDirInUseError, type LocalStack, stackOptionsFromEnv, startLocalStack } from './stack.ts';

async function main(): Promise<void> {
  let stack: LocalStack;
  try {
    if (existsSync('.env')) process.loadEnvFile('.env');
    const options = stackOptionsFromEnv();
    stack = await startLocalStack(options);
  } catch (err) {
    const known = err instanceof PortInUseError || err instanceof DataDirInUseError;
    process.stderr.write(`\nCould not start the local stack: ${(err as Error).message}\n\n`);
    if (!known) log.error('local stack failed to start', { error: err });
    process.exit(1);
  }

  process.stdout.write(
    [
      '',
      'BusDK Artifact Builder: local stack is running',
      `  Portal / API  ${stack.url}/`,
      `  OpenAPI       ${stack.url}/api/v1/openapi.json`,
      `  DynamoDB      ${stack.dynamoUrl}  (dynalite, table ${stack.tableName})`,
      `  S3            ${stack.s3Url}  (s3rver)`,
      `  Step Functions ${stack.sfnUrl}  (${stack.stateMachineArn})`,
      `  Previews      ${stack.previewUrl}  (separate origin)`,
      `  Data dir      ${stack.dataDir}`,
      'Press Ctrl-C to stop; data is kept across restarts.',
      '',
      '',
    ].join('\n'),
  );
  // Machine-readable line for scripts and the integration-test harness.
  log.info('local stack ready', {
    url: stack.url,
    dynamoUrl: stack.dynamoUrl,
    s3Url: stack.s3Url,
    sfnUrl: stack.sfnUrl,
    previewUrl: stack.previewUrl,
    dataDir: stack.dataDir,
    pid: process.pid,
  });

  let shuttingDown = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      process.stderr.write(`${signal} again: exiting without a clean shutdown\n`);
      process.exit(1);
    }
    shuttingDown = true;
    log.info('local stack stopping', { signal });
    stack
      .stop()
      .then(() => {
        log.info('local stack stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error('local stack did not stop cleanly', { error: err });
        process.exit(1);
      });
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

await main();
