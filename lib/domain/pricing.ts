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
