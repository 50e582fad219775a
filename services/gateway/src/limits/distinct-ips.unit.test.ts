import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DistinctIps } from './distinct-ips.js';
import { parseIpOrThrow } from './ip-address.js';
import { periodAt } from './period.js';

const DAY1 = periodAt('1d', 'Europe/Berlin', Date.parse('2025-06-02T10:00:00Z')).start;
const DAY2 = periodAt('1d', 'Europe/Berlin', Date.parse('2025-06-03T10:00:00Z')).start;

describe('DistinctIps', () => {
  test('a cap of 3: known addresses keep working, the 4th new one is refused', () => {
    const ips = new DistinctIps();
    assert.deepEqual(ips.admit('k1', '127.0.0.2', 3, DAY1), { allowed: true, count: 1, cap: 3, isNew: true });
    assert.deepEqual(ips.admit('k1', '127.0.0.3', 3, DAY1), { allowed: true, count: 2, cap: 3, isNew: true });
    assert.deepEqual(ips.admit('k1', '127.0.0.2', 3, DAY1), {
      allowed: true,
      count: 2,
      cap: 3,
      isNew: false,
    });
    assert.deepEqual(ips.admit('k1', '127.0.0.4', 3, DAY1), { allowed: true, count: 3, cap: 3, isNew: true });
    assert.deepEqual(ips.admit('k1', '127.0.0.5', 3, DAY1), {
      allowed: false,
      count: 3,
      cap: 3,
      isNew: true,
    });
    assert.deepEqual(ips.admit('k1', '127.0.0.5', 3, DAY1).allowed, false);
    assert.equal(ips.admit('k1', '127.0.0.3', 3, DAY1).allowed, true);
    assert.equal(ips.count('k1'), 3);
    // Other keys have their own sets.
    assert.equal(ips.admit('k2', '127.0.0.5', 3, DAY1).allowed, true);
  });

  test('check counts nothing; record counts what check allowed', () => {
    const ips = new DistinctIps();
    ips.admit('k1', '10.0.0.1', 2, DAY1);
    assert.deepEqual(ips.check('k1', '10.0.0.2', 2, DAY1), { allowed: true, count: 1, cap: 2, isNew: true });
    assert.deepEqual(ips.check('k1', '10.0.0.3', 2, DAY1), { allowed: true, count: 1, cap: 2, isNew: true });
    ips.record('k1', '10.0.0.3', DAY1);
    assert.deepEqual(ips.check('k1', '10.0.0.2', 2, DAY1), { allowed: false, count: 2, cap: 2, isNew: true });
    assert.equal(ips.check('k1', '10.0.0.3', 2, DAY1).isNew, false);
    // The next period starts empty, for the check as for the record.
    assert.deepEqual(ips.check('k1', '10.0.0.2', 2, DAY2), { allowed: true, count: 0, cap: 2, isNew: true });
    assert.equal(ips.count('k1'), 2);
    ips.record('k1', '10.0.0.2', DAY2);
    assert.equal(ips.count('k1'), 1);
  });

  test('one address in two spellings counts once when given canonical text', () => {
    const ips = new DistinctIps();
    ips.admit('k1', parseIpOrThrow('::ffff:127.0.0.2').text, 1, DAY1);
    assert.equal(ips.admit('k1', parseIpOrThrow('127.0.0.2').text, 1, DAY1).allowed, true);
    assert.equal(ips.admit('k1', parseIpOrThrow('2001:DB8::1').text, 1, DAY1).allowed, false);
  });

  test('the set empties with the next period; an older period is stale', () => {
    const ips = new DistinctIps();
    ips.admit('k1', '10.0.0.1', 1, DAY1);
    assert.equal(ips.admit('k1', '10.0.0.2', 1, DAY1).allowed, false);
    assert.equal(ips.admit('k1', '10.0.0.2', 1, DAY2).allowed, true);
    assert.equal(ips.count('k1'), 1);
    // A late request still stamped with the old period does not reopen it.
    assert.equal(ips.admit('k1', '10.0.0.3', 1, DAY1).allowed, false);
    assert.equal(ips.reset('k1', DAY2), false);
    assert.equal(ips.reset('k1', DAY1), false);
    assert.equal(ips.observe('k1', '10.0.0.9', 1, DAY1), false);
  });

  test('addresses from other replicas: counted without a check, at most cap + 1 kept', () => {
    const ips = new DistinctIps();
    ips.admit('k1', '10.0.0.1', 2, DAY1);
    assert.equal(ips.observe('k1', '10.0.0.2', 2, DAY1), true);
    assert.equal(ips.observe('k1', '10.0.0.2', 2, DAY1), false);
    // Two replicas each admitted a second address at once: the set goes one past the cap.
    assert.equal(ips.observe('k1', '10.0.0.3', 2, DAY1), true);
    assert.equal(ips.observe('k1', '10.0.0.4', 2, DAY1), false);
    assert.equal(ips.count('k1'), 3);
    assert.equal(ips.admit('k1', '10.0.0.3', 2, DAY1).allowed, true);
    assert.equal(ips.admit('k1', '10.0.0.5', 2, DAY1).allowed, false);
  });

  test('memory stays bounded by the cap under many addresses, and sweep forgets old keys', () => {
    const ips = new DistinctIps();
    for (let i = 0; i < 10_000; i++) ips.admit('k1', `10.0.${i >> 8}.${i & 255}`, 5, DAY1);
    assert.equal(ips.count('k1'), 5);
    ips.admit('k2', '10.0.0.1', 5, DAY2);
    assert.equal(ips.sweep(DAY2), 1);
    assert.equal(ips.count('k1'), 0);
    assert.equal(ips.count('k2'), 1);
  });
  test('a held address leaves with its last holder, unless its usage event or another replica`s came', () => {
    const ips = new DistinctIps();
    assert.equal(ips.hold('k1', '10.0.0.1', DAY1), true);
    assert.equal(ips.hold('k1', '10.0.0.1', DAY1), true, 'a second request in flight from it');
    assert.equal(ips.check('k1', '10.0.0.2', 1, DAY1).allowed, false, 'held addresses count');
    assert.equal(ips.letGo('k1', '10.0.0.1', DAY1), false, 'the other request still holds it');
    assert.equal(ips.letGo('k1', '10.0.0.1', DAY1), true);
    assert.equal(ips.count('k1'), 0);
    // Confirmed (its request's usage event): kept, and a later hold is no hold.
    assert.equal(ips.hold('k1', '10.0.0.1', DAY1), true);
    ips.confirm('k1', '10.0.0.1', DAY1);
    assert.equal(ips.letGo('k1', '10.0.0.1', DAY1), false);
    assert.equal(ips.hold('k1', '10.0.0.1', DAY1), false);
    assert.equal(ips.count('k1'), 1);
    // Another replica served it: kept here too.
    assert.equal(ips.hold('k1', '10.0.0.2', DAY1), true);
    assert.equal(ips.observe('k1', '10.0.0.2', 5, DAY1), false);
    assert.equal(ips.letGo('k1', '10.0.0.2', DAY1), false);
    assert.equal(ips.count('k1'), 2);
    // A hold of a period that ended gives back nothing of the new one.
    assert.equal(ips.hold('k1', '10.0.0.3', DAY1), true);
    ips.reset('k1', DAY2);
    ips.record('k1', '10.0.0.3', DAY2);
    assert.equal(ips.letGo('k1', '10.0.0.3', DAY1), false);
    assert.equal(ips.count('k1'), 1);
    // A snapshot keeps what is counted for good, not the holds of requests in flight.
    assert.equal(ips.hold('k1', '10.0.0.4', DAY2), true);
    assert.deepEqual(ips.snapshot(), [{ key: 'k1', periodStart: DAY2, ips: ['10.0.0.3'] }]);
  });

  test('addresses held for requests in flight leave room for those other replicas served', () => {
    // Found by admission-property.unit.test.ts: two replicas each admitting two addresses under a
    // cap of 2; this one's holds filled the cap + 1 that `observe` keeps, the other's second
    // address was dropped, and once the holds were let go the two replicas' sets disagreed.
    const ips = new DistinctIps();
    assert.equal(ips.hold('k1', '10.0.0.1', DAY1), true);
    assert.equal(ips.hold('k1', '10.0.0.3', DAY1), true);
    assert.equal(ips.observe('k1', '10.0.0.0', 2, DAY1), true);
    assert.equal(ips.observe('k1', '10.0.0.2', 2, DAY1), true, 'kept: the other replica counts it');
    assert.equal(ips.letGo('k1', '10.0.0.1', DAY1), true);
    assert.equal(ips.letGo('k1', '10.0.0.3', DAY1), true);
    assert.deepEqual(ips.snapshot(), [{ key: 'k1', periodStart: DAY1, ips: ['10.0.0.0', '10.0.0.2'] }]);
    // Counted for good, it still keeps at most cap + 1.
    assert.equal(ips.observe('k1', '10.0.0.4', 2, DAY1), true);
    assert.equal(ips.observe('k1', '10.0.0.5', 2, DAY1), false);
  });
});
