import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { apiTokenDecider } from '../deciders/api-token.js';
import type { Decided } from '../deciders/decider.js';
import { proxyKeyDecider } from '../deciders/proxy-key.js';
import { userDecider } from '../deciders/user.js';
import { AdminError } from '../errors.js';
import { boundLimits, compareDecimal, type Limits, patternCovers, tightest, withinLimits } from './bounds.js';
import { isSubset, PERMISSIONS, ROLES, type Role, rightsOf } from './permissions.js';

/*
 * Property: no principal creates a key, user or token with more rights, models, budget or
 * expiry than its own. Every command is generated at random; whenever the decider accepts
 * one, what it creates is checked to be within the principal's own.
 */

const NOW = new Date('2026-01-01T00:00:00Z');
const hash = { algorithm: 'hmac-sha256' as const, keyId: 'adm-1', value: 'a'.repeat(64) };

const role = fc.constantFrom<Role>(...ROLES);
const principalRole = fc.constantFrom<Role | 'bootstrap'>(...ROLES, 'bootstrap');
const MODELS = ['gpt-4o', 'gpt-4o*', 'gpt-4o-mini', 'claude-3', 'claude*', 'gemini-2.5-flash'];
const RANGES = ['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32'];

const limitsArb: fc.Arbitrary<Limits> = fc.record(
  {
    rpm: fc.integer({ min: 1, max: 1000 }),
    tpm: fc.integer({ min: 1, max: 100_000 }),
    concurrency: fc.integer({ min: 1, max: 50 }),
    budget: fc.record({
      usd: fc.integer({ min: 0, max: 100_000 }).map((cents) => (cents / 100).toFixed(2)),
      period: fc.constantFrom('1d', '1mo'),
    }),
    tokens: fc.record({
      kind: fc.constantFrom('input', 'output', 'total'),
      count: fc.integer({ min: 1, max: 1_000_000 }),
      period: fc.constantFrom('1d', '1mo'),
    }),
    maxDistinctIps: fc.record({
      count: fc.integer({ min: 1, max: 20 }),
      period: fc.constantFrom('1d', '1w'),
    }),
    models: fc.uniqueArray(fc.constantFrom(...MODELS), { minLength: 1, maxLength: 4 }),
    ipAllow: fc.uniqueArray(fc.constantFrom(...RANGES), { minLength: 1, maxLength: 3 }),
    ipDeny: fc.uniqueArray(fc.constantFrom(...RANGES), { minLength: 1, maxLength: 2 }),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Limits>;

const expiry = fc.option(
  fc.integer({ min: -5, max: 400 }).map((days) => new Date(NOW.getTime() + days * 86_400_000).toISOString()),
  { nil: undefined },
);

function decideOrNull<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (error) {
    if (error instanceof AdminError) return null;
    throw error;
  }
}

describe('privilege escalation (property)', () => {
  it('a proxy key never has looser limits, other models or a later expiry than its issuer', () => {
    fc.assert(
      fc.property(
        fc.option(limitsArb, { nil: undefined }),
        fc.option(limitsArb, { nil: undefined }),
        expiry,
        expiry,
        (ceilingLimits, requested, ceilingExpiry, requestedExpiry) => {
          const events = decideOrNull(() =>
            proxyKeyDecider.decide(
              {
                type: 'IssueProxyKey',
                proxyKeyId: 'pxk_1',
                userId: 'usr_1',
                name: 'k',
                prefix: 'kdn_abcd1234',
                hash,
                expiresAt: requestedExpiry,
                limits: requested,
                ceiling: { limits: ceilingLimits, expiresAt: ceilingExpiry ?? null },
                now: NOW,
              },
              proxyKeyDecider.initialState(),
            ),
          );
          if (events === null) return;
          const issued = events.find(
            (e): e is Extract<Decided, { type: 'ProxyKeyIssued' }> => e.type === 'ProxyKeyIssued',
          )!;
          const policy = events.find(
            (e): e is Extract<Decided, { type: 'PolicySet' }> => e.type === 'PolicySet',
          );
          const keyLimits = policy?.data.limits ?? {};
          if (ceilingLimits)
            assert.ok(withinLimits(keyLimits, ceilingLimits), JSON.stringify({ keyLimits, ceilingLimits }));
          if (ceilingExpiry) {
            assert.notEqual(issued.data.expiresAt, null);
            assert.ok(Date.parse(issued.data.expiresAt!) <= Date.parse(ceilingExpiry));
          }
          if (issued.data.expiresAt !== null) assert.ok(Date.parse(issued.data.expiresAt) > NOW.getTime());
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a user is never made with rights their maker lacks', () => {
    fc.assert(
      fc.property(principalRole, role, (maker, wanted) => {
        const events = decideOrNull(() =>
          userDecider.decide(
            {
              type: 'AddUser',
              userId: 'usr_new',
              email: 'new@x.test',
              displayName: 'new',
              role: wanted,
              passwordHash: null,
              method: 'invitation',
              by: { rights: rightsOf(maker), userId: maker === 'bootstrap' ? null : 'usr_maker' },
            },
            userDecider.initialState(),
          ),
        );
        if (events === null) return;
        assert.ok(rightsOf(maker).has('user.manage'));
        assert.ok(isSubset(rightsOf(wanted), rightsOf(maker)), `${maker} made a ${wanted}`);
      }),
    );
  });

  it('a role change never raises anyone above the changer, nor touches the changer or a stronger user', () => {
    fc.assert(
      fc.property(principalRole, role, role, fc.boolean(), (changer, current, wanted, self) => {
        const userId = 'usr_target';
        const given: Decided[] = [
          { type: 'UserJoined', data: { userId, email: 't@x.test', displayName: 't', method: 'invitation' } },
          { type: 'RoleGranted', data: { userId, role: current, teamId: null } },
        ];
        const state = given.reduce(userDecider.evolve, userDecider.initialState());
        const by = {
          rights: rightsOf(changer),
          userId: changer === 'bootstrap' ? null : self ? userId : 'usr_other',
        };
        const events = decideOrNull(() =>
          userDecider.decide({ type: 'ChangeRole', role: wanted, by, otherOwners: 1 }, state),
        );
        if (events === null) return;
        assert.ok(!(self && changer !== 'bootstrap'), 'changed their own role');
        assert.ok(isSubset(rightsOf(wanted), rightsOf(changer)));
        assert.ok(isSubset(rightsOf(current), rightsOf(changer)));
      }),
    );
  });

  it('an API token never has a stronger role or a later expiry than its maker', () => {
    fc.assert(
      fc.property(principalRole, role, expiry, expiry, (maker, wanted, ceilingExpiry, requested) => {
        const events = decideOrNull(() =>
          apiTokenDecider.decide(
            {
              type: 'IssueApiToken',
              apiTokenId: 'tok_1',
              name: 'ci',
              role: wanted,
              prefix: 'kat_abcdefgh',
              hash,
              expiresAt: requested,
              ceilingExpiresAt: ceilingExpiry ?? null,
              now: NOW,
              by: { rights: rightsOf(maker), userId: null },
            },
            apiTokenDecider.initialState(),
          ),
        );
        if (events === null) return;
        const issued = events[0]!;
        assert.equal(issued.type, 'ApiTokenIssued');
        if (issued.type !== 'ApiTokenIssued') return;
        assert.ok(isSubset(rightsOf(issued.data.role), rightsOf(maker)));
        if (ceilingExpiry)
          assert.ok(
            issued.data.expiresAt !== null && Date.parse(issued.data.expiresAt) <= Date.parse(ceilingExpiry),
          );
      }),
    );
  });
});

describe('bounds', () => {
  it('compares decimals exactly', () => {
    assert.equal(compareDecimal('0.1', '0.10'), 0);
    assert.equal(compareDecimal('10', '9.999999999999'), 1);
    assert.equal(compareDecimal('5', '5.000000000001'), -1);
  });
  it('model patterns cover what they allow, and only that', () => {
    assert.ok(patternCovers('gpt-4o*', 'gpt-4o-mini'));
    assert.ok(patternCovers('gpt-4o*', 'gpt-4o*'));
    assert.ok(!patternCovers('gpt-4o', 'gpt-4o*'));
    assert.ok(!patternCovers('gpt-4o-mini*', 'gpt-4o*'));
  });
  it('copies every limit of the ceiling the request omits, and adds its denials', () => {
    const result = boundLimits(
      { rpm: 5, ipDeny: ['10.0.0.0/8'] },
      { rpm: 10, tpm: 100, ipDeny: ['192.168.0.0/16'] },
    );
    assert.deepEqual(result, {
      limits: { rpm: 5, tpm: 100, ipDeny: ['10.0.0.0/8', '192.168.0.0/16'] },
      problems: [],
    });
  });
  it('the tightest of org and user limits is within both', () => {
    fc.assert(
      fc.property(limitsArb, limitsArb, (org, user) => {
        const merged = tightest(org, user)!;
        for (const field of ['rpm', 'tpm', 'concurrency'] as const) {
          if (org[field] !== undefined) assert.ok(merged[field]! <= org[field]!);
          if (user[field] !== undefined) assert.ok(merged[field]! <= user[field]!);
        }
      }),
    );
  });
  it('the permission table gives every role org.read and only the bootstrap owner org.create', () => {
    for (const r of ROLES) {
      assert.ok(PERMISSIONS[r].includes('org.read'));
      assert.ok(!PERMISSIONS[r].includes('org.create'));
    }
  });
});
