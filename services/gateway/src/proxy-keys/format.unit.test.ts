import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import * as zlib from 'node:zlib';
import { looksLikeSecret } from '@kordon/events';
import {
  BASE62_ALPHABET,
  crc32,
  encodeBase62Fixed,
  newProxyKey,
  PROXY_KEY_LENGTH,
  PROXY_KEY_PATTERN,
  PROXY_KEY_RANDOM_BITS,
  PROXY_KEY_SCAN_PATTERN,
  PROXY_KEY_SCAN_SOURCE,
  parseProxyKey,
  proxyKeyChecksum,
} from './format.js';

/** A fixed key: the format is stored forever, so its checksum is pinned here. */
const RANDOM_PART = 'Kordon0proxy0key0test0vector0001';
const KNOWN_KEY = 'kdn_Kordon0proxy0key0test0vector00011b5n6i';

function rejectionOf(candidate: unknown): string {
  const parsed = parseProxyKey(candidate);
  return parsed.ok ? 'ok' : parsed.reason;
}

describe('format', () => {
  test('shape: kdn_ + 32 random + 6 checksum, 42 characters, >= 128 random bits', () => {
    assert.equal(PROXY_KEY_LENGTH, 42);
    assert.ok(PROXY_KEY_RANDOM_BITS >= 128);
    // The 24 characters never shown in the display prefix still carry more than 128 bits.
    assert.ok(24 * Math.log2(62) >= 128);
    assert.equal(PROXY_KEY_PATTERN.source, '^kdn_[0-9A-Za-z]{38}$');
    assert.equal(PROXY_KEY_SCAN_SOURCE, '\\bkdn_[0-9A-Za-z]{38}\\b');
  });

  test('known vector: CRC-32 of the random part, 6 base62 digits', () => {
    assert.equal(crc32(RANDOM_PART), 1464237676);
    assert.equal(proxyKeyChecksum(RANDOM_PART), '1b5n6i');
    assert.equal(`kdn_${RANDOM_PART}1b5n6i`, KNOWN_KEY);
    assert.equal(rejectionOf(KNOWN_KEY), 'ok');
  });

  test('crc32 agrees with zlib (where this Node has zlib.crc32)', (t) => {
    const zlibCrc = (zlib as { crc32?: (data: string) => number }).crc32;
    if (!zlibCrc) return t.skip('zlib.crc32 needs Node 20.15');
    for (let i = 0; i < 200; i++) {
      const random = newProxyKey().reveal().slice(4, 36);
      assert.equal(crc32(random), zlibCrc(random));
    }
    assert.equal(crc32(''), 0);
    assert.equal(crc32('123456789'), 0xcbf43926); // the standard check value
  });

  test('base62 fixed width: zero padded, highest CRC fits', () => {
    assert.equal(encodeBase62Fixed(0, 6), '000000');
    assert.equal(encodeBase62Fixed(61, 6), '00000z');
    assert.equal(encodeBase62Fixed(62, 6), '000010');
    assert.equal(encodeBase62Fixed(0xffffffff, 6), '4gfFC3');
    assert.equal(encodeBase62Fixed(62 ** 6 - 1, 6), 'zzzzzz');
  });
});

describe('newProxyKey', () => {
  test('generated keys match the regex, the scan regex and parse', () => {
    for (let i = 0; i < 1000; i++) {
      const secret = newProxyKey().reveal();
      assert.match(secret, PROXY_KEY_PATTERN);
      assert.match(`token=${secret};`, PROXY_KEY_SCAN_PATTERN);
      assert.ok(looksLikeSecret(secret), 'the event catalogue recognises it as a secret');
      const parsed = parseProxyKey(secret);
      assert.ok(parsed.ok);
      assert.equal(parsed.key.reveal(), secret);
      assert.equal(parsed.key.prefix, secret.slice(0, 12));
    }
  });

  test('10,000 keys are unique (and so are their random parts and display prefixes)', () => {
    const keys = new Set<string>();
    const randoms = new Set<string>();
    const prefixes = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const secret = newProxyKey().reveal();
      keys.add(secret);
      randoms.add(secret.slice(4, 36));
      prefixes.add(secret.slice(0, 12));
    }
    assert.equal(keys.size, 10_000);
    assert.equal(randoms.size, 10_000);
    // 62^8 = 2.2e14 display prefixes: a collision among 10,000 has odds of about 2e-7.
    assert.equal(prefixes.size, 10_000);
  });

  test('every alphabet character shows up, spread evenly (no modulo bias visible)', () => {
    const counts = new Map<string, number>();
    const n = 4000;
    for (let i = 0; i < n; i++) {
      for (const c of newProxyKey().reveal().slice(4, 36)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    assert.equal(counts.size, 62);
    const expected = (n * 32) / 62; // about 2065 each
    for (const [c, count] of counts) {
      // 8 standard deviations either way: fails only on a real bias.
      assert.ok(Math.abs(count - expected) < 8 * Math.sqrt(expected), `${c}: ${count} vs ${expected}`);
    }
  });

  test('the key object never prints its secret', () => {
    const key = newProxyKey();
    const secret = key.reveal();
    for (const shown of [String(key), `${key}`, JSON.stringify({ key }), inspect(key), inspect({ key })]) {
      assert.ok(!shown.includes(secret), shown);
      assert.ok(!shown.includes(secret.slice(12)), shown);
      assert.ok(shown.includes(key.prefix));
    }
    assert.ok(Object.isFrozen(key));
    assert.deepEqual(Object.keys(key), ['prefix']);
  });
});

describe('parseProxyKey: the checksum', () => {
  const samples = [KNOWN_KEY, ...Array.from({ length: 10 }, () => newProxyKey().reveal())];

  test('any single changed character, at every position, is refused', () => {
    let checked = 0;
    for (const key of samples) {
      for (let i = 0; i < key.length; i++) {
        for (const c of `${BASE62_ALPHABET}_-. \u0430\uff10`) {
          if (c === key[i]) continue;
          const changed = key.slice(0, i) + c + key.slice(i + 1);
          const reason = rejectionOf(changed);
          // In the prefix, or a character outside base62: malformed. Otherwise the checksum.
          const expected = i < 4 || !BASE62_ALPHABET.includes(c) ? 'malformed' : 'bad_checksum';
          assert.equal(reason, expected, `${key} with [${i}] = ${JSON.stringify(c)}`);
          checked++;
        }
      }
    }
    assert.ok(checked > samples.length * 42 * 60);
  });

  test('swapped neighbours, a dropped or an added character are refused', () => {
    for (const key of samples) {
      for (let i = 4; i < key.length - 1; i++) {
        if (key[i] === key[i + 1]) continue;
        const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
        assert.equal(rejectionOf(swapped), 'bad_checksum', `swap ${i}`);
      }
      for (let i = 0; i < key.length; i++) {
        assert.equal(rejectionOf(key.slice(0, i) + key.slice(i + 1)), 'malformed');
        assert.equal(rejectionOf(`${key.slice(0, i)}a${key.slice(i)}`), 'malformed');
      }
    }
  });

  test('a body with its case changed is refused by the checksum', () => {
    for (const key of samples) {
      const body = key.slice(4);
      for (const changed of [body.toUpperCase(), body.toLowerCase()]) {
        if (changed === body) continue;
        assert.equal(rejectionOf(`kdn_${changed}`), 'bad_checksum');
      }
    }
  });
});

describe('parseProxyKey: hostile input is malformed and never throws', () => {
  const key = KNOWN_KEY;
  const cases: [string, unknown][] = [
    ['empty', ''],
    ['prefix only', 'kdn_'],
    ['1 MB string', 'a'.repeat(1024 * 1024)],
    ['1 MB string starting with a key', key + 'a'.repeat(1024 * 1024)],
    ['upper-case prefix', `KDN_${key.slice(4)}`],
    ['mixed-case prefix', `Kdn_${key.slice(4)}`],
    ['whole key upper case', key.toUpperCase()],
    ['other separator', `kdn-${key.slice(4)}`],
    ['leading space', ` ${key.slice(0, -1)}`],
    ['trailing newline', `${key.slice(0, -1)}\n`],
    ['surrounding whitespace', ` ${key} `],
    ['Cyrillic a (U+0430) instead of a letter', key.replace(/[a-z]/, '\u0430')],
    ['Cyrillic k in the prefix', `\u043adn_${key.slice(4)}`],
    ['fullwidth digit (U+FF10)', `${key.slice(0, 20)}\uff10${key.slice(21)}`],
    ['fullwidth prefix', `\uff4b\uff44\uff4e_${key.slice(4)}`],
    ['NUL inside', `${key.slice(0, 10)}\u0000${key.slice(11)}`],
    ['zero-width space inside', `${key.slice(0, 10)}\u200b${key.slice(11)}`],
    ['emoji (surrogate pair)', `${key.slice(0, 40)}\u{1f511}`],
    ['lone surrogate', `${key.slice(0, 41)}\ud800`],
    ['char code 0x142 (low byte "B")', `${key.slice(0, 20)}\u0142${key.slice(21)}`],
    ['base64 characters', `${key.slice(0, 20)}+${key.slice(21)}`],
    ['one short', key.slice(0, -1)],
    ['one long', `${key}a`],
    ['two keys', key + key],
    ['undefined', undefined],
    ['null', null],
    ['number', 42],
    ['String object', new String(key)],
    ['array', [key]],
    ['object with toString', { toString: () => key }],
  ];
  for (const [name, candidate] of cases) {
    test(name, () => {
      assert.equal(rejectionOf(candidate), 'malformed');
    });
  }

  test('every character code in every position', () => {
    for (let i = 0; i < key.length; i++) {
      for (let code = 0; code < 0x10000; code += 97) {
        const changed = key.slice(0, i) + String.fromCharCode(code) + key.slice(i + 1);
        if (changed === key) continue;
        assert.notEqual(rejectionOf(changed), 'ok');
      }
    }
  });
});
