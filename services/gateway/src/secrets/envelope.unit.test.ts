import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { kordonCatalogue, streams } from '@kordon/events';
import {
  decryptSecret,
  type EncryptedSecret,
  encryptSecret,
  MAX_SECRET_BYTES,
  needsRewrap,
  rewrap,
  type SecretContext,
} from './envelope.js';
import { InvalidSecretError, isSecretDecryptionError, type SecretDecryptionReason } from './errors.js';
import { MasterKey, MasterKeyRing } from './master-key.js';
import { last4, RedactedSecret } from './redacted.js';

const SECRET = 'sk-proj-9fT2xQ7LmN4vB8kR1sD6hJ3wZ5cY0aE-Ug_iOpWq';
const context: SecretContext = { orgId: 'org_01', providerKeyId: 'pk_01' };
const ring = new MasterKeyRing(MasterKey.generate('current'));

function assertUndecryptable(fn: () => unknown, reason: SecretDecryptionReason, label = '') {
  assert.throws(fn, (error: unknown) => {
    assert.ok(
      isSecretDecryptionError(error),
      `${label}: expected SecretDecryptionError, got ${String(error)}`,
    );
    assert.equal(error.reason, reason, `${label}: ${error.message}`);
    assert.equal(error.code, 'secret_undecryptable');
    assert.equal(error.isRetryable, false);
    assert.ok(!error.message.includes(SECRET), 'the message never shows the plaintext');
    return true;
  });
}

/** Flip one bit of one byte of a base64 field. */
function flip(value: string, index: number): string {
  const bytes = Buffer.from(value, 'base64');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

describe('round trip', () => {
  test('decrypts what it encrypted, as a RedactedSecret', () => {
    const record = encryptSecret(SECRET, context, ring);
    const secret = decryptSecret(record, context, ring);
    assert.ok(secret instanceof RedactedSecret);
    assert.equal(secret.reveal(), SECRET);
    assert.equal(String(secret), `[redacted …${SECRET.slice(-4)}]`);
  });

  test('texts of every shape and size, up to the limit', () => {
    for (const text of [
      'x',
      'é',
      '🔑 clé',
      '{\n  "type": "service_account"\n}\n',
      'a'.repeat(MAX_SECRET_BYTES),
    ]) {
      const record = encryptSecret(text, context, ring);
      assert.equal(decryptSecret(record, context, ring).reveal(), text);
    }
  });

  test('accepts a RedactedSecret as input', () => {
    const record = encryptSecret(new RedactedSecret(SECRET), context, ring);
    assert.equal(decryptSecret(record, context, ring).reveal(), SECRET);
  });

  test('the record has the stored shape and sizes, and never the plaintext', () => {
    const record = encryptSecret(SECRET, context, ring);
    assert.deepEqual(Object.keys(record).sort(), [
      'algorithm',
      'authTag',
      'ciphertext',
      'iv',
      'keyId',
      'wrappedDataKey',
    ]);
    assert.equal(record.algorithm, 'aes-256-gcm');
    assert.equal(record.keyId, ring.currentId);
    assert.equal(Buffer.from(record.iv, 'base64').length, 12);
    assert.equal(Buffer.from(record.authTag, 'base64').length, 16);
    assert.equal(Buffer.from(record.ciphertext, 'base64').length, Buffer.byteLength(SECRET));
    const wrapped = Buffer.from(record.wrappedDataKey, 'base64');
    assert.equal(wrapped.length, 61);
    assert.equal(wrapped[0], 1, 'format version 1');
    assert.ok(!JSON.stringify(record).includes(SECRET.slice(8, 20)));
  });

  test('every encryption is fresh: data key, IVs and ciphertext differ', () => {
    const a = encryptSecret(SECRET, context, ring);
    const b = encryptSecret(SECRET, context, ring);
    for (const field of ['wrappedDataKey', 'iv', 'ciphertext', 'authTag'] as const)
      assert.notEqual(a[field], b[field]);
  });

  test('refuses what it cannot encrypt', () => {
    assert.throws(() => encryptSecret('', context, ring), InvalidSecretError);
    assert.throws(() => encryptSecret('a'.repeat(MAX_SECRET_BYTES + 1), context, ring), InvalidSecretError);
    assert.throws(
      () => encryptSecret('é'.repeat(MAX_SECRET_BYTES / 2 + 1), context, ring),
      InvalidSecretError,
    );
    assert.throws(() => encryptSecret('abc\uD800def', context, ring), /lone surrogate/);
    assert.throws(() => encryptSecret(SECRET, { ...context, orgId: 'org:1' }, ring), InvalidSecretError);
    assert.throws(() => encryptSecret(SECRET, { ...context, providerKeyId: '' }, ring), InvalidSecretError);
    assert.throws(
      () => decryptSecret(encryptSecret(SECRET, context, ring), { ...context, orgId: 'a b' }, ring),
      InvalidSecretError,
    );
  });
});

describe('associated data binds the record to its org and provider key', () => {
  const record = encryptSecret(SECRET, context, ring);

  test('another org, another provider key, or both swapped, fail', () => {
    const others: SecretContext[] = [
      { orgId: 'org_02', providerKeyId: 'pk_01' },
      { orgId: 'org_01', providerKeyId: 'pk_02' },
      { orgId: 'pk_01', providerKeyId: 'org_01' },
      { orgId: 'org_0', providerKeyId: '1pk_01' },
    ];
    for (const other of others) {
      assertUndecryptable(
        () => decryptSecret(record, other, ring),
        'authentication_failed',
        JSON.stringify(other),
      );
    }
  });

  test('the error names the ids, not the secret', () => {
    assert.throws(
      () => decryptSecret(record, { orgId: 'org_02', providerKeyId: 'pk_01' }, ring),
      /provider key pk_01 of org org_02 does not authenticate/,
    );
  });
});

describe('tampering is a typed error, never garbage', () => {
  const record = encryptSecret(SECRET, context, ring);

  test('every bit flip of wrappedDataKey, iv, ciphertext and authTag is detected', () => {
    const expected: Record<
      'wrappedDataKey' | 'iv' | 'ciphertext' | 'authTag',
      (i: number) => SecretDecryptionReason
    > = {
      wrappedDataKey: (i) => (i === 0 ? 'unsupported_version' : 'data_key_unwrap_failed'),
      iv: () => 'authentication_failed',
      ciphertext: () => 'authentication_failed',
      authTag: () => 'authentication_failed',
    };
    for (const [field, reason] of Object.entries(expected) as [
      keyof typeof expected,
      (i: number) => SecretDecryptionReason,
    ][]) {
      const length = Buffer.from(record[field], 'base64').length;
      for (let i = 0; i < length; i++) {
        const tampered = { ...record, [field]: flip(record[field], i) };
        assertUndecryptable(() => decryptSecret(tampered, context, ring), reason(i), `${field}[${i}]`);
      }
    }
  });

  test('wrong sizes, non-base64 and non-canonical base64 are malformed', () => {
    const cases: Partial<EncryptedSecret>[] = [
      { iv: Buffer.alloc(16).toString('base64') },
      { iv: 'not base64!!' },
      { authTag: Buffer.alloc(12).toString('base64') },
      { authTag: `${record.authTag.slice(0, -2)}` },
      { ciphertext: '' },
      { wrappedDataKey: '' },
      { ciphertext: `${record.ciphertext}\n` },
      { ciphertext: record.ciphertext.slice(0, -1) },
      { wrappedDataKey: Buffer.from(record.wrappedDataKey, 'base64').subarray(0, 60).toString('base64') },
      {
        wrappedDataKey: Buffer.concat([Buffer.from(record.wrappedDataKey, 'base64'), Buffer.of(0)]).toString(
          'base64',
        ),
      },
      { wrappedDataKey: Buffer.from(record.wrappedDataKey, 'base64').toString('base64url') },
      { algorithm: 'aes-128-gcm' as 'aes-256-gcm' },
      { keyId: 'no:colons' },
    ];
    for (const change of cases) {
      const tampered = { ...record, ...change } as EncryptedSecret;
      assertUndecryptable(
        () => decryptSecret(tampered, context, ring),
        'malformed_record',
        JSON.stringify(change),
      );
    }
    // A 16-byte tag is 22 base64 characters and '=='; the last one has 4 spare bits. Setting one
    // decodes to the same bytes under Node's lenient decoder, but is not the canonical spelling.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(record.authTag[21] ?? 'A');
    const sloppyTag = `${record.authTag.slice(0, 21)}${alphabet[last | 1]}==`;
    assert.ok(Buffer.from(sloppyTag, 'base64').equals(Buffer.from(record.authTag, 'base64')));
    assertUndecryptable(
      () => decryptSecret({ ...record, authTag: sloppyTag }, context, ring),
      'malformed_record',
    );
    assertUndecryptable(
      () => decryptSecret(null as unknown as EncryptedSecret, context, ring),
      'malformed_record',
    );
  });

  test('a record pointing at another configured master key fails to unwrap', () => {
    const other = MasterKey.generate('other');
    const both = new MasterKeyRing(ring.current, [other]);
    assertUndecryptable(
      () => decryptSecret({ ...record, keyId: other.id }, context, both),
      'data_key_unwrap_failed',
    );
  });
});

describe('master keys', () => {
  test('a ring without the record’s master key: unknown_master_key, naming the id', () => {
    const record = encryptSecret(SECRET, context, ring);
    const stranger = new MasterKeyRing(MasterKey.generate('stranger'));
    assertUndecryptable(() => decryptSecret(record, context, stranger), 'unknown_master_key');
    assert.throws(
      () => decryptSecret(record, context, stranger),
      (error: unknown) => {
        assert.ok(isSecretDecryptionError(error));
        assert.equal(error.keyId, ring.currentId);
        assert.match(error.message, /KORDON_MASTER_KEYS_OLD/);
        return true;
      },
    );
  });

  test('the wrong key under the right id fails to unwrap (e.g. a record forged for another key)', () => {
    const record = encryptSecret(SECRET, context, ring);
    const impostor = new MasterKeyRing(MasterKey.generate('impostor'));
    const forged = { ...record, keyId: impostor.currentId };
    assertUndecryptable(() => decryptSecret(forged, context, impostor), 'data_key_unwrap_failed');
  });
});

describe('rotation', () => {
  test('encrypt under the old key, rotate, rewrap, decrypt with the old key gone', () => {
    const oldKey = MasterKey.generate('old');
    const oldRing = new MasterKeyRing(oldKey);
    const record = encryptSecret(SECRET, context, oldRing);

    const newKey = MasterKey.generate('new');
    const during = oldRing.rotate(newKey);
    assert.ok(needsRewrap(record, during));
    // While both are configured, old records still decrypt.
    assert.equal(decryptSecret(record, context, during).reveal(), SECRET);

    const rewrapped = rewrap(record, during);
    assert.equal(rewrapped.keyId, newKey.id);
    assert.notEqual(rewrapped.wrappedDataKey, record.wrappedDataKey);
    assert.equal(rewrapped.iv, record.iv, 'ciphertext untouched');
    assert.equal(rewrapped.ciphertext, record.ciphertext);
    assert.equal(rewrapped.authTag, record.authTag);
    assert.ok(!needsRewrap(rewrapped, during));

    const after = during.without(oldKey.id);
    assert.deepEqual(after.ids, [newKey.id]);
    assert.equal(decryptSecret(rewrapped, context, after).reveal(), SECRET);
    assertUndecryptable(() => decryptSecret(record, context, after), 'unknown_master_key');
    // Still bound to its row after the rewrap.
    assertUndecryptable(
      () => decryptSecret(rewrapped, { ...context, orgId: 'org_02' }, after),
      'authentication_failed',
    );
  });

  test('a record already under the current key is returned as is', () => {
    const record = encryptSecret(SECRET, context, ring);
    assert.equal(rewrap(record, ring), record);
  });

  test('rewrap refuses what it cannot unwrap instead of carrying it forward', () => {
    const oldRing = new MasterKeyRing(MasterKey.generate('old'));
    const record = encryptSecret(SECRET, context, oldRing);
    const rotated = oldRing.rotate(MasterKey.generate('new'));
    assertUndecryptable(
      () => rewrap({ ...record, wrappedDataKey: flip(record.wrappedDataKey, 40) }, rotated),
      'data_key_unwrap_failed',
    );
    assertUndecryptable(
      () => rewrap(record, new MasterKeyRing(MasterKey.generate('x'))),
      'unknown_master_key',
    );
    assertUndecryptable(() => rewrap({ ...record, iv: 'AAAA' }, rotated), 'malformed_record');
  });
});

describe('the record is the ProviderKeyAdded `secret` field', () => {
  test('validates through kordonCatalogue.create', () => {
    const record = encryptSecret(SECRET, context, ring);
    const event = kordonCatalogue.create(
      'ProviderKeyAdded',
      streams.providerKey(context.orgId, context.providerKeyId),
      {
        providerKeyId: context.providerKeyId,
        provider: 'openai',
        name: 'production',
        secret: record,
        last4: last4(SECRET),
        weight: 1,
        models: null,
        baseUrl: null,
      },
      { orgId: context.orgId, actor: { kind: 'user', id: 'user_01' } },
    );
    assert.deepEqual((event.data as { secret: unknown }).secret, record);
    const stored = JSON.stringify(event);
    assert.ok(!stored.includes(SECRET) && !stored.includes(SECRET.slice(0, -4)));
  });

  test('the largest secret still fits the field limits, and ProviderKeyRotated takes a rewrapped record', () => {
    const record = encryptSecret('k'.repeat(MAX_SECRET_BYTES), context, ring);
    assert.equal(record.ciphertext.length, 16_384);
    const rotated = ring.rotate(MasterKey.generate('next'));
    kordonCatalogue.create(
      'ProviderKeyRotated',
      streams.providerKey(context.orgId, context.providerKeyId),
      {
        providerKeyId: context.providerKeyId,
        kind: 'rewrapped',
        secret: rewrap(record, rotated),
        last4: 'kkkk',
      },
      { orgId: context.orgId, actor: { kind: 'system', id: 'kordon' } },
    );
  });

  test('a decrypted secret logged by mistake shows the hint only', () => {
    const secret = decryptSecret(encryptSecret(SECRET, context, ring), context, ring);
    const line = JSON.stringify({
      msg: 'upstream call',
      secret,
      text: `${secret}`,
      inspected: inspect(secret),
    });
    assert.ok(!line.includes(SECRET));
  });
});
