import { z } from 'zod';
import type { BuildSpec } from './build-spec.ts';
import type { Quote } from './quote.ts';

/** The configurable price table (amounts in minor units). Override with PRICE_TABLE (JSON). */
export const PriceTableSchema = z
  .object({
    currency: z.string().regex(/^[a-z]{3}$/),
    base: z.object({ web: z.number().int(), binary: z.number().int(), both: z.number().int() }).strict(),
    perExtraPlatform: z.number().int().nonnegative(),
    includedPlatforms: z.number().int().positive(),
    mediumComplexitySurcharge: z.number().int().nonnegative(),
    /** A change to a delivered tool (version N+1), before what the change adds. */
    revision: z.number().int().nonnegative().default(1900),
    delivery: z.string(),
  })
  .strict();
export type PriceTable = z.infer<typeof PriceTableSchema>;

export const DEFAULT_PRICE_TABLE: PriceTable = {
  currency: 'eur',
  base: { web: 4900, binary: 5900, both: 7900 },
  perExtraPlatform: 500,
  includedPlatforms: 2,
  mediumComplexitySurcharge: 3000,
  revision: 1900,
  delivery: 'Usually within 15 minutes of approval.',
};

export function parsePriceTable(json: string | undefined): PriceTable {
  if (!json) return DEFAULT_PRICE_TABLE;
  return PriceTableSchema.parse(JSON.parse(json));
}

const TYPE_LABELS = {
  web: 'Web app',
  binary: 'Downloadable program',
  both: 'Web app and downloadable program',
};

export function priceQuote(spec: BuildSpec, table: PriceTable, version: number, now: string): Quote {
  const lineItems = [{ label: TYPE_LABELS[spec.artifactType], amountCents: table.base[spec.artifactType] }];
  const platforms = spec.artifactType === 'web' ? [] : spec.platforms;
  const extra = Math.max(0, platforms.length - table.includedPlatforms);
  if (extra > 0) {
    lineItems.push({
      label: `${extra} additional platform${extra > 1 ? 's' : ''}`,
      amountCents: extra * table.perExtraPlatform,
    });
  }
  if (spec.complexity === 'medium') {
    lineItems.push({ label: 'Additional behaviour', amountCents: table.mediumComplexitySurcharge });
  }
  return {
    version,
    amountCents: lineItems.reduce((sum, item) => sum + item.amountCents, 0),
    currency: table.currency,
    artifactType: spec.artifactType,
    platforms,
    lineItems,
    delivery: table.delivery,
    createdAt: now,
  };
}

export function formatAmount(amountCents: number, currency: string): string {
  return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(
    amountCents / 100,
  );
}

/**
 * The quote of a change to a delivered tool: the revision price plus what the change adds to the
 * version it starts from — a wider artifact type (the difference of the base prices), platforms
 * beyond the base version's, and the complexity surcharge when the change makes it medium.
 */
export function priceRevision(
  spec: BuildSpec,
  base: BuildSpec,
  table: PriceTable,
  opts: { quoteVersion: number; versionNumber: number; now: string },
): Quote {
  const lineItems = [
    { label: `Change to your tool (version ${opts.versionNumber})`, amountCents: table.revision },
  ];
  if (spec.artifactType !== base.artifactType && spec.artifactType === 'both') {
    lineItems.push({
      label: base.artifactType === 'web' ? 'Adds a downloadable program' : 'Adds a web app',
      amountCents: Math.max(0, table.base.both - table.base[base.artifactType]),
    });
  }
  const platforms = spec.artifactType === 'web' ? [] : spec.platforms;
  const had = new Set(base.artifactType === 'web' ? [] : base.platforms);
  const added = platforms.filter((p) => !had.has(p)).length;
  const freeSlots = had.size === 0 ? table.includedPlatforms : 0;
  const charged = Math.max(0, added - freeSlots);
  if (charged > 0) {
    lineItems.push({
      label: `${charged} additional platform${charged > 1 ? 's' : ''}`,
      amountCents: charged * table.perExtraPlatform,
    });
  }
  if (spec.complexity === 'medium' && base.complexity !== 'medium') {
    lineItems.push({ label: 'Additional behaviour', amountCents: table.mediumComplexitySurcharge });
  }
  return {
    version: opts.quoteVersion,
    amountCents: lineItems.reduce((sum, item) => sum + item.amountCents, 0),
    currency: table.currency,
    artifactType: spec.artifactType,
    platforms,
    lineItems,
    delivery: table.delivery,
    createdAt: opts.now,
  };
}
