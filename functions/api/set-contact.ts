import { setContact } from '../../lib/app/contact.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import { ContactBodySchema } from '../../lib/domain/public-schemas.ts';
import { clientAddress, requireCaller } from '../shared/caller.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { contactDeps } from '../shared/login-deps.ts';

/**
 * POST /api/v1/build-runs/{run_id}/contact: the owner sets the run's contact email; a
 * confirmation code is mailed to it (see `confirm-contact.ts`).
 */
export const handler = apiHandler(
  async (event) => {
    const caller = await requireCaller(event);
    const { email } = parse(ContactBodySchema, event.body);
    const run = await setContact(
      contactDeps(),
      caller,
      event.pathParameters?.run_id ?? '',
      email,
      await clientAddress(event),
    );
    return json(200, { run: toPublicRun(run) });
  },
  { body: 'required' },
);
