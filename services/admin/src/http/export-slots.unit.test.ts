import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExportSlots } from './export-slots.js';

describe('export slots', () => {
  it('gives at most the limit, at most the per-org share to one org, and frees each slot once', () => {
    const slots = new ExportSlots(2, 1);
    const a = slots.take('org_a');
    assert.ok('release' in a);
    assert.deepEqual(slots.take('org_a'), { refused: 'org' });
    const b = slots.take('org_b');
    assert.ok('release' in b);
    assert.deepEqual(slots.take('org_c'), { refused: 'full' });
    a.release();
    a.release();
    assert.equal(slots.taken(), 1, 'a second release frees nothing more');
    assert.equal(slots.taken('org_a'), 0);
    const c = slots.take('org_c');
    assert.ok('release' in c);
    assert.deepEqual(slots.take('org_a'), { refused: 'full' });
    b.release();
    c.release();
    assert.equal(slots.taken(), 0);
  });

  it('caps the share at the limit and refuses a limit that is not a whole number of at least 1', () => {
    assert.equal(new ExportSlots(1, 5).perOrgLimit, 1);
    for (const [limit, perOrg] of [
      [0, 1],
      [2, 0],
      [1.5, 1],
      [Number.NaN, 1],
    ] as const)
      assert.throws(() => new ExportSlots(limit, perOrg), /whole number of at least 1/);
  });
});
