import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type KordonEvent,
  type KordonEventType,
  kordonCatalogue,
  type RecordedEvent,
  streams,
} from '@kordon/events';
import { requestCompletedEvent } from '@kordon/events/testing';
import { AUDITED_TYPES, auditProjection, decodeForAudit } from './audit-projection.js';

const ORG = 'org_a';
const metadata = {
  orgId: ORG,
  actor: { kind: 'user' as const, id: 'usr_1', ip: '203.0.113.9' },
  time: new Date('2026-01-01T00:00:00Z'),
};
const HEX = 'c0ffee'.repeat(11).slice(0, 64);
const PHC =
  '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$SECRETHASHVALUEabcdefghijklmnopqrstuvwxyz012';
const secret = {
  algorithm: 'aes-256-gcm' as const,
  keyId: 'k1',
  wrappedDataKey: Buffer.alloc(61, 9).toString('base64'),
  iv: Buffer.alloc(12, 1).toString('base64'),
  ciphertext: Buffer.from('CIPHERTEXT-OF-THE-PROVIDER-KEY').toString('base64'),
  authTag: Buffer.alloc(16, 3).toString('base64'),
};
const hash = { algorithm: 'hmac-sha256' as const, keyId: 'adm-1', value: HEX };

let position = 0;
function recorded<T extends KordonEventType>(type: T, streamId: string, data: unknown): RecordedEvent {
  const event = kordonCatalogue.create(type, streamId, data as never, metadata);
  return { ...event, data: JSON.parse(JSON.stringify(event.data)), streamVersion: 1, position: ++position };
}

const secretBearing: RecordedEvent[] = [
  recorded('UserPasswordSet', streams.user(ORG, 'usr_1'), { userId: 'usr_1', passwordHash: PHC }),
  recorded('ProviderKeyAdded', streams.providerKey(ORG, 'prk_1'), {
    providerKeyId: 'prk_1',
    provider: 'openai',
    name: 'main',
    secret,
    last4: 'wxyz',
    weight: 1,
    models: null,
    baseUrl: null,
  }),
  recorded('ProviderKeyRotated', streams.providerKey(ORG, 'prk_1'), {
    providerKeyId: 'prk_1',
    kind: 'replaced',
    secret,
    last4: 'abcd',
  }),
  recorded('ProxyKeyIssued', streams.proxyKey(ORG, 'pxk_1'), {
    proxyKeyId: 'pxk_1',
    userId: 'usr_1',
    teamId: null,
    name: 'laptop',
    prefix: 'kdn_abcd1234',
    hash,
    expiresAt: null,
  }),
  recorded('ApiTokenIssued', streams.apiToken(ORG, 'tok_1'), {
    apiTokenId: 'tok_1',
    name: 'ci',
    role: 'developer',
    prefix: 'kat_abcdefgh',
    hash,
    expiresAt: null,
  }),
  recorded('SessionStarted', streams.session(ORG, 'ses_1'), {
    sessionId: 'ses_1',
    userId: 'usr_1',
    method: 'password',
    refreshTokenHash: hash,
    expiresAt: '2026-02-01T00:00:00Z',
  }),
  recorded('UserInvited', streams.user(ORG, 'usr_2'), {
    userId: 'usr_2',
    email: 'bob@acme.test',
    role: 'admin',
    teamId: null,
    tokenHash: hash,
    expiresAt: '2026-02-01T00:00:00Z',
  }),
  recorded('OidcConfigured', streams.org(ORG), {
    issuer: 'https://login.acme.test',
    clientId: 'kordon',
    clientSecret: secret,
    allowedDomains: ['acme.test'],
    autoProvision: false,
  }),
];

describe('audit projection', () => {
  it('records who, from where, what and on what, and never a secret, hash or ciphertext', () => {
    for (const event of secretBearing) {
      const statements = auditProjection.project(decodeForAudit(event));
      assert.equal(statements.length, 2, event.type);
      const text = JSON.stringify(statements);
      for (const forbidden of [
        HEX,
        PHC,
        secret.ciphertext,
        secret.wrappedDataKey,
        secret.authTag,
        'SECRETHASH',
      ]) {
        assert.ok(!text.includes(forbidden), `${event.type} leaks ${forbidden.slice(0, 12)}`);
      }
      const params = statements[0]!.params;
      assert.equal(params[2], ORG);
      assert.equal(params[4], 'user');
      assert.equal(params[5], 'usr_1');
      assert.equal(params[6], '203.0.113.9');
      assert.equal(params[7], event.type);
    }
  });
  it('skips request traffic without decoding it', () => {
    const event = { ...requestCompletedEvent(ORG, 1), streamVersion: 1, position: 1 } as RecordedEvent;
    assert.equal(decodeForAudit(event), null);
    assert.deepEqual(auditProjection.project(null), []);
  });
  it('audits only control-plane event types that exist', () => {
    for (const type of AUDITED_TYPES) assert.ok(kordonCatalogue.has(type), type);
    assert.ok(!(AUDITED_TYPES as readonly string[]).includes('RequestCompleted'));
    assert.ok(!(AUDITED_TYPES as readonly string[]).includes('ProviderKeyCooledDown'));
  });
  it('only SQL text that never contains event data', () => {
    const event = recorded('OrgCreated', streams.org(ORG), {
      orgId: ORG,
      slug: 'acme',
      name: "x'); DROP TABLE y; --",
    });
    for (const statement of auditProjection.project(decodeForAudit(event) as KordonEvent)) {
      assert.ok(!statement.text.includes('DROP'));
    }
  });
});
