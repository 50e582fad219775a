import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROLES, rightsOf } from '../rbac/permissions.js';
import type { RequestLogEntry } from './request-log-query.js';
import { filtersByWithheldId, requestEntryFor, requestLogReader } from './request-log-redaction.js';

const entry = (overrides: Partial<RequestLogEntry>): RequestLogEntry => ({
  id: 'req_1',
  position: 1,
  time: '2026-01-01T00:00:00.000Z',
  outcome: 'rejected',
  status: 429,
  upstreamStatus: null,
  errorCode: null,
  rejectionReason: 'budget_usd',
  limitScope: { scope: 'team', scopeId: 'tm_core' },
  teamId: 'tm_core',
  userId: 'usr_dev',
  proxyKeyId: 'pxk_dev',
  provider: 'openai',
  providerKeyId: 'prk_main',
  model: 'gpt-4o-mini',
  endpoint: 'chat.completions',
  stream: false,
  usage: null,
  cost: null,
  currency: null,
  latencyMs: null,
  timeToFirstTokenMs: null,
  clientIp: '203.0.113.7',
  attempts: 0,
  hasText: false,
  ...overrides,
});

describe('request log entries as a reader may see them', () => {
  it('every role that may see provider keys and teams sees the entry unchanged', () => {
    for (const role of ROLES) {
      const rights = rightsOf(role);
      if (!rights.has('providerKey.read') || !rights.has('team.read')) continue;
      const shown = entry({});
      assert.deepEqual(requestEntryFor(requestLogReader(rights), shown), shown, role);
    }
    assert.deepEqual(requestEntryFor(requestLogReader(rightsOf('bootstrap')), entry({})), entry({}));
  });

  it("a developer sees no provider key or team id, nor a team limit's id; the rest stays", () => {
    const developer = requestLogReader(rightsOf('developer'));
    assert.deepEqual(requestEntryFor(developer, entry({})), {
      ...entry({}),
      providerKeyId: null,
      teamId: null,
      limitScope: { scope: 'team', scopeId: null },
    });
    // Their own user and proxy key, and their org, are theirs to see.
    for (const [scope, scopeId] of [
      ['user', 'usr_dev'],
      ['proxy-key', 'pxk_dev'],
      ['org', 'org_a'],
    ] as const) {
      const shown = requestEntryFor(developer, entry({ limitScope: { scope, scopeId } }));
      assert.deepEqual(shown.limitScope, { scope, scopeId }, scope);
    }
    assert.equal(requestEntryFor(developer, entry({ limitScope: null })).limitScope, null);
    // A scope the code does not know (none is written today) is withheld, not shown.
    const unknown = requestEntryFor(
      developer,
      entry({ limitScope: { scope: 'provider-key', scopeId: 'prk_main' } }),
    );
    assert.deepEqual(unknown.limitScope, { scope: 'provider-key', scopeId: null });
  });

  it('the rights are read one by one', () => {
    const keysOnly = requestLogReader(new Set(['request.own', 'providerKey.read'] as const));
    const shown = requestEntryFor(keysOnly, entry({}));
    assert.equal(shown.providerKeyId, 'prk_main');
    assert.equal(shown.teamId, null);
    const teamsOnly = requestLogReader(new Set(['request.own', 'team.read'] as const));
    const other = requestEntryFor(teamsOnly, entry({}));
    assert.equal(other.providerKeyId, null);
    assert.equal(other.teamId, 'tm_core');
    assert.deepEqual(other.limitScope, { scope: 'team', scopeId: 'tm_core' });
  });

  it('a filter by a withheld id is one that matches nothing', () => {
    const developer = requestLogReader(rightsOf('developer'));
    const admin = requestLogReader(rightsOf('admin'));
    assert.equal(filtersByWithheldId(developer, {}), false);
    assert.equal(filtersByWithheldId(developer, { teamId: 'tm_core' }), true);
    assert.equal(filtersByWithheldId(developer, { providerKeyId: 'prk_main' }), true);
    assert.equal(filtersByWithheldId(admin, { teamId: 'tm_core', providerKeyId: 'prk_main' }), false);
  });
});
