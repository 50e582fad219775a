import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { z } from 'zod';

/*
 * Passwords: argon2id with the OWASP parameters (19 MiB, 2 passes, 1 lane). Only the PHC
 * string is kept (UserPasswordSet); the password itself is never stored, logged or sent on.
 */

// `Algorithm` is a const enum in the binding's types; with isolated modules its value is spelt out.
const ARGON2ID = 2 as Algorithm;
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/** False for a wrong password and for a malformed hash (never throws on bad input). */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/**
 * Verifies against a hash of a random password, so an unknown e-mail costs as long as a
 * wrong password and timing does not tell which accounts exist.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummy ??= hash(crypto.randomUUID(), OPTIONS);
  await verifyPassword(await dummy, password);
}

const COMMON = new Set([
  'password1234',
  'passwordpassword',
  '123456789012',
  'qwertyuiopas',
  'changemechangeme',
  'letmeinletmein',
  'administrator',
  'correcthorsebatterystaple',
]);

/** What a new password must be: long enough, not trivially guessable. Checked before hashing. */
export const newPassword = z
  .string()
  .min(12, 'must have at least 12 characters')
  .max(256, 'must have at most 256 characters')
  .refine((value) => new Set(value).size >= 5, 'must use at least 5 different characters')
  .refine((value) => !COMMON.has(value.toLowerCase().replace(/\s+/g, '')), 'is a well-known password');
