import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveClientIp } from './client-ip.js';
import { parseIp } from './ip-address.js';
import { CidrSet } from './ip-rules.js';

const NONE = CidrSet.EMPTY;
const PROXIES = CidrSet.parse(['10.0.0.0/8', '2001:db8:ffff::/48', '127.0.0.1']);
const client = (peer: string | undefined, xff: string | readonly string[] | undefined, trusted = PROXIES) =>
  resolveClientIp(peer, xff, trusted)?.text ?? null;

describe('parseIp', () => {
  test('canonical text; IPv4-mapped IPv6 becomes IPv4', () => {
    assert.deepEqual(parseIp('192.0.2.7'), { version: 4, value: 0xc0000207, text: '192.0.2.7' });
    assert.deepEqual(parseIp('::ffff:192.0.2.7'), { version: 4, value: 0xc0000207, text: '192.0.2.7' });
    assert.deepEqual(parseIp('::FFFF:c000:0207'), { version: 4, value: 0xc0000207, text: '192.0.2.7' });
    assert.equal(parseIp('2001:DB8:0:0:0:0:0:1')?.text, '2001:db8::1');
    assert.equal(parseIp('2001:db8::1')?.version, 6);
    assert.equal(parseIp('fe80::1%eth0')?.text, 'fe80::1');
    assert.equal(parseIp('1:2:3:4:5:6:7::')?.text, '1:2:3:4:5:6:7:0');
    assert.equal(parseIp('::')?.text, '::');
  });

  test('refuses forms parsers disagree on, and garbage', () => {
    for (const bad of [
      '',
      'unknown',
      '_hidden',
      'example.com',
      '127.1',
      '0x7f.0.0.1',
      '010.0.0.1',
      '256.0.0.1',
      '1.2.3.4.5',
      '1.2.3',
      '::ffff:0x7f.0.0.1',
      '12345::1',
      '1:2:3:4:5:6:7:8:9',
      ':::1',
      '1.2.3.4 ',
      'x'.repeat(100),
    ]) {
      assert.equal(parseIp(bad), null, bad);
    }
  });
});

describe('resolveClientIp', () => {
  test('without trusted proxies the peer is the client; a spoofed header changes nothing', () => {
    assert.equal(client('203.0.113.9', '1.1.1.1', NONE), '203.0.113.9');
    assert.equal(client('203.0.113.9', ['1.1.1.1', '10.0.0.1'], NONE), '203.0.113.9');
    assert.equal(client('::ffff:203.0.113.9', '1.1.1.1', NONE), '203.0.113.9');
  });

  test('an untrusted peer is the client even when proxies are configured', () => {
    assert.equal(client('203.0.113.9', '198.51.100.1, 10.0.0.2'), '203.0.113.9');
  });

  test('two trusted hops: walk right to left to the first untrusted address', () => {
    // client 198.51.100.4 -> proxy 10.1.1.1 -> proxy 10.2.2.2 (peer); the client claims to be 6.6.6.6.
    assert.equal(client('10.2.2.2', '6.6.6.6, 198.51.100.4, 10.1.1.1'), '198.51.100.4');
    assert.equal(client('10.2.2.2', ['6.6.6.6, 198.51.100.4', '10.1.1.1']), '198.51.100.4');
    assert.equal(client('::ffff:10.2.2.2', '6.6.6.6,198.51.100.4,10.1.1.1'), '198.51.100.4');
  });

  test('a client that writes trusted-looking addresses on the left gains nothing', () => {
    assert.equal(client('10.2.2.2', '10.9.9.9, 198.51.100.4, 10.1.1.1'), '198.51.100.4');
  });

  test('all hops trusted: the leftmost one', () => {
    assert.equal(client('10.2.2.2', '10.0.0.3, 10.1.1.1'), '10.0.0.3');
  });

  test('no or empty header from a trusted peer: the peer', () => {
    assert.equal(client('10.2.2.2', undefined), '10.2.2.2');
    assert.equal(client('10.2.2.2', ''), '10.2.2.2');
    assert.equal(client('10.2.2.2', []), '10.2.2.2');
  });

  test('a malformed entry stops the walk at the last trusted address', () => {
    assert.equal(client('10.2.2.2', '198.51.100.4, garbage, 10.1.1.1'), '10.1.1.1');
    assert.equal(client('10.2.2.2', '198.51.100.4, unknown'), '10.2.2.2');
    assert.equal(client('10.2.2.2', '198.51.100.4,,10.1.1.1'), '10.1.1.1');
    assert.equal(client('10.2.2.2', '198.51.100.4, 10.1.1.1,'), '10.2.2.2');
    assert.equal(client('10.2.2.2', '127.1'), '10.2.2.2');
  });

  test('IPv6 hops, mapped IPv4 entries, ports and brackets', () => {
    assert.equal(client('2001:db8:ffff::1', '2001:db8:abcd::42, 2001:db8:ffff::2'), '2001:db8:abcd::42');
    assert.equal(client('2001:db8:ffff::1', '::ffff:198.51.100.4'), '198.51.100.4');
    assert.equal(client('10.2.2.2', '198.51.100.4:51234, 10.1.1.1:443'), '198.51.100.4');
    assert.equal(client('10.2.2.2', '[2001:db8:abcd::42]:8443'), '2001:db8:abcd::42');
    assert.equal(client('10.2.2.2', '[2001:DB8:ABCD:0::42]'), '2001:db8:abcd::42');
  });

  test('a missing or unreadable peer gives null', () => {
    assert.equal(client(undefined, '198.51.100.4'), null);
    assert.equal(client('not-an-ip', '198.51.100.4'), null);
  });
});
