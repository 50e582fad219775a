import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveClientIp } from './client-ip.js';
import { parseIp } from './ip-address.js';
import { CidrSet, IpRules } from './ip-rules.js';

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

  /*
   * `::127.0.0.1` is RFC 4291 §2.2 form 3 of the IPv6 address ::7f00:1 (the deprecated
   * IPv4-compatible block ::/96, §2.5.5.1), not of the IPv4-mapped ::ffff:7f00:1; Node and glibc
   * print ::/96 addresses in exactly this form (ipaddr.js alone would make it 127.0.0.1).
   */
  it('::127.0.0.1 and ::7f00:1 are one IPv6 address with one canonical text; only ::ffff:0:0/96 is IPv4', () => {
    assert.deepEqual(parseIp('::127.0.0.1'), { version: 6, value: 0x7f000001n, text: '::7f00:1' });
    assert.equal(parseIp('::127.0.0.1')?.text, parseIp('::7f00:1')?.text);
    assert.equal(parseIp('::ffff:127.0.0.1')?.text, '127.0.0.1');
    assert.equal(parseIp('::ffff:0:1.2.3.4')?.text, '::ffff:0:102:304');
    assert.equal(parseIp('1:2:3:4:5:6:1.2.3.4')?.text, '1:2:3:4:5:6:102:304');
    assert.equal(parseIp('::1.2.3.256'), null);
  });

  it('an IPv6 peer in ::/96 (printed ::10.0.0.5) is not an IPv4 trusted proxy or an IPv4 allow-listed client', () => {
    const trusted = CidrSet.parse(['10.0.0.0/8']);
    // The peer is the IPv6 address ::a00:5, not 10.0.0.5: its X-Forwarded-For is not believed.
    assert.equal(resolveClientIp('::10.0.0.5', '198.51.100.7', trusted)?.text, '::a00:5');
    assert.equal(IpRules.parse({ allow: ['10.0.0.0/8'] }).check(parseIp('::10.0.0.5')!), 'not_allowed');
  });
});
