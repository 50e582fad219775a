import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseIpOrThrow } from './ip-address.js';
import { CidrSet, IpRules } from './ip-rules.js';

const ip = parseIpOrThrow;

describe('CidrSet', () => {
  test('IPv4 ranges, prefix edges and single hosts', () => {
    const set = CidrSet.parse(['10.0.0.0/8', '192.168.1.0/24', '203.0.113.7', '198.51.100.1/32']);
    assert.equal(set.size, 4);
    for (const inside of [
      '10.0.0.0',
      '10.255.255.255',
      '192.168.1.0',
      '192.168.1.255',
      '203.0.113.7',
      '198.51.100.1',
    ]) {
      assert.equal(set.has(ip(inside)), true, inside);
    }
    for (const outside of [
      '9.255.255.255',
      '11.0.0.0',
      '192.168.0.255',
      '192.168.2.0',
      '203.0.113.8',
      '198.51.100.0',
    ]) {
      assert.equal(set.has(ip(outside)), false, outside);
    }
  });

  test('/0 and host bits after the prefix', () => {
    assert.equal(CidrSet.parse(['0.0.0.0/0']).has(ip('255.255.255.255')), true);
    assert.equal(CidrSet.parse(['0.0.0.0/0']).has(ip('::1')), false);
    assert.equal(CidrSet.parse(['10.1.2.3/8']).has(ip('10.200.0.1')), true);
    assert.equal(CidrSet.parse(['10.0.0.0/8', '10.0.0.0/8', '10.9.9.9/8']).size, 1);
  });

  test('IPv6 ranges', () => {
    const set = CidrSet.parse(['2001:db8::/32', 'fd00::/8', '2001:db8:1::5/128', '::1']);
    assert.equal(set.has(ip('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')), true);
    assert.equal(set.has(ip('2001:db9::')), false);
    assert.equal(set.has(ip('fdff::1')), true);
    assert.equal(set.has(ip('fe00::1')), false);
    assert.equal(set.has(ip('::1')), true);
    assert.equal(set.has(ip('::2')), false);
    assert.equal(CidrSet.parse(['::/0']).has(ip('2a00::1')), true);
    assert.equal(CidrSet.parse(['::/0']).has(ip('1.2.3.4')), false);
  });

  test('IPv4-mapped ranges and addresses meet IPv4 ones', () => {
    const mapped = CidrSet.parse(['::ffff:10.0.0.0/104']);
    assert.equal(mapped.has(ip('10.20.30.40')), true);
    assert.equal(mapped.has(ip('::ffff:10.20.30.40')), true);
    assert.equal(mapped.has(ip('11.0.0.1')), false);
    assert.equal(CidrSet.parse(['10.0.0.0/8']).has(ip('::ffff:10.1.1.1')), true);
  });

  test('bad ranges are refused with their text', () => {
    for (const bad of [
      '10.0.0.0/33',
      '2001:db8::/129',
      '10.0.0.0/',
      '10.0.0.0/08',
      '10.0.0/8',
      'example.com/8',
      '10.0.0.0/8/8',
      '::ffff:10.0.0.0/129',
    ]) {
      assert.throws(
        () => CidrSet.parse([bad]),
        (error: Error) => error instanceof RangeError && error.message.includes(bad),
        bad,
      );
    }
  });
});

describe('IpRules', () => {
  test('an empty allow list allows all; deny wins over allow', () => {
    const open = IpRules.parse({});
    assert.equal(open.check(ip('1.2.3.4')), 'allowed');
    assert.equal(IpRules.parse({ allow: [], deny: [] }).check(ip('2001:db8::1')), 'allowed');

    const rules = IpRules.parse({
      allow: ['10.0.0.0/8', '2001:db8::/32'],
      deny: ['10.6.0.0/16', '2001:db8:bad::/48'],
    });
    assert.equal(rules.check(ip('10.1.2.3')), 'allowed');
    assert.equal(rules.check(ip('::ffff:10.1.2.3')), 'allowed');
    assert.equal(rules.check(ip('10.6.1.1')), 'denied');
    assert.equal(rules.check(ip('192.0.2.1')), 'not_allowed');
    assert.equal(rules.check(ip('2001:db8:1::1')), 'allowed');
    assert.equal(rules.check(ip('2001:db8:bad::1')), 'denied');
    assert.equal(rules.check(ip('2001:db9::1')), 'not_allowed');
  });

  test('a deny list alone refuses only its ranges', () => {
    const rules = IpRules.parse({ deny: ['203.0.113.0/24', '::/0'] });
    assert.equal(rules.check(ip('203.0.113.200')), 'denied');
    assert.equal(rules.check(ip('2a00::1')), 'denied');
    assert.equal(rules.check(ip('198.51.100.1')), 'allowed');
  });

  test('a thousand ranges cost one lookup per prefix length', () => {
    const ranges = Array.from({ length: 1000 }, (_, i) => `100.${i >> 8}.${i & 255}.0/24`);
    const rules = IpRules.parse({ allow: ranges });
    assert.equal(rules.check(ip('100.3.231.77')), 'allowed');
    assert.equal(rules.check(ip('100.3.232.77')), 'not_allowed');
  });
});
