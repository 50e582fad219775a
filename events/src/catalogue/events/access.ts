import { z } from 'zod';
import { defineEvent } from '../define.js';
import { id, isoTime, keyedHash, label, note, role } from './fields.js';

/*
 * Access to the admin API: passwords, signed-in sessions and machine tokens. No field can
 * hold a usable credential: passwords only as argon2id hashes, refresh tokens and API tokens
 * only as keyed hashes (HMAC-SHA-256 under a server secret).
 */

/**
 * A password hash in the PHC string format of argon2id (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`).
 * Other algorithms are refused, so a plaintext or a fast hash can never be stored.
 */
export const argon2idHash = z
  .string()
  .max(300)
  .regex(
    /^\$argon2id\$v=19\$m=\d{1,7},t=\d{1,3},p=\d{1,3}\$[A-Za-z0-9+/]{11,88}\$[A-Za-z0-9+/]{16,172}$/,
    'must be an argon2id hash in PHC string format',
  );

/** Stream: `org:<orgId>:user:<userId>`. A new password replaces the previous one. */
export const UserPasswordSet = defineEvent({
  type: 'UserPasswordSet',
  version: 1,
  schema: z.strictObject({
    userId: id,
    passwordHash: argon2idHash,
  }),
});

/**
 * Stream: `org:<orgId>:session:<sessionId>`. A user signed in to the admin API. The refresh
 * token is shown to the client once and kept as a keyed hash.
 */
export const SessionStarted = defineEvent({
  type: 'SessionStarted',
  version: 1,
  schema: z.strictObject({
    sessionId: id,
    userId: id,
    method: z.enum(['password', 'sso']),
    refreshTokenHash: keyedHash,
    expiresAt: isoTime,
  }),
});

/** The refresh token was used and replaced by a new one (rotation); the old one is spent. */
export const SessionRefreshed = defineEvent({
  type: 'SessionRefreshed',
  version: 1,
  schema: z.strictObject({
    sessionId: id,
    refreshTokenHash: keyedHash,
  }),
});

/** SessionEnded's reasons up to version 1 (frozen). */
const sessionEndReasonV1 = z.enum(['logout', 'refresh_reuse', 'revoked']);

/**
 * Final. `refresh_reuse`: a spent refresh token was presented again, so it was stolen or
 * replayed; the whole session ends. Version 2 adds the ends a command on the user writes with
 * its own event, in the same append: `password_changed` (the user set a new password),
 * `password_reset` (someone with user.manage set it), `user_disabled` (the user was disabled).
 */
export const SessionEnded = defineEvent({
  type: 'SessionEnded',
  version: 2,
  schema: z.strictObject({
    sessionId: id,
    reason: z.enum([...sessionEndReasonV1.options, 'password_changed', 'password_reset', 'user_disabled']),
  }),
  previous: [
    {
      version: 1,
      schema: z.strictObject({ sessionId: id, reason: sessionEndReasonV1 }),
      upcast: (data: object) => data,
    },
  ],
});

/**
 * Stream: `org:<orgId>:api-token:<apiTokenId>`. A token for machines, acting with `role` in
 * the org. `prefix` is `kat_` and 8 characters of the token: enough to recognise it.
 */
export const ApiTokenIssued = defineEvent({
  type: 'ApiTokenIssued',
  version: 1,
  schema: z.strictObject({
    apiTokenId: id,
    name: label(),
    role,
    prefix: z.string().regex(/^kat_[A-Za-z0-9]{8}$/, 'must be "kat_" and 8 characters'),
    hash: keyedHash,
    /** null: never expires. */
    expiresAt: isoTime.nullable(),
  }),
});

/** Final: a revoked token never works again. */
export const ApiTokenRevoked = defineEvent({
  type: 'ApiTokenRevoked',
  version: 1,
  schema: z.strictObject({
    apiTokenId: id,
    note: note.nullable(),
  }),
});

export const accessEvents = [
  UserPasswordSet,
  SessionStarted,
  SessionRefreshed,
  SessionEnded,
  ApiTokenIssued,
  ApiTokenRevoked,
] as const;
