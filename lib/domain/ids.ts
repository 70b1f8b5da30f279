import { randomBytes } from 'node:crypto';
import { z } from 'zod';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** 128 random bits, base32 (lowercase, no padding): 26 characters. */
function randomToken(): string {
  const bytes = randomBytes(16);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export const RUN_ID_PATTERN = /^run_[a-z2-7]{26}$/;
export const SESSION_ID_PATTERN = /^ses_[a-z2-7]{26}$/;

export const RunIdSchema = z.string().regex(RUN_ID_PATTERN, 'not a build run id');
export const SessionIdSchema = z.string().regex(SESSION_ID_PATTERN, 'not a session id');

/** Opaque, unguessable, non-sequential run id. */
export const newRunId = (): string => `run_${randomToken()}`;
export const newSessionId = (): string => `ses_${randomToken()}`;
export const newMessageId = (): string => `msg_${randomToken()}`;
export const newTaskRef = (): string => `task_${randomToken()}`;

export const isRunId = (value: string): boolean => RUN_ID_PATTERN.test(value);
