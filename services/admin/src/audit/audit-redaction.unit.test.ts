import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rightsOf } from '../rbac/permissions.js';
import type { AuditEntry } from './audit-query.js';
import { auditEntryFor } from './audit-redaction.js';

const entry = (overrides: Partial<AuditEntry>): AuditEntry => ({
  id: 'evt_1',
  position: 1,
  time: '2026-01-01T00:00:00.000Z',
  actor: { kind: 'user', id: 'usr_1', ip: '203.0.113.9' },
  action: 'PricesSet',
  subject: { type: 'org', id: 'org_a' },
  before: null,
  after: {},
  ...overrides,
});

const oidc = {
  issuer: 'https://idp.test',
  clientId: 'client-1',
  allowedDomains: ['a.test'],
  autoProvision: false,
};
const orgChange = entry({
  action: 'OidcConfigured',
  before: { orgId: 'org_a', slug: 'acme' },
  after: { orgId: 'org_a', slug: 'acme', sso: { oidc } },
});
const tokenIssued = entry({
  action: 'ApiTokenIssued',
  subject: { type: 'api-token', id: 'tok_1' },
  after: { apiTokenId: 'tok_1', name: 'ci', role: 'auditor', prefix: 'kat_abcdefgh', status: 'active' },
});
const byToken = entry({
  actor: { kind: 'api-token', id: 'tok_1', ip: null },
  subject: { type: 'user', id: 'usr_2' },
});

describe('audit entries as a reader may see them', () => {
  it('shows owners, admins and auditors everything', () => {
    for (const role of ['owner', 'admin', 'auditor'] as const) {
      for (const shown of [orgChange, tokenIssued, byToken])
        assert.deepEqual(auditEntryFor(rightsOf(role), shown), shown);
    }
  });
  it('leaves the SSO settings out of the org snapshots for a reader without sso.read', () => {
    assert.deepEqual(auditEntryFor(rightsOf('finance'), orgChange), {
      ...orgChange,
      after: { orgId: 'org_a', slug: 'acme' },
    });
  });
  it("keeps a machine token's entries for a reader without apiToken.read, without the token", () => {
    const finance = rightsOf('finance');
    assert.deepEqual(auditEntryFor(finance, tokenIssued), {
      ...tokenIssued,
      subject: { type: 'api-token', id: null },
      after: null,
    });
    assert.deepEqual(auditEntryFor(finance, byToken), {
      ...byToken,
      actor: { kind: 'api-token', id: null, ip: null },
    });
  });
});
