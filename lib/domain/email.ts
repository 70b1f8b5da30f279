import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DomainError } from './errors.ts';

/** RFC 5321 limits: 254 characters in all, 64 before the `@`. */
export const MAX_EMAIL_LENGTH = 254;
const MAX_LOCAL_LENGTH = 64;

/**
 * Normalises a contact address: trims surrounding whitespace and lower-cases the whole address.
 * Lower-casing the local part is a deliberate simplification (virtually every mail provider
 * treats it case-insensitively): one person gets one identity for login and run lookup.
 */
export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

/** True when the (normalised) address is a plain `local@domain.tld` address we can mail. */
export function isValidEmail(email: string): boolean {
  if (email.length === 0 || email.length > MAX_EMAIL_LENGTH) return false;
  const at = email.lastIndexOf('@');
  if (at <= 0 || at > MAX_LOCAL_LENGTH) return false;
  if (/[\s<>()[\]\\,;:"]/.test(email)) return false;
  return z.email().safeParse(email).success;
}

/**
 * The zod schema for an email field in a request body: normalises first, then validates, so
 * `" Ada@Example.ORG "` is accepted as `ada@example.org`.
 */
export const EmailSchema = z
  .string()
  .max(MAX_EMAIL_LENGTH + 64, 'email is too long')
  .transform(normaliseEmail)
  .refine(isValidEmail, 'email must be a valid address such as name@example.com');

/**
 * The key under which an address is stored in item keys (`EMAIL#…`, `OTP#…`, rate limits):
 * SHA-256 of the normalised address, so no key in the table spells an address out.
 */
export function emailKey(email: string): string {
  return createHash('sha256').update(normaliseEmail(email)).digest('hex');
}

/** An authorized run always has a contact address: approval and checkout refuse a run without one. */
export class ContactRequiredError extends DomainError {
  constructor() {
    super('contact_required', 'Add a contact email to this build run before it can be approved.', 409);
  }
}

/** Whether the run's contact address was confirmed by its owner (a code, or an email sign-in). */
export function hasConfirmedContact(run: { owner: { email?: string; emailVerified: boolean } }): boolean {
  return Boolean(run.owner.email) && run.owner.emailVerified;
}

/** The contact address is set but its owner has not confirmed it yet (the code we mailed). */
export class ContactUnconfirmedError extends DomainError {
  constructor() {
    super(
      'contact_unconfirmed',
      'Confirm your email address with the code we sent you before the build can be approved.',
      409,
    );
  }
}

/** Refuses a run whose contact is missing or not confirmed (approval and card checkout). */
export function assertConfirmedContact(run: { owner: { email?: string; emailVerified: boolean } }): void {
  if (!run.owner.email) throw new ContactRequiredError();
  if (!run.owner.emailVerified) throw new ContactUnconfirmedError();
}
