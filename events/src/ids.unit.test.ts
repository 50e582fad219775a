import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { v7 as uuidv7, version } from 'uuid';
import { isUuid, newEventId } from './ids.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newEventId', () => {
  it('makes RFC 9562 version-7 ids carrying the current time', () => {
    const before = Date.now();
    const id = newEventId();
    const after = Date.now();
    assert.match(id, V7);
    assert.equal(version(id), 7);
    assert.ok(isUuid(id));
    const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    assert.ok(ms >= before && ms <= after, `${ms} within [${before}, ${after}]`);
  });

  it('is strictly increasing within one process, many ids per millisecond', () => {
    let previous = newEventId();
    for (let i = 0; i < 200_000; i++) {
      const next = newEventId();
      assert.ok(next > previous, `${next} > ${previous}`);
      previous = next;
    }
  });

  it('sorts with ids of the uuid package made before and after it', () => {
    const a = uuidv7();
    const b = newEventId();
    const c = uuidv7();
    assert.deepEqual([c, b, a].sort(), [a, b, c].sort());
    assert.ok(a.slice(0, 13) <= b.slice(0, 13) && b.slice(0, 13) <= c.slice(0, 13));
  });

  it('does not repeat (one million ids, random bits spread over every position)', () => {
    const seen = new Set<string>();
    const tailDigits = new Set<string>();
    for (let i = 0; i < 1_000_000; i++) {
      const id = newEventId();
      seen.add(id);
      if (i < 1000) tailDigits.add(id.slice(24, 26));
    }
    assert.equal(seen.size, 1_000_000);
    assert.ok(tailDigits.size > 200, 'the random tail varies');
  });
});
