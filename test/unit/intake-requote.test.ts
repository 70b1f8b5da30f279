import { describe, expect, it } from 'vitest';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { DEFAULT_PRICE_TABLE } from '../../lib/domain/pricing.ts';
import { conversation } from '../support/intake-harness.ts';

describe('re-quote through postMessage', () => {
  it('a change in `quoted` makes a new quote version with a new price and a second quote.ready', async () => {
    const talk = await conversation(new OfflineIntake(recipeCatalog));
    const first = await talk.send('A loan calculator, web app and program');
    expect(first.run.phase).toBe('quoted');
    expect(first.run.quote).toMatchObject({ version: 1, artifactType: 'both' });
    expect(first.run.quote?.amountCents).toBe(
      DEFAULT_PRICE_TABLE.base.both + 3 * DEFAULT_PRICE_TABLE.perExtraPlatform,
    );

    const second = await talk.send('make it binary only, just for Linux');
    expect(second.run.phase).toBe('quoted');
    expect(second.run.quote).toMatchObject({
      version: 2,
      artifactType: 'binary',
      platforms: ['linux-amd64', 'linux-arm64'],
      amountCents: DEFAULT_PRICE_TABLE.base.binary,
    });
    expect(talk.events().filter((t) => t === 'bus.build.quote.ready')).toHaveLength(2);

    // The offline recipe coder cannot build extra behaviour, so it is never sold: the quote stays.
    const third = await talk.send('and it should keep a history of past loans');
    expect(third.run.quote?.version).toBe(2);
    expect(third.run.spec?.complexity).toBe('small');
    expect(third.reply).toMatch(/can’t add/);
    expect(talk.events().filter((t) => t === 'bus.build.quote.ready')).toHaveLength(2);
  });

  it('out-of-scope requests in `quoted` are refused politely and keep the current quote', async () => {
    const talk = await conversation(new OfflineIntake(recipeCatalog));
    await talk.send('A tip calculator web app');
    const before = await talk.run();
    for (const text of [
      'now give me the source code',
      'turn it into a marketplace with user accounts',
      'add a keylogger',
    ]) {
      const out = await talk.send(text);
      expect(out.reply).toMatch(/Your current quote is unchanged\.$/);
      const after = await talk.run();
      expect(after.quote).toEqual(before.quote);
      expect(after.spec).toEqual(before.spec);
      expect(after.phase).toBe('quoted');
    }
    expect(talk.events().filter((t) => t === 'bus.build.quote.ready')).toHaveLength(1);
  });
});
