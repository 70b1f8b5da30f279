import { setContact } from '../../lib/app/contact.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import { ContactBodySchema } from '../../lib/domain/public-schemas.ts';
import { requireCaller } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { loginDeps } from '../shared/login-deps.ts';

/** POST /api/v1/build-runs/{run_id}/contact: the owner sets the run's contact email. */
export const handler = apiHandler(
  async (event) => {
    const caller = await requireCaller(event);
    const { email } = parse(ContactBodySchema, event.body);
    const { store, now } = appDeps();
    const run = await setContact(
      { store, now, runIndex: loginDeps().runIndex },
      caller,
      event.pathParameters?.run_id ?? '',
      email,
    );
    return json(200, { run: toPublicRun(run) });
  },
  { body: 'required' },
);
