import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdminError, type AdminErrorCode } from '../errors.js';
import { ROLES, type Role, rightsOf } from '../rbac/permissions.js';
import type { By, Decided, Decider } from './decider.js';
import { invitationDecider } from './invitation.js';
import { SSO_PROVISIONED_ROLE, ssoSettingsDecider, ssoUserDecider } from './sso.js';
import { membershipDecider, TEAM_MEMBER_ROLE, teamDecider } from './team.js';

/** given(events).when(command).thenExpect(events) | thenFails(code): the decider as a pure function. */
function spec<S, C>(decider: Decider<S, C>) {
  return (given: Decided[]) => ({
    when: (command: C) => {
      const run = () => decider.decide(command, given.reduce(decider.evolve, decider.initialState()));
      return {
        thenExpect: (expected: Decided[]) => assert.deepEqual(run(), expected),
        thenFails: (code: AdminErrorCode, message?: RegExp) =>
          assert.throws(run, (error: unknown) => {
            assert.ok(error instanceof AdminError, String(error));
            assert.equal(error.code, code);
            if (message) assert.match(error.message, message);
            return true;
          }),
      };
    },
  });
}

const by = (role: Parameters<typeof rightsOf>[0], userId: string | null = 'usr_me'): By => ({
  rights: rightsOf(role),
  userId,
});
const hash = { algorithm: 'hmac-sha256' as const, keyId: 'adm-1', value: 'a'.repeat(64) };
const hash2 = { ...hash, value: 'b'.repeat(64) };
const NOW = new Date('2026-01-01T00:00:00Z');
const PHC =
  '$argon2id$v=19$m=19456,t=2,p=1$htb6gelKASdEeg/Dft8+xA$7AyFGX5gEn3A6HvgNbU6kybFGXg04c/0Mg/luSuh7Ew';

const joined = (userId: string, role: Role): Decided[] => [
  { type: 'UserJoined', data: { userId, email: `${userId}@x.test`, displayName: userId, method: 'config' } },
  { type: 'RoleGranted', data: { userId, role, teamId: null } },
];

describe('team decider', () => {
  const given = spec(teamDecider);
  const create = (role: Role) => ({
    type: 'CreateTeam' as const,
    teamId: 'tm_1',
    name: 'Research',
    by: by(role),
  });
  it('creates a team with team.manage', () => {
    given([])
      .when(create('admin'))
      .thenExpect([{ type: 'TeamCreated', data: { teamId: 'tm_1', name: 'Research' } }]);
  });
  it('refuses without team.manage, and a second team of the same name', () => {
    given([]).when(create('finance')).thenFails('forbidden');
    given([{ type: 'TeamCreated', data: { teamId: 'tm_1', name: 'Research' } }])
      .when(create('owner'))
      .thenFails('conflict');
  });
});

describe('team membership (on the user stream)', () => {
  const given = spec(membershipDecider);
  const member = (userId: string, teamId: string): Decided => ({
    type: 'RoleGranted',
    data: { userId, role: TEAM_MEMBER_ROLE, teamId },
  });
  it('puts a user in a team as a role within it', () => {
    given(joined('usr_b', 'developer'))
      .when({ type: 'JoinTeam', teamId: 'tm_1', by: by('admin') })
      .thenExpect([member('usr_b', 'tm_1')]);
  });
  it('moves a user from their team to another in one decision; the same team again is nothing', () => {
    given([...joined('usr_b', 'developer'), member('usr_b', 'tm_1')])
      .when({ type: 'JoinTeam', teamId: 'tm_2', by: by('admin') })
      .thenExpect([
        { type: 'RoleRevoked', data: { userId: 'usr_b', role: TEAM_MEMBER_ROLE, teamId: 'tm_1' } },
        member('usr_b', 'tm_2'),
      ]);
    given([...joined('usr_b', 'developer'), member('usr_b', 'tm_1')])
      .when({ type: 'JoinTeam', teamId: 'tm_1', by: by('admin') })
      .thenExpect([]);
  });
  it('takes a member out; a non-member is 404', () => {
    given([...joined('usr_b', 'developer'), member('usr_b', 'tm_1')])
      .when({ type: 'LeaveTeam', teamId: 'tm_1', by: by('owner') })
      .thenExpect([
        { type: 'RoleRevoked', data: { userId: 'usr_b', role: TEAM_MEMBER_ROLE, teamId: 'tm_1' } },
      ]);
    given(joined('usr_b', 'developer'))
      .when({ type: 'LeaveTeam', teamId: 'tm_1', by: by('owner') })
      .thenFails('not_found');
  });
  it('nobody changes their own team, and an admin does not move an owner', () => {
    given([...joined('usr_me', 'admin'), member('usr_me', 'tm_1')])
      .when({ type: 'LeaveTeam', teamId: 'tm_1', by: by('admin', 'usr_me') })
      .thenFails('not_allowed_for_you', /own team/);
    given(joined('usr_o', 'owner'))
      .when({ type: 'JoinTeam', teamId: 'tm_1', by: by('admin') })
      .thenFails('not_allowed_for_you');
    given(joined('usr_o', 'owner'))
      .when({ type: 'JoinTeam', teamId: 'tm_1', by: by('owner') })
      .thenExpect([member('usr_o', 'tm_1')]);
  });
  it('needs team.manage, an existing and enabled user', () => {
    given(joined('usr_b', 'developer'))
      .when({ type: 'JoinTeam', teamId: 'tm_1', by: by('auditor') })
      .thenFails('forbidden');
    given([])
      .when({ type: 'JoinTeam', teamId: 'tm_1', by: by('admin') })
      .thenFails('not_found');
    given([...joined('usr_b', 'developer'), { type: 'UserDisabled', data: { userId: 'usr_b', note: null } }])
      .when({ type: 'JoinTeam', teamId: 'tm_1', by: by('admin') })
      .thenFails('invalid_state');
  });
});

describe('invitation decider', () => {
  const given = spec(invitationDecider);
  const invite = (role: Role, inviter: Role, teamId: string | null = null) => ({
    type: 'InviteUser' as const,
    userId: 'usr_new',
    email: 'new@x.test',
    role,
    teamId,
    tokenHash: hash,
    expiresAt: '2026-01-08T00:00:00.000Z',
    by: by(inviter),
  });
  const invited: Decided = {
    type: 'UserInvited',
    data: {
      userId: 'usr_new',
      email: 'new@x.test',
      role: 'admin',
      teamId: 'tm_1',
      tokenHash: hash,
      expiresAt: '2026-01-08T00:00:00.000Z',
    },
  };
  const accept = (presented: string, now = NOW) => ({
    type: 'AcceptInvitation' as const,
    userId: 'usr_new',
    presented,
    displayName: 'New',
    passwordHash: PHC,
    now,
  });

  it('records the invitation with the token as a keyed hash', () => {
    given([])
      .when(invite('developer', 'admin'))
      .thenExpect([
        {
          type: 'UserInvited',
          data: {
            userId: 'usr_new',
            email: 'new@x.test',
            role: 'developer',
            teamId: null,
            tokenHash: hash,
            expiresAt: '2026-01-08T00:00:00.000Z',
          },
        },
      ]);
  });
  it('never invites with a role holding rights the inviter lacks (every pair of roles)', () => {
    for (const inviter of ROLES) {
      for (const role of ROLES) {
        const run = () => invitationDecider.decide(invite(role, inviter), invitationDecider.initialState());
        const rights = rightsOf(inviter);
        if (!rights.has('user.manage')) assert.throws(run, { code: 'forbidden' }, `${inviter} ${role}`);
        else if ([...rightsOf(role)].every((action) => rights.has(action))) assert.doesNotThrow(run);
        else assert.throws(run, { code: 'not_allowed_for_you' }, `${inviter} ${role}`);
      }
    }
  });
  it('inviting into a team needs team.manage; a user who joined already is 409', () => {
    const userManagerOnly = {
      ...invite('developer', 'admin', 'tm_1'),
      // Enough to invite a developer, but not to manage teams.
      by: { rights: new Set([...rightsOf('developer'), 'user.manage' as const]), userId: 'usr_me' },
    };
    given([])
      .when(userManagerOnly)
      .thenFails('forbidden', /team\.manage/);
    given([])
      .when(invite('developer', 'admin', 'tm_1'))
      .thenExpect([
        {
          type: 'UserInvited',
          data: {
            userId: 'usr_new',
            email: 'new@x.test',
            role: 'developer',
            teamId: 'tm_1',
            tokenHash: hash,
            expiresAt: '2026-01-08T00:00:00.000Z',
          },
        },
      ]);
    given(joined('usr_new', 'developer')).when(invite('developer', 'owner')).thenFails('conflict');
  });
  it('accepting joins with the invited role, the team and the password, at once', () => {
    given([invited])
      .when(accept(hash.value))
      .thenExpect([
        {
          type: 'UserJoined',
          data: { userId: 'usr_new', email: 'new@x.test', displayName: 'New', method: 'invitation' },
        },
        { type: 'RoleGranted', data: { userId: 'usr_new', role: 'admin', teamId: null } },
        { type: 'RoleGranted', data: { userId: 'usr_new', role: TEAM_MEMBER_ROLE, teamId: 'tm_1' } },
        { type: 'UserPasswordSet', data: { userId: 'usr_new', passwordHash: PHC } },
      ]);
  });
  it('refuses a used, replaced, wrong or expired token alike', () => {
    const used = invitationDecider.decide(
      accept(hash.value),
      [invited].reduce(invitationDecider.evolve, invitationDecider.initialState()),
    );
    given([invited, ...used])
      .when(accept(hash.value))
      .thenFails('unauthenticated', /not valid/);
    const replaced: Decided = { type: 'UserInvited', data: { ...invited.data, tokenHash: hash2 } as never };
    given([invited, replaced]).when(accept(hash.value)).thenFails('unauthenticated');
    given([invited])
      .when(accept('c'.repeat(64)))
      .thenFails('unauthenticated');
    given([invited])
      .when(accept(hash.value, new Date('2026-01-08T00:00:00.000Z')))
      .thenFails('unauthenticated');
    given([]).when(accept(hash.value)).thenFails('unauthenticated');
  });
});

describe('single sign-on deciders', () => {
  const settings = {
    issuer: 'https://login.x.test',
    clientId: 'kordon',
    clientSecret: {
      algorithm: 'aes-256-gcm' as const,
      keyId: 'k1',
      wrappedDataKey: Buffer.alloc(61, 9).toString('base64'),
      iv: Buffer.alloc(12, 1).toString('base64'),
      ciphertext: Buffer.alloc(20, 2).toString('base64'),
      authTag: Buffer.alloc(16, 3).toString('base64'),
    },
    allowedDomains: ['x.test'],
    autoProvision: true,
  };
  const org: Decided = { type: 'OrgCreated', data: { orgId: 'org_1', slug: 'x', name: 'X' } };
  it('only owners set the OIDC settings', () => {
    for (const role of ROLES) {
      const run = (): Decided[] =>
        ssoSettingsDecider.decide(
          { type: 'ConfigureOidc', settings, by: by(role) },
          ssoSettingsDecider.evolve(ssoSettingsDecider.initialState(), org),
        );
      if (role === 'owner') assert.deepEqual(run(), [{ type: 'OidcConfigured', data: settings }]);
      else assert.throws(run, { code: 'forbidden' }, role);
    }
    spec(ssoSettingsDecider)([])
      .when({ type: 'ConfigureOidc', settings, by: by('bootstrap') })
      .thenFails('not_found');
  });
  it('provisions a first-time person as a developer, never more, and only once', () => {
    assert.equal(SSO_PROVISIONED_ROLE, 'developer');
    const command = {
      type: 'ProvisionSsoUser' as const,
      userId: 'usr_s',
      email: 's@x.test',
      displayName: 'S',
    };
    spec(ssoUserDecider)([])
      .when(command)
      .thenExpect([
        { type: 'UserJoined', data: { userId: 'usr_s', email: 's@x.test', displayName: 'S', method: 'sso' } },
        { type: 'RoleGranted', data: { userId: 'usr_s', role: 'developer', teamId: null } },
      ]);
    spec(ssoUserDecider)(joined('usr_s', 'developer')).when(command).thenFails('conflict');
  });
});
