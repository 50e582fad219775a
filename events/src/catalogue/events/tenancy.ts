import { z } from 'zod';
import { defineEvent } from '../define.js';
import { email, id, isoTime, keyedHash, label, note, role, slug } from './fields.js';

/*
 * Tenancy. The org is the tenant: the envelope's orgId and the stream id carry it, so data
 * names only its subject. Team membership is a role granted within a team (`teamId` set);
 * `teamId: null` means the role holds in the whole org.
 */

/** Stream: `org:<orgId>`. The id is random (unguessable); the slug is the readable handle. */
export const OrgCreated = defineEvent({
  type: 'OrgCreated',
  version: 1,
  schema: z.strictObject({
    orgId: id,
    slug,
    name: label(),
  }),
});

/** Stream: `org:<orgId>:team:<teamId>`. */
export const TeamCreated = defineEvent({
  type: 'TeamCreated',
  version: 1,
  schema: z.strictObject({
    teamId: id,
    name: label(),
  }),
});

/**
 * Stream: `org:<orgId>:user:<userId>`. The invitation link's token is kept as a keyed hash
 * only; `role` and `teamId` are granted (RoleGranted) when the user joins.
 */
export const UserInvited = defineEvent({
  type: 'UserInvited',
  version: 1,
  schema: z.strictObject({
    userId: id,
    email,
    role,
    teamId: id.nullable(),
    tokenHash: keyedHash,
    expiresAt: isoTime,
  }),
});

/** Stream: `org:<orgId>:user:<userId>`. `bootstrap` is the first owner made at install. */
export const UserJoined = defineEvent({
  type: 'UserJoined',
  version: 1,
  schema: z.strictObject({
    userId: id,
    email,
    displayName: label(),
    method: z.enum(['invitation', 'sso', 'bootstrap', 'config']),
  }),
});

/**
 * The role a team membership is granted with (RoleGranted with a `teamId`): a member. A user
 * is in at most one team (a proxy key carries one); roles within a team grant no rights.
 */
export const TEAM_MEMBER_ROLE = 'developer' as const satisfies z.infer<typeof role>;

/** Stream: `org:<orgId>:user:<userId>`. */
export const RoleGranted = defineEvent({
  type: 'RoleGranted',
  version: 1,
  schema: z.strictObject({
    userId: id,
    role,
    teamId: id.nullable(),
  }),
});

/** Stream: `org:<orgId>:user:<userId>`. */
export const RoleRevoked = defineEvent({
  type: 'RoleRevoked',
  version: 1,
  schema: z.strictObject({
    userId: id,
    role,
    teamId: id.nullable(),
  }),
});

/** Stream: `org:<orgId>:user:<userId>`. The user's proxy keys stop working with them. */
export const UserDisabled = defineEvent({
  type: 'UserDisabled',
  version: 1,
  schema: z.strictObject({
    userId: id,
    note: note.nullable(),
  }),
});

export const tenancyEvents = [
  OrgCreated,
  TeamCreated,
  UserInvited,
  UserJoined,
  RoleGranted,
  RoleRevoked,
  UserDisabled,
] as const;
