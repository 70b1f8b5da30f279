import type { EmailLoginDeps } from '../../lib/app/email-login.ts';
import { documentClient } from '../../lib/aws/clients.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { DynamoLoginStore } from '../../lib/aws/login-store.ts';
import { mailerFromEnv } from '../../lib/aws/mailer.ts';
import { sessionSecret } from './secrets.ts';

let deps: EmailLoginDeps | undefined;

/** Email-login adapters (codes, rate limits, run index, mailer), built once per container. */
export function loginDeps(): EmailLoginDeps {
  if (deps) return deps;
  const store = new DynamoLoginStore(documentClient(), loadConfig().tableName);
  deps = {
    logins: store,
    runIndex: store,
    mailer: mailerFromEnv(),
    pepper: sessionSecret,
    now: () => new Date().toISOString(),
  };
  return deps;
}
