import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { KordonError, kordonCatalogue, looksLikeSecret, SYSTEM_ACTOR } from '@kordon/events';
import { newProxyKey, PROXY_KEY_DISPLAY_LENGTH, type ProxyKey, parseProxyKey } from './format.js';
import { deriveKeyId, isProxyKeyHash, ProxyKeyHasher } from './hash.js';
import { generateProxyKey, importProxyKey } from './issue.js';

const KNOWN_KEY = 'kdn_Kordon0proxy0key0test0vector00011b5n6i';
const SECRET_A = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const SECRET_B = Buffer.from(Array.from({ length: 48 }, (_, i) => 255 - i));

function parsed(secret: string): ProxyKey {
  const result = parseProxyKey(secret);
  assert.ok(result.ok, `${result.ok || result.reason}`);
  return result.key;
}

function issuedEvent(prefix: string, hash: unknown) {
  return kordonCatalogue.create(
    'ProxyKeyIssued',
    'org:org-1:proxy-key:key-1',
    {
      proxyKeyId: 'key-1',
      userId: 'user-1',
      teamId: null,
      name: 'laptop',
      prefix,
      hash: hash as never,
      expiresAt: null,
    },
    { orgId: 'org-1', actor: SYSTEM_ACTOR },
  );
}

describe('ProxyKeyHasher', () => {
  test('known vector: the derivation in README.md, step by step', () => {
    const hasher = new ProxyKeyHasher({ current: SECRET_A });
    const hash = hasher.hash(parsed(KNOWN_KEY));
    assert.deepEqual(hash, {
      algorithm: 'hmac-sha256',
      keyId: 'pkh-762ad83c9ffa3e35',
      value: '48232a70dce9e592d0169e71d28540515c6f16d29d61a1c0065d572b5eb8835b',
    });
    // Recomputed from the spec with node:crypto alone.
    const hmacKey = Buffer.from(
      hkdfSync('sha256', SECRET_A, Buffer.alloc(0), 'kordon proxy-key hmac-sha256 v1', 32),
    );
    const keyId = Buffer.from(hkdfSync('sha256', SECRET_A, Buffer.alloc(0), 'kordon proxy-key key-id v1', 8));
    assert.equal(hash.value, createHmac('sha256', hmacKey).update(KNOWN_KEY).digest('hex'));
    assert.equal(hash.keyId, `pkh-${keyId.toString('hex')}`);
    assert.equal(deriveKeyId(SECRET_A), hash.keyId);
  });

  test('remembered hashes stay right: the same value before, during and after the memo is full', () => {
    const hasher = new ProxyKeyHasher({ current: SECRET_A, previous: [SECRET_B] });
    const first = newProxyKey();
    const expected = hasher.hashAll(first).map((hash) => hash.value);
    const others = Array.from({ length: 5000 }, () => newProxyKey());
    for (const key of others) hasher.hashAll(key);
    // The first key was dropped from the memo (4,096 kept): computed again, the same.
    assert.deepEqual(
      hasher.hashAll(first).map((hash) => hash.value),
      expected,
    );
    const fresh = new ProxyKeyHasher({ current: SECRET_A, previous: [SECRET_B] });
    for (const key of [first, others[0]!, others[4999]!]) {
      assert.deepEqual(hasher.hashAll(key), fresh.hashAll(key));
      assert.deepEqual(hasher.hashAll(key), fresh.hashAll(key)); // and from the memo
    }
    assert.notEqual(hasher.hash(others[1]!).value, hasher.hash(others[2]!).value);
  });

  test('stable for the same key and secret, different per secret and per key', () => {
    const key = newProxyKey();
    const a1 = new ProxyKeyHasher({ current: SECRET_A }).hash(key);
    const a2 = new ProxyKeyHasher({ current: Buffer.from(SECRET_A) }).hash(key);
    const b = new ProxyKeyHasher({ current: SECRET_B }).hash(key);
    assert.deepEqual(a1, a2);
    assert.notEqual(a1.value, b.value);
    assert.notEqual(a1.keyId, b.keyId);
    assert.notEqual(new ProxyKeyHasher({ current: SECRET_A }).hash(newProxyKey()).value, a1.value);
    assert.match(a1.value, /^[0-9a-f]{64}$/);
    assert.match(a1.keyId, /^pkh-[0-9a-f]{16}$/);
  });

  test('rotation: hashes under current first, then each previous secret', () => {
    const hasher = new ProxyKeyHasher({ current: SECRET_B, previous: [SECRET_A] });
    const key = parsed(KNOWN_KEY);
    assert.equal(hasher.currentKeyId, deriveKeyId(SECRET_B));
    assert.deepEqual(hasher.keyIds, [deriveKeyId(SECRET_B), deriveKeyId(SECRET_A)]);
    const all = hasher.hashAll(key);
    assert.deepEqual(all[0], hasher.hash(key));
    assert.deepEqual(all[1], new ProxyKeyHasher({ current: SECRET_A }).hash(key));
    assert.deepEqual(hasher.hashUnder(key, deriveKeyId(SECRET_A)), all[1]);
    assert.equal(hasher.hashUnder(key, 'pkh-0000000000000000'), null);
    assert.ok(hasher.knows(deriveKeyId(SECRET_A)));
    assert.ok(!hasher.knows('pkh-0000000000000000'));
  });

  test('verify: the stored hash of this key, under whichever configured secret', () => {
    const old = new ProxyKeyHasher({ current: SECRET_A }).hash(parsed(KNOWN_KEY));
    const hasher = new ProxyKeyHasher({ current: SECRET_B, previous: [SECRET_A] });
    assert.ok(hasher.verify(parsed(KNOWN_KEY), old));
    assert.ok(hasher.verify(parsed(KNOWN_KEY), hasher.hash(parsed(KNOWN_KEY))));
    assert.ok(!hasher.verify(newProxyKey(), old));
    assert.ok(!new ProxyKeyHasher({ current: SECRET_B }).verify(parsed(KNOWN_KEY), old));
    assert.ok(!hasher.verify(parsed(KNOWN_KEY), { ...old, value: old.value.toUpperCase() }));
    assert.ok(!hasher.verify(parsed(KNOWN_KEY), { ...old, value: 'short' }));
  });

  test('weak or wrong server secrets are refused with config_invalid, without echoing them', () => {
    const short = Buffer.from('0123456789abcdef0123456789abcde'); // 31 bytes
    for (const secrets of [
      { current: short },
      { current: Buffer.alloc(32) },
      { current: Buffer.alloc(64, 7) },
      { current: 'a string of more than thirty-two characters' as unknown as Buffer },
      { current: SECRET_A, previous: [short] },
      { current: SECRET_A, previous: [Buffer.from(SECRET_A)] },
    ]) {
      assert.throws(
        () => new ProxyKeyHasher(secrets),
        (error: unknown) =>
          error instanceof KordonError &&
          error.code === 'config_invalid' &&
          !error.message.includes('0123456789abcdef') &&
          !error.message.includes('thirty-two'),
      );
    }
    assert.throws(() => deriveKeyId(short), KordonError);
  });

  test('only a parsed key can be hashed', () => {
    const hasher = new ProxyKeyHasher({ current: SECRET_A });
    assert.throws(
      () => hasher.hash({ prefix: 'kdn_x', reveal: () => KNOWN_KEY } as unknown as ProxyKey),
      TypeError,
    );
  });

  test('isProxyKeyHash', () => {
    const hash = new ProxyKeyHasher({ current: SECRET_A }).hash(newProxyKey());
    assert.ok(isProxyKeyHash(hash));
    for (const bad of [
      null,
      'x',
      {},
      { ...hash, algorithm: 'sha256' },
      { ...hash, keyId: '' },
      { ...hash, value: KNOWN_KEY },
    ]) {
      assert.ok(!isProxyKeyHash(bad));
    }
  });
});

describe('generateProxyKey', () => {
  const hasher = new ProxyKeyHasher({ current: randomBytes(32), previous: [randomBytes(32)] });

  test('returns the secret once, its display prefix and its hash under the current secret', () => {
    const generated = generateProxyKey(hasher);
    assert.deepEqual(Object.keys(generated).sort(), ['hash', 'prefix', 'secret']);
    assert.equal(generated.prefix, generated.secret.slice(0, 4 + PROXY_KEY_DISPLAY_LENGTH));
    assert.equal(generated.hash.keyId, hasher.currentKeyId);
    assert.deepEqual(generated.hash, hasher.hash(parsed(generated.secret)));
  });

  test('prefix and hash validate as a ProxyKeyIssued event', () => {
    for (let i = 0; i < 50; i++) {
      const { prefix, hash } = generateProxyKey(hasher);
      const event = issuedEvent(prefix, hash);
      assert.equal(event.type, 'ProxyKeyIssued');
      assert.deepEqual((event.data as { hash: unknown }).hash, hash);
    }
  });

  test('the secret never appears in the event beyond the 8 display characters', () => {
    for (let i = 0; i < 200; i++) {
      const { secret, prefix, hash } = generateProxyKey(hasher);
      const stored = JSON.stringify(issuedEvent(prefix, hash));
      assert.ok(!stored.includes(secret));
      assert.ok(!looksLikeSecret(stored));
      const shown = secret.slice(4, 4 + PROXY_KEY_DISPLAY_LENGTH);
      assert.equal(prefix, `kdn_${shown}`);
      // No 8-character run of the part never shown (the 30 characters after the display ones).
      const hidden = secret.slice(4 + PROXY_KEY_DISPLAY_LENGTH);
      for (let at = 0; at + 8 <= hidden.length; at++) {
        assert.ok(!stored.includes(hidden.slice(at, at + 8)), `hidden run at ${at} leaked`);
      }
      assert.ok(!JSON.stringify(hash).includes(shown), 'the hash record holds none of the key');
    }
  });
});

describe('importProxyKey (a secret from the declarative config)', () => {
  const hasher = new ProxyKeyHasher({ current: SECRET_A });

  test('a well-formed key is hashed like a generated one', () => {
    const imported = importProxyKey(hasher, KNOWN_KEY);
    assert.ok(imported.ok);
    assert.equal(imported.prefix, 'kdn_Kordon0p');
    assert.deepEqual(imported.hash, hasher.hash(parsed(KNOWN_KEY)));
    assert.ok(!JSON.stringify(imported).includes(KNOWN_KEY));
    issuedEvent(imported.prefix, imported.hash);
  });

  test('a malformed or mistyped key is refused with a reason only', () => {
    const typo = `${KNOWN_KEY.slice(0, 10)}X${KNOWN_KEY.slice(11)}`;
    assert.deepEqual(importProxyKey(hasher, typo), { ok: false, reason: 'bad_checksum' });
    assert.deepEqual(importProxyKey(hasher, `sk-${KNOWN_KEY.slice(3)}`), { ok: false, reason: 'malformed' });
    assert.deepEqual(importProxyKey(hasher, ` ${KNOWN_KEY}`), { ok: false, reason: 'malformed' });
    assert.deepEqual(importProxyKey(hasher, undefined), { ok: false, reason: 'malformed' });
  });
});
