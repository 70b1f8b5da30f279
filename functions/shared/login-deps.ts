import type { ContactDeps } from '../../lib/app/contact.ts';
import type { EmailLoginDeps } from '../../lib/app/email-login.ts';
import { documentClient } from '../../lib/aws/clients.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { DynamoLoginStore } from '../../lib/aws/login-store.ts';
import { mailerFromEnv } from '../../lib/aws/mailer.ts';
import { appDeps } from './deps.ts';
import { sessionSecret } from './secrets.ts';

let deps: EmailLoginDeps | undefined;

/** Email-login adapters (codes, rate limits, run index, mailer), built once per container. */
export function loginDeps(): EmailLoginDeps {
  if (deps) return deps;
  const store = new DynamoLoginStore(documentClient(), loadConfig().tableName);
  deps = {
    logins: store,
    runIndex: store,
    runs: { getRun: (id) => appDeps().store.getRun(id) },
    mailer: mailerFromEnv(),
    pepper: sessionSecret,
    now: () => new Date().toISOString(),
  };
  return deps;
}

/** Contact address adapters: the run store plus the codes, run index and mailer of email login. */
export function contactDeps(): ContactDeps {
  const { logins, runIndex, mailer, pepper } = loginDeps();
  const { store, now } = appDeps();
  return { store, now, logins, runIndex, mailer, pepper };
}
