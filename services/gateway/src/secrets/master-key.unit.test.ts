import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { isKordonError } from '@kordon/events';
import {
  MASTER_KEY_ID_PATTERN,
  MasterKey,
  MasterKeyRing,
  masterKeyId,
  masterKeyWeakness,
} from './master-key.js';

function assertConfigInvalid(fn: () => unknown, pattern: RegExp, mustNotContain: string[] = []) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isKordonError(error, 'config_invalid'), `expected config_invalid, got ${String(error)}`);
    assert.match(error.message, pattern);
    for (const text of mustNotContain) {
      if (text !== '') assert.ok(!error.message.includes(text), `message quotes the key: ${error.message}`);
    }
    return true;
  });
}

describe('master key strength', () => {
  const weak: [string, Buffer, RegExp][] = [
    ['16 bytes', randomBytes(16), /exactly 32 bytes \(got 16\)/],
    ['31 bytes', randomBytes(31), /got 31/],
    ['33 bytes', randomBytes(33), /got 33/],
    ['empty', Buffer.alloc(0), /got 0/],
    ['all zero', Buffer.alloc(32), /same value in every byte/],
    ['all 0xff', Buffer.alloc(32, 0xff), /same value/],
    ['all "A"', Buffer.alloc(32, 'A'), /same value/],
    ['FIPS-197 0x00..0x1f', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), /well-known/],
    ['0x01..0x20', Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1)), /counting sequence/],
    ['0x1f..0x00', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), /counting sequence/],
    [
      'SP 800-38A AES-256',
      Buffer.from('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', 'hex'),
      /well-known/,
    ],
    ['GCM test case 14', Buffer.from('feffe9928665731c6d6a8f9467308308'.repeat(2), 'hex'), /well-known/],
    ['sha256("")', createHash('sha256').update('').digest(), /well-known/],
    ['sha256("changeme\\n")', createHash('sha256').update('changeme\n').digest(), /well-known/],
    ['sha256("password")', createHash('sha256').update('password').digest(), /well-known/],
    ['repeated half', randomBytes(16).toString('hex').repeat(2), /repeats its first half/],
    ['few distinct values', randomBytes(32).map((byte) => (byte % 8) * 30), /distinct byte values/],
    ['a passphrase', Buffer.from('My-Very-Secret-Passw0rd-For-2025'), /printable text/],
  ].map(([name, bytes, pattern]) => [
    name as string,
    typeof bytes === 'string' ? Buffer.from(bytes, 'hex') : (bytes as Buffer),
    pattern as RegExp,
  ]);

  for (const [name, bytes, pattern] of weak) {
    test(`refuses ${name}`, () => {
      assert.match(masterKeyWeakness(bytes) ?? 'accepted', pattern);
      assertConfigInvalid(
        () => MasterKey.fromBytes(bytes, 'TEST_KEY'),
        /^TEST_KEY: refusing a weak master key/,
      );
      if (bytes.length === 32) {
        assertConfigInvalid(
          () => MasterKey.fromText(bytes.toString('base64'), 'TEST_KEY'),
          /weak master key/,
          [bytes.toString('base64'), bytes.toString('hex')],
        );
      }
    });
  }

  test('accepts 1,000 random keys (no false positives)', () => {
    for (let i = 0; i < 1000; i++) assert.equal(masterKeyWeakness(randomBytes(32)), null);
  });
});

describe('master key text', () => {
  const bytes = randomBytes(32);
  const id = masterKeyId(bytes);

  test('hex (either case), base64 and base64url, with or without padding and whitespace', () => {
    const spellings = [
      bytes.toString('hex'),
      bytes.toString('hex').toUpperCase(),
      bytes.toString('base64'),
      bytes.toString('base64').replace(/=$/, ''),
      bytes.toString('base64url'),
      `  ${bytes.toString('base64')}\n`,
    ];
    for (const text of spellings) assert.equal(MasterKey.fromText(text, 'K').id, id, text);
  });

  test('anything else is refused without quoting the value', () => {
    const bad = [
      '',
      'not a key',
      bytes.toString('hex').slice(2),
      `${bytes.toString('hex')}00`,
      randomBytes(24).toString('base64'),
      randomBytes(48).toString('base64'),
      `${bytes.toString('base64').slice(0, 42)}!=`,
    ];
    for (const text of bad) {
      assertConfigInvalid(
        () => MasterKey.fromText(text, 'KORDON_MASTER_KEY'),
        /^KORDON_MASTER_KEY: expected 32 bytes/,
        [text.trim()],
      );
    }
  });

  test('non-canonical base64 (unused low bits set) is refused as a likely typo', () => {
    const canonical = bytes.toString('base64'); // 43 characters + '='
    const last = canonical[42] ?? 'A';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const tweaked = alphabet[(alphabet.indexOf(last) ^ 1) % 64] ?? 'B';
    assertConfigInvalid(
      () => MasterKey.fromText(`${canonical.slice(0, 42)}${tweaked}=`, 'K'),
      /expected 32 bytes/,
    );
  });
});

describe('MasterKey', () => {
  test('its id is derived from the key: stable, 16 hex characters, a valid event id', () => {
    const bytes = randomBytes(32);
    const a = MasterKey.fromBytes(bytes, 'a');
    const b = MasterKey.fromText(bytes.toString('hex'), 'b');
    assert.equal(a.id, b.id);
    assert.match(a.id, MASTER_KEY_ID_PATTERN);
    assert.ok(a.equals(b));
    assert.notEqual(MasterKey.generate().id, a.id);
    const plain = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    assert.notEqual(a.id, plain, 'the id is domain-separated, not a bare SHA-256 fingerprint');
  });

  test('never shows the key material', () => {
    const bytes = randomBytes(32);
    const key = MasterKey.fromBytes(bytes, 'KORDON_MASTER_KEY');
    const ring = new MasterKeyRing(key, [MasterKey.generate()]);
    for (const shown of [
      String(key),
      JSON.stringify(key),
      inspect(key, { showHidden: true, depth: 10 }),
      inspect(key, { customInspect: false, showHidden: true, depth: 10 }),
      String(ring),
      JSON.stringify(ring),
      inspect(ring, { showHidden: true, depth: 10 }),
      inspect(ring, { customInspect: false, showHidden: true, depth: 10 }),
      JSON.stringify({ ...key }),
    ]) {
      assert.ok(!shown.includes(bytes.toString('hex')) && !shown.includes(bytes.toString('base64')), shown);
    }
    assert.equal(JSON.stringify(key), JSON.stringify({ id: key.id, source: 'KORDON_MASTER_KEY' }));
  });
});

describe('MasterKeyRing', () => {
  const a = MasterKey.generate('a');
  const b = MasterKey.generate('b');
  const c = MasterKey.generate('c');

  test('current first, older keys findable by id, duplicates folded', () => {
    const ring = new MasterKeyRing(a, [b, a, b]);
    assert.equal(ring.currentId, a.id);
    assert.deepEqual(ring.ids, [a.id, b.id]);
    assert.equal(ring.get(b.id), b);
    assert.ok(ring.has(b.id));
    assert.equal(ring.get(c.id), undefined);
  });

  test('rotate makes the new key current and keeps the others; without drops an old one', () => {
    const rotated = new MasterKeyRing(a, [b]).rotate(c);
    assert.equal(rotated.currentId, c.id);
    assert.deepEqual(rotated.ids, [c.id, a.id, b.id]);
    assert.deepEqual(rotated.without(a.id).ids, [c.id, b.id]);
    assertConfigInvalid(() => rotated.without(c.id), /current key/);
  });

  test('JSON shows ids only', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(new MasterKeyRing(a, [b]))), { current: a.id, older: [b.id] });
  });
});
