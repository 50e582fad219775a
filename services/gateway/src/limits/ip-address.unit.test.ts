import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIp } from './ip-address.js';

describe('parseIp', () => {
  it('gives the same answer the second time, remembered and frozen', () => {
    const first = parseIp('::ffff:10.1.2.3');
    assert.deepEqual(first, { version: 4, value: 0x0a010203, text: '10.1.2.3' });
    assert.equal(parseIp('::ffff:10.1.2.3'), first);
    assert.ok(Object.isFrozen(first));
    assert.equal(parseIp('010.0.0.1'), null);
    assert.equal(parseIp('010.0.0.1'), null, 'a refusal is remembered as a refusal');
  });

  it('refuses a long text without remembering it', () => {
    const long = `1.2.3.4${' '.repeat(10_000)}`;
    assert.equal(parseIp(long), null);
    assert.equal(parseIp('1'.repeat(65)), null);
  });
});
