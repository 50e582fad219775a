import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdminError, type AdminErrorCode } from '../errors.js';
import { rightsOf } from '../rbac/permissions.js';
import { apiTokenDecider } from './api-token.js';
import type { By, Decided, Decider } from './decider.js';
import { orgDecider } from './org.js';
import { policyDecider } from './policy.js';
import { providerKeyDecider } from './provider-key.js';
import { proxyKeyDecider } from './proxy-key.js';
import { sessionDecider } from './session.js';
import { userDecider } from './user.js';

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

describe('org decider', () => {
  const given = spec(orgDecider);
  const create = { type: 'CreateOrg' as const, orgId: 'org_1', slug: 'acme', name: 'Acme' };
  it('creates an org', () => {
    given([])
      .when(create)
      .thenExpect([{ type: 'OrgCreated', data: { orgId: 'org_1', slug: 'acme', name: 'Acme' } }]);
  });
  it('refuses a second org on the same stream (same slug)', () => {
    given([{ type: 'OrgCreated', data: { orgId: 'org_1', slug: 'acme', name: 'Acme' } }])
      .when(create)
      .thenFails('conflict');
  });
});

describe('user decider', () => {
  const given = spec(userDecider);
  const joined = (userId: string, role: 'owner' | 'admin' | 'developer'): Decided[] => [
    {
      type: 'UserJoined',
      data: { userId, email: `${userId}@x.test`, displayName: userId, method: 'invitation' },
    },
    { type: 'RoleGranted', data: { userId, role, teamId: null } },
  ];
  const add = (role: 'owner' | 'admin' | 'developer', actor: By) => ({
    type: 'AddUser' as const,
    userId: 'usr_bob',
    email: 'bob@x.test',
    displayName: 'bob',
    role,
    passwordHash: null,
    method: 'invitation' as const,
    by: actor,
  });

  it('adds a user with a role', () => {
    given([])
      .when(add('developer', by('admin')))
      .thenExpect([
        {
          type: 'UserJoined',
          data: { userId: 'usr_bob', email: 'bob@x.test', displayName: 'bob', method: 'invitation' },
        },
        { type: 'RoleGranted', data: { userId: 'usr_bob', role: 'developer', teamId: null } },
      ]);
  });
  it('stores the password only as the hash it is given', () => {
    const phc =
      '$argon2id$v=19$m=19456,t=2,p=1$abcdefghijklmnopqrstuv$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq';
    const events = userDecider.decide(
      { ...add('developer', by('owner')), passwordHash: phc },
      userDecider.initialState(),
    );
    assert.deepEqual(events.at(-1), {
      type: 'UserPasswordSet',
      data: { userId: 'usr_bob', passwordHash: phc },
    });
  });
  it('an admin cannot add an owner; a finance user cannot add anyone', () => {
    given([])
      .when(add('owner', by('admin')))
      .thenFails('not_allowed_for_you', /owner/);
    given([])
      .when(add('developer', by('finance')))
      .thenFails('forbidden');
  });
  it('refuses a user that exists', () => {
    given(joined('usr_bob', 'developer'))
      .when(add('developer', by('owner')))
      .thenFails('conflict');
  });
  it('changes a role: revokes the old one, grants the new one', () => {
    given(joined('usr_bob', 'developer'))
      .when({ type: 'ChangeRole', role: 'admin', by: by('owner'), otherOwners: 1 })
      .thenExpect([
        { type: 'RoleRevoked', data: { userId: 'usr_bob', role: 'developer', teamId: null } },
        { type: 'RoleGranted', data: { userId: 'usr_bob', role: 'admin', teamId: null } },
      ]);
  });
  it('nobody changes their own role, not even an owner', () => {
    given(joined('usr_me', 'owner'))
      .when({ type: 'ChangeRole', role: 'developer', by: by('owner', 'usr_me'), otherOwners: 1 })
      .thenFails('not_allowed_for_you', /yourself/);
  });
  it('an admin can neither promote to owner nor touch an owner', () => {
    given(joined('usr_bob', 'developer'))
      .when({ type: 'ChangeRole', role: 'owner', by: by('admin'), otherOwners: 1 })
      .thenFails('not_allowed_for_you');
    given(joined('usr_bob', 'owner'))
      .when({ type: 'ChangeRole', role: 'developer', by: by('admin'), otherOwners: 1 })
      .thenFails('not_allowed_for_you');
    given(joined('usr_bob', 'owner'))
      .when({ type: 'DisableUser', note: null, by: by('admin'), otherOwners: 1, sessions: [] })
      .thenFails('not_allowed_for_you');
  });
  describe('passwords', () => {
    const PHC =
      '$argon2id$v=19$m=19456,t=2,p=1$abcdefghijklmnopqrstuv$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq';
    const withPassword = (userId: string, role: 'owner' | 'admin' | 'developer'): Decided[] => [
      ...joined(userId, role),
      { type: 'UserPasswordSet', data: { userId, passwordHash: PHC } },
    ];
    const set: Decided = { type: 'UserPasswordSet', data: { userId: 'usr_bob', passwordHash: PHC } };

    it('a person changes their own, whatever their role', () => {
      given(withPassword('usr_bob', 'developer'))
        .when({ type: 'ChangePassword', passwordHash: PHC, by: by('developer', 'usr_bob'), sessions: [] })
        .thenExpect([set]);
    });
    it('a new password ends each live session with its own SessionEnded, on its stream', () => {
      const sessions = ['ses_1', 'ses_2'].map((sessionId) => ({
        sessionId,
        streamId: `org:org_1:session:${sessionId}`,
      }));
      const ended = (reason: 'password_changed' | 'password_reset'): Decided[] =>
        sessions.map(({ sessionId, streamId }) => ({
          type: 'SessionEnded',
          data: { sessionId, reason },
          streamId,
        }));
      given(withPassword('usr_bob', 'developer'))
        .when({ type: 'ChangePassword', passwordHash: PHC, by: by('developer', 'usr_bob'), sessions })
        .thenExpect([set, ...ended('password_changed')]);
      given(withPassword('usr_bob', 'developer'))
        .when({ type: 'ResetPassword', passwordHash: PHC, by: by('admin'), sessions, singleSignOn: true })
        .thenExpect([set, ...ended('password_reset')]);
    });
    it("nobody changes someone else's through ChangePassword, not even an owner or a token", () => {
      given(withPassword('usr_bob', 'developer'))
        .when({ type: 'ChangePassword', passwordHash: PHC, by: by('owner'), sessions: [] })
        .thenFails('forbidden');
      given(withPassword('usr_bob', 'developer'))
        .when({ type: 'ChangePassword', passwordHash: PHC, by: by('owner', null), sessions: [] })
        .thenFails('forbidden');
    });
    it('a reset follows the rule of role changes', () => {
      given(withPassword('usr_bob', 'developer'))
        .when({ type: 'ResetPassword', passwordHash: PHC, by: by('admin'), sessions: [], singleSignOn: true })
        .thenExpect([set]);
      given(withPassword('usr_bob', 'owner'))
        .when({ type: 'ResetPassword', passwordHash: PHC, by: by('admin'), sessions: [], singleSignOn: true })
        .thenFails('not_allowed_for_you');
      given(withPassword('usr_bob', 'owner'))
        .when({ type: 'ResetPassword', passwordHash: PHC, by: by('owner'), sessions: [], singleSignOn: true })
        .thenExpect([set]);
      given(withPassword('usr_bob', 'developer'))
        .when({
          type: 'ResetPassword',
          passwordHash: PHC,
          by: by('finance'),
          sessions: [],
          singleSignOn: true,
        })
        .thenFails('forbidden');
    });
    it('nobody resets their own (a change asks for the current one)', () => {
      given(withPassword('usr_me', 'owner'))
        .when({
          type: 'ResetPassword',
          passwordHash: PHC,
          by: by('owner', 'usr_me'),
          sessions: [],
          singleSignOn: true,
        })
        .thenFails('not_allowed_for_you', /yourself/);
    });
    it('refuses a user without a password (single sign-on only), a disabled one and no one', () => {
      for (const command of [
        {
          type: 'ResetPassword' as const,
          passwordHash: PHC,
          by: by('owner'),
          sessions: [],
          singleSignOn: true,
        },
        { type: 'ChangePassword' as const, passwordHash: PHC, by: by('developer', 'usr_bob'), sessions: [] },
      ]) {
        given(joined('usr_bob', 'developer'))
          .when(command)
          .thenFails('invalid_state', /single sign-on/);
        given([
          ...withPassword('usr_bob', 'developer'),
          { type: 'UserDisabled', data: { userId: 'usr_bob', note: null } },
        ])
          .when(command)
          .thenFails('invalid_state', /disabled/);
        given([]).when(command).thenFails('not_found');
      }
    });
    it('sets a first password on a user without one in an org without single sign-on', () => {
      const reset = { type: 'ResetPassword' as const, passwordHash: PHC, by: by('admin'), sessions: [] };
      given(joined('usr_bob', 'developer'))
        .when({ ...reset, singleSignOn: false })
        .thenExpect([set]);
      given(joined('usr_bob', 'owner'))
        .when({ ...reset, singleSignOn: false })
        .thenFails('not_allowed_for_you');
      given([
        ...joined('usr_bob', 'developer'),
        { type: 'UserDisabled', data: { userId: 'usr_bob', note: null } },
      ])
        .when({ ...reset, singleSignOn: false })
        .thenFails('invalid_state', /disabled/);
    });
  });
  it('disables once; disabling again decides nothing', () => {
    const disabled: Decided = { type: 'UserDisabled', data: { userId: 'usr_bob', note: null } };
    given(joined('usr_bob', 'developer'))
      .when({ type: 'DisableUser', note: null, by: by('admin'), otherOwners: 1, sessions: [] })
      .thenExpect([disabled]);
    given([...joined('usr_bob', 'developer'), disabled])
      .when({ type: 'DisableUser', note: null, by: by('admin'), otherOwners: 1, sessions: [] })
      .thenExpect([]);
  });
  it('disabling ends each live session with its own SessionEnded', () => {
    const sessions = [{ sessionId: 'ses_1', streamId: 'org:org_1:session:ses_1' }];
    given(joined('usr_bob', 'developer'))
      .when({ type: 'DisableUser', note: null, by: by('admin'), otherOwners: 1, sessions })
      .thenExpect([
        { type: 'UserDisabled', data: { userId: 'usr_bob', note: null } },
        {
          type: 'SessionEnded',
          data: { sessionId: 'ses_1', reason: 'user_disabled' },
          streamId: 'org:org_1:session:ses_1',
        },
      ]);
  });
  it('an unknown user is not found', () => {
    given([])
      .when({ type: 'ChangeRole', role: 'admin', by: by('owner'), otherOwners: 1 })
      .thenFails('not_found');
  });
});

describe('policy decider', () => {
  const given = spec(policyDecider);
  const userWith = (role: 'owner' | 'admin' | 'developer'): Decided[] => [
    {
      type: 'UserJoined',
      data: { userId: 'usr_bob', email: 'bob@x.test', displayName: 'bob', method: 'invitation' },
    },
    { type: 'RoleGranted', data: { userId: 'usr_bob', role, teamId: null } },
  ];
  const limits = { ipAllow: ['192.0.2.1/32'] };
  const setOnBob = (actor: By) => ({
    type: 'SetPolicy' as const,
    policy: { scope: 'user' as const, scopeId: 'usr_bob', limits },
    by: actor,
  });
  it("sets a user's limits", () => {
    given(userWith('developer'))
      .when(setOnBob(by('admin')))
      .thenExpect([{ type: 'PolicySet', data: { scope: 'user', scopeId: 'usr_bob', limits } }]);
  });
  it('an admin cannot set the limits of an owner; an owner can', () => {
    given(userWith('owner'))
      .when(setOnBob(by('admin')))
      .thenFails('not_allowed_for_you', /limits/);
    given(userWith('owner'))
      .when(setOnBob(by('owner')))
      .thenExpect([{ type: 'PolicySet', data: { scope: 'user', scopeId: 'usr_bob', limits } }]);
  });
  it('an owner made admin again is an admin to limit', () => {
    given([
      ...userWith('owner'),
      { type: 'RoleRevoked', data: { userId: 'usr_bob', role: 'owner', teamId: null } },
      { type: 'RoleGranted', data: { userId: 'usr_bob', role: 'admin', teamId: null } },
    ])
      .when(setOnBob(by('admin')))
      .thenExpect([{ type: 'PolicySet', data: { scope: 'user', scopeId: 'usr_bob', limits } }]);
  });
});

describe('proxy key decider', () => {
  const given = spec(proxyKeyDecider);
  const issue = (
    over: Partial<Extract<Parameters<typeof proxyKeyDecider.decide>[0], { type: 'IssueProxyKey' }>> = {},
  ) => ({
    type: 'IssueProxyKey' as const,
    proxyKeyId: 'pxk_1',
    userId: 'usr_bob',
    name: 'laptop',
    prefix: 'kdn_abcd1234',
    hash,
    expiresAt: undefined,
    limits: undefined,
    ceiling: { limits: undefined, expiresAt: null },
    now: NOW,
    ...over,
  });
  const issued: Decided = {
    type: 'ProxyKeyIssued',
    data: {
      proxyKeyId: 'pxk_1',
      userId: 'usr_bob',
      teamId: null,
      name: 'laptop',
      prefix: 'kdn_abcd1234',
      hash,
      expiresAt: null,
    },
  };

  it('issues a key without limits when the issuer has none', () => {
    given([]).when(issue()).thenExpect([issued]);
  });
  it("copies the issuer's limits onto the key", () => {
    given([])
      .when(issue({ ceiling: { limits: { rpm: 10, models: ['gpt-4o*'] }, expiresAt: null } }))
      .thenExpect([
        issued,
        {
          type: 'PolicySet',
          data: { scope: 'proxy-key', scopeId: 'pxk_1', limits: { rpm: 10, models: ['gpt-4o*'] } },
        },
      ]);
  });
  it('refuses looser limits, other models and a later expiry than the issuer has', () => {
    const ceiling = {
      limits: { rpm: 10, budget: { usd: '5', period: '1mo' }, models: ['gpt-4o*'] },
      expiresAt: '2026-02-01T00:00:00Z',
    };
    given([])
      .when(issue({ ceiling, limits: { rpm: 11 } }))
      .thenFails('not_allowed_for_you', /rpm 11/);
    given([])
      .when(issue({ ceiling, limits: { budget: { usd: '5.01', period: '1mo' } } }))
      .thenFails('not_allowed_for_you', /budget/);
    given([])
      .when(issue({ ceiling, limits: { models: ['claude-3'] } }))
      .thenFails('not_allowed_for_you', /claude-3/);
    given([])
      .when(issue({ ceiling, expiresAt: '2026-03-01T00:00:00Z' }))
      .thenFails('not_allowed_for_you', /expiry/);
  });
  it('refuses an expiry in the past', () => {
    given([])
      .when(issue({ expiresAt: '2025-01-01T00:00:00Z' }))
      .thenFails('not_allowed_for_you', /future/);
  });
  it('suspends, reinstates, revokes; a revoked key stays revoked', () => {
    const revoked: Decided = {
      type: 'ProxyKeyRevoked',
      data: { proxyKeyId: 'pxk_1', reason: 'manual', note: null },
    };
    given([issued])
      .when({ type: 'SuspendProxyKey', note: 'lost laptop', byOwner: true })
      .thenExpect([
        {
          type: 'ProxyKeySuspended',
          data: {
            proxyKeyId: 'pxk_1',
            reason: 'manual',
            byFraudDetector: false,
            fraudSignalId: null,
            note: 'lost laptop',
          },
        },
      ]);
    given([issued]).when({ type: 'ReinstateProxyKey', note: null, manageAny: false }).thenExpect([]);
    given([issued]).when({ type: 'RevokeProxyKey', reason: 'manual', note: null }).thenExpect([revoked]);
    given([issued, revoked])
      .when({ type: 'ReinstateProxyKey', note: null, manageAny: true })
      .thenFails('invalid_state');
    given([issued, revoked]).when({ type: 'RevokeProxyKey', reason: 'manual', note: null }).thenExpect([]);
    given([]).when({ type: 'SuspendProxyKey', note: null, byOwner: true }).thenFails('not_found');
  });
  it("refuses to undo someone else's suspension without manageAny, whatever the route read", () => {
    // The route checks the view, which may not have the suspension yet (another replica, a
    // request in between): the stream's own state decides.
    const suspended = (actor: { kind: 'user'; id: string }): Decided =>
      ({
        type: 'ProxyKeySuspended',
        data: {
          proxyKeyId: 'pxk_1',
          reason: 'manual',
          byFraudDetector: false,
          fraudSignalId: null,
          note: null,
        },
        actor: { ...actor, ip: null },
      }) as Decided;
    const reinstated: Decided = { type: 'ProxyKeyReinstated', data: { proxyKeyId: 'pxk_1', note: null } };
    const byAdmin = suspended({ kind: 'user', id: 'usr_admin' });
    given([issued, byAdmin])
      .when({ type: 'ReinstateProxyKey', note: null, manageAny: false })
      .thenFails('forbidden', /manageAny/);
    given([issued, byAdmin])
      .when({ type: 'ReinstateProxyKey', note: null, manageAny: true })
      .thenExpect([reinstated]);
    given([issued, suspended({ kind: 'user', id: 'usr_bob' })])
      .when({ type: 'ReinstateProxyKey', note: null, manageAny: false })
      .thenExpect([reinstated]);
  });
});

describe('provider key decider', () => {
  const given = spec(providerKeyDecider);
  const secret = {
    algorithm: 'aes-256-gcm' as const,
    keyId: 'k1',
    wrappedDataKey: 'AAAA',
    iv: 'AAAAAAAAAAAAAAAA',
    ciphertext: 'AAAA',
    authTag: 'AAAAAAAAAAAAAAAAAAAAAA==',
  };
  const added: Decided = {
    type: 'ProviderKeyAdded',
    data: {
      providerKeyId: 'prk_1',
      provider: 'openai',
      name: 'main',
      secret,
      last4: 'wxyz',
      weight: 1,
      models: null,
      baseUrl: null,
    },
  };
  it('changes weight and disables in one command', () => {
    given([added])
      .when({ type: 'UpdateProviderKey', weight: 5, disabled: true, note: null })
      .thenExpect([
        { type: 'ProviderKeyWeightChanged', data: { providerKeyId: 'prk_1', weight: 5 } },
        {
          type: 'ProviderKeyDisabled',
          data: { providerKeyId: 'prk_1', reason: 'manual', upstreamStatus: null, note: null },
        },
      ]);
    given([added]).when({ type: 'UpdateProviderKey', weight: 1, disabled: false, note: null }).thenExpect([]);
  });
  it('a removed key is gone for every command', () => {
    const removed: Decided = { type: 'ProviderKeyRemoved', data: { providerKeyId: 'prk_1' } };
    given([added, removed]).when({ type: 'RotateProviderKey', secret, last4: 'abcd' }).thenFails('not_found');
    given([added, removed]).when({ type: 'RemoveProviderKey' }).thenFails('not_found');
  });
  it('a new secret brings back a key the gateway disabled for its credentials, not one a person disabled', () => {
    const rotated: Decided = {
      type: 'ProviderKeyRotated',
      data: { providerKeyId: 'prk_1', kind: 'replaced', secret, last4: 'abcd' },
    };
    const disabled = (reason: 'manual' | 'invalid_credentials'): Decided => ({
      type: 'ProviderKeyDisabled',
      data: { providerKeyId: 'prk_1', reason, upstreamStatus: reason === 'manual' ? null : 401, note: null },
    });
    const rotate = { type: 'RotateProviderKey' as const, secret, last4: 'abcd' };
    given([added, disabled('invalid_credentials')])
      .when(rotate)
      .thenExpect([rotated, { type: 'ProviderKeyEnabled', data: { providerKeyId: 'prk_1' } }]);
    given([added, disabled('manual')])
      .when(rotate)
      .thenExpect([rotated]);
    given([added]).when(rotate).thenExpect([rotated]);
    const enabled: Decided = { type: 'ProviderKeyEnabled', data: { providerKeyId: 'prk_1' } };
    given([added, disabled('invalid_credentials'), enabled])
      .when(rotate)
      .thenExpect([rotated]);
  });
  it('a key removed and added again on its stream is live again', () => {
    const removed: Decided = { type: 'ProviderKeyRemoved', data: { providerKeyId: 'prk_1' } };
    given([added, removed, added])
      .when({ type: 'RemoveProviderKey' })
      .thenExpect([{ type: 'ProviderKeyRemoved', data: { providerKeyId: 'prk_1' } }]);
  });
});

describe('API token decider', () => {
  const given = spec(apiTokenDecider);
  const issue = (
    role: 'owner' | 'admin' | 'developer',
    actor: By,
    ceilingExpiresAt: string | null = null,
    expiresAt?: string,
  ) => ({
    type: 'IssueApiToken' as const,
    apiTokenId: 'tok_1',
    name: 'ci',
    role,
    prefix: 'kat_abcdefgh',
    hash,
    expiresAt,
    ceilingExpiresAt,
    now: NOW,
    by: actor,
  });
  it('issues a token with a role the issuer holds', () => {
    given([])
      .when(issue('developer', by('admin')))
      .thenExpect([
        {
          type: 'ApiTokenIssued',
          data: {
            apiTokenId: 'tok_1',
            name: 'ci',
            role: 'developer',
            prefix: 'kat_abcdefgh',
            hash,
            expiresAt: null,
          },
        },
      ]);
  });
  it('refuses a stronger role, and an expiry past the issuing token', () => {
    given([])
      .when(issue('owner', by('admin')))
      .thenFails('not_allowed_for_you');
    given([])
      .when(issue('developer', by('admin', null), '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z'))
      .thenFails('not_allowed_for_you', /expiry/);
  });
  it('a token made by a token inherits its expiry', () => {
    const [event] = apiTokenDecider.decide(
      issue('developer', by('admin', null), '2026-01-02T00:00:00Z'),
      apiTokenDecider.initialState(),
    );
    assert.equal(event?.type === 'ApiTokenIssued' && event.data.expiresAt, '2026-01-02T00:00:00Z');
  });
});

describe('session decider', () => {
  const given = spec(sessionDecider);
  const started: Decided = {
    type: 'SessionStarted',
    data: {
      sessionId: 'ses_1',
      userId: 'usr_bob',
      method: 'password',
      refreshTokenHash: hash,
      expiresAt: '2026-02-01T00:00:00Z',
    },
  };
  const refreshed: Decided = {
    type: 'SessionRefreshed',
    data: { sessionId: 'ses_1', refreshTokenHash: hash2 },
  };
  it('rotates the refresh token', () => {
    given([started])
      .when({ type: 'RefreshSession', presented: hash.value, next: hash2, now: NOW })
      .thenExpect([refreshed]);
  });
  it('a spent refresh token ends the session', () => {
    given([started, refreshed])
      .when({ type: 'RefreshSession', presented: hash.value, next: hash2, now: NOW })
      .thenExpect([{ type: 'SessionEnded', data: { sessionId: 'ses_1', reason: 'refresh_reuse' } }]);
  });
  it('refuses unknown tokens, ended and expired sessions', () => {
    given([started])
      .when({ type: 'RefreshSession', presented: 'c'.repeat(64), next: hash2, now: NOW })
      .thenFails('unauthenticated');
    given([started, { type: 'SessionEnded', data: { sessionId: 'ses_1', reason: 'logout' } }])
      .when({ type: 'RefreshSession', presented: hash.value, next: hash2, now: NOW })
      .thenFails('unauthenticated');
    given([started])
      .when({
        type: 'RefreshSession',
        presented: hash.value,
        next: hash2,
        now: new Date('2026-03-01T00:00:00Z'),
      })
      .thenFails('unauthenticated');
  });
});
