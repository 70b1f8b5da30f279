import { confirmContact } from '../../lib/app/contact.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import { ConfirmContactBodySchema } from '../../lib/domain/public-schemas.ts';
import { requireCaller } from '../shared/caller.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { contactDeps } from '../shared/login-deps.ts';

/** POST /api/v1/build-runs/{run_id}/contact/confirm: the owner enters the code mailed to the contact. */
export const handler = apiHandler(
  async (event) => {
    const caller = await requireCaller(event);
    const { code } = parse(ConfirmContactBodySchema, event.body);
    const run = await confirmContact(contactDeps(), caller, event.pathParameters?.run_id ?? '', code);
    return json(200, { run: toPublicRun(run) });
  },
  { body: 'required' },
);
