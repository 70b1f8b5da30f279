import { describe, expect, it } from 'vitest';
import {
  ContactRequiredError,
  EmailSchema,
  emailKey,
  isValidEmail,
  normaliseEmail,
} from '../../lib/domain/email.ts';

describe('email normalisation and validation', () => {
  it('trims and lower-cases', () => {
    expect(normaliseEmail('  Ada.Lovelace@Example.ORG \n')).toBe('ada.lovelace@example.org');
    expect(EmailSchema.parse(' Ada+Builds@Example.org ')).toBe('ada+builds@example.org');
  });

  it.each(['ada@example.org', 'a.b-c+tag@sub.example.co.uk', 'x@example.io'])('accepts %s', (email) => {
    expect(isValidEmail(email)).toBe(true);
  });

  it.each([
    '',
    'ada',
    '@example.org',
    'ada@',
    'ada@example',
    'ada@@example.org',
    'ada lovelace@example.org',
    'Ada <ada@example.org>',
    'ada@example.org, bob@example.org',
    'ada@example.org\nbcc:eve@example.org',
    `${'a'.repeat(65)}@example.org`,
    `ada@${'a'.repeat(250)}.org`,
  ])('rejects %j', (email) => {
    expect(isValidEmail(normaliseEmail(email))).toBe(false);
    expect(EmailSchema.safeParse(email).success).toBe(false);
  });

  it('keys an address by the SHA-256 of its normalised form, never spelling it out', () => {
    const k = emailKey('Ada@Example.org');
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(k).toBe(emailKey(' ada@example.ORG '));
    expect(k).not.toBe(emailKey('bob@example.org'));
    expect(k).not.toContain('ada');
  });

  it('contact_required is a 409', () => {
    const e = new ContactRequiredError();
    expect([e.code, e.status]).toEqual(['contact_required', 409]);
  });
});
