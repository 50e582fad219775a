import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { newProxyKey, parseProxyKey } from './format.js';
import { ProxyKeyHasher } from './hash.js';
import { generateProxyKey, importProxyKey } from './issue.js';
import { ProxyKeyIndex } from './proxy-key-index.js';

const KNOWN_KEY = 'kdn_Kordon0proxy0key0test0vector00011b5n6i';
const OLD = randomBytes(32);
const NEW = randomBytes(32);

describe('ProxyKeyIndex', () => {
  test('finds a registered key, refuses an unknown one', () => {
    const hasher = new ProxyKeyHasher({ current: NEW });
    const index = new ProxyKeyIndex(hasher);
    const keys = Array.from({ length: 100 }, (_, i) => {
      const generated = generateProxyKey(hasher);
      assert.deepEqual(index.add(`key-${i}`, generated.hash), { ok: true, status: 'added', usable: true });
      return generated.secret;
    });
    assert.equal(index.size, 100);
    keys.forEach((secret, i) => {
      assert.deepEqual(index.authenticate(secret), {
        ok: true,
        proxyKeyId: `key-${i}`,
        keyId: hasher.currentKeyId,
        current: true,
      });
    });
    assert.deepEqual(index.authenticate(newProxyKey().reveal()), { ok: false, reason: 'unknown' });
  });

  test('a malformed or mistyped key is refused before any lookup', () => {
    const index = new ProxyKeyIndex(new ProxyKeyHasher({ current: NEW }));
    const { secret, hash } = generateProxyKey(new ProxyKeyHasher({ current: NEW }));
    index.add('key-1', hash);
    const typo = secret.slice(0, 20) + (secret[20] === 'a' ? 'b' : 'a') + secret.slice(21);
    assert.deepEqual(index.authenticate(typo), { ok: false, reason: 'bad_checksum' });
    assert.deepEqual(index.authenticate(`${secret} `), { ok: false, reason: 'malformed' });
    assert.deepEqual(index.authenticate('x'.repeat(1 << 20)), { ok: false, reason: 'malformed' });
    assert.deepEqual(index.authenticate(null), { ok: false, reason: 'malformed' });
  });

  test('rotation: keys hashed under the previous secret still authenticate', () => {
    const before = new ProxyKeyHasher({ current: OLD });
    const oldKey = generateProxyKey(before);
    const after = new ProxyKeyHasher({ current: NEW, previous: [OLD] });
    const newKey = generateProxyKey(after);
    const index = new ProxyKeyIndex(after);
    index.add('old', oldKey.hash);
    index.add('new', newKey.hash);
    assert.deepEqual(index.authenticate(oldKey.secret), {
      ok: true,
      proxyKeyId: 'old',
      keyId: before.currentKeyId,
      current: false,
    });
    assert.deepEqual(index.authenticate(newKey.secret), {
      ok: true,
      proxyKeyId: 'new',
      keyId: after.currentKeyId,
      current: true,
    });

    // Once the old secret is dropped, its keys no longer work (and say so when added).
    const dropped = new ProxyKeyIndex(new ProxyKeyHasher({ current: NEW }));
    assert.deepEqual(dropped.add('old', oldKey.hash), { ok: true, status: 'added', usable: false });
    assert.deepEqual(dropped.authenticate(oldKey.secret), { ok: false, reason: 'unknown' });
  });

  test('a key re-hashed under the new secret is found under either', () => {
    const after = new ProxyKeyHasher({ current: NEW, previous: [OLD] });
    const key = parseProxyKey(KNOWN_KEY);
    assert.ok(key.ok);
    const [current, previous] = after.hashAll(key.key);
    const index = new ProxyKeyIndex(after);
    assert.ok(index.add('k', previous!).ok);
    assert.ok(index.add('k', current!).ok);
    assert.equal(index.size, 1);
    assert.deepEqual(index.lookup(key.key), { proxyKeyId: 'k', keyId: after.currentKeyId, current: true });
    assert.ok(index.remove('k'));
    assert.equal(index.lookup(key.key), null);
    assert.ok(!index.remove('k'));
  });

  test('import of a known key (declarative config), replay and duplicates', () => {
    const hasher = new ProxyKeyHasher({ current: NEW });
    const index = new ProxyKeyIndex(hasher);
    const imported = importProxyKey(hasher, KNOWN_KEY);
    assert.ok(imported.ok);
    assert.deepEqual(index.add('from-config', imported.hash), { ok: true, status: 'added', usable: true });
    // Replaying the same event is harmless.
    assert.deepEqual(index.add('from-config', imported.hash), {
      ok: true,
      status: 'unchanged',
      usable: true,
    });
    // The same secret declared for a second key is refused, naming the first.
    assert.deepEqual(index.add('other', imported.hash), {
      ok: false,
      reason: 'hash_in_use',
      proxyKeyId: 'from-config',
    });
    assert.deepEqual(index.authenticate(KNOWN_KEY), {
      ok: true,
      proxyKeyId: 'from-config',
      keyId: hasher.currentKeyId,
      current: true,
    });
  });

  test('invalid hash records are refused', () => {
    const index = new ProxyKeyIndex(new ProxyKeyHasher({ current: NEW }));
    const { hash } = generateProxyKey(new ProxyKeyHasher({ current: NEW }));
    for (const bad of [{ ...hash, value: hash.value.toUpperCase() }, { ...hash, algorithm: 'plain' }, null]) {
      assert.deepEqual(index.add('k', bad as never), { ok: false, reason: 'invalid_hash' });
    }
    assert.equal(index.size, 0);
  });
});
