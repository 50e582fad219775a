import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestStore, testStores } from '@kordon/events/testing';
import { MasterKey, MasterKeyRing } from '../secrets/index.js';
import { BodyKeyStore, BodyOpener, BodySealer, utcDay } from './body-keys.js';

const DAY = 86_400_000;
const quiet = { warn: () => {} };

describe('logged bodies sealed under keys kept beside the log (crypto-shredding)', () => {
  let fixture: TestStore;
  let keys: BodyKeyStore;
  const ring = new MasterKeyRing(MasterKey.generate('test'));

  before(async () => {
    fixture = (await testStores.pglite()) as TestStore;
    keys = new BodyKeyStore(fixture.sql, ring);
    await keys.migrate();
    await keys.migrate(); // a second replica's start changes nothing
  });
  after(() => fixture?.close());

  it('a sealed text opens with its key, for its own org, request and field only', async () => {
    const sealer = new BodySealer({ store: keys, logger: quiet });
    const sealed = sealer.seal('org_a', 'req-1', 'my prompt é ✓', 'the answer');
    await sealer.stop();
    assert.equal(sealer.pending, 0);
    assert.ok(sealed.prompt && !sealed.prompt.includes('prompt'), 'ciphertext, not the text');
    const opener = new BodyOpener({ store: keys });
    await opener.prepare([{ keyId: sealed.keyId, time: new Date() }]);
    assert.equal(opener.open(sealed, 'org_a', 'req-1', 'prompt'), 'my prompt é ✓');
    assert.equal(opener.open(sealed, 'org_a', 'req-1', 'response'), 'the answer');
    // Moved to another request, field or org: it does not open.
    assert.equal(opener.open(sealed, 'org_a', 'req-2', 'prompt'), null);
    assert.equal(opener.open({ ...sealed, response: sealed.prompt }, 'org_a', 'req-1', 'response'), null);
    assert.equal(opener.open(sealed, 'org_b', 'req-1', 'prompt'), null);
    // The stored key is wrapped by the master key: its material is not in the table.
    const { rows } = await fixture.sql.query<{ wrapped: unknown }>(
      'SELECT wrapped FROM kordon_body_keys WHERE key_id = $1',
      [sealed.keyId],
    );
    assert.equal(rows.length, 1);
    assert.match(JSON.stringify(rows[0]!.wrapped), /wrappedDataKey/);
  });

  it('one key per org and UTC day; a new day brings a new key', async () => {
    let now = Date.UTC(2026, 10, 30, 23, 59, 0);
    const sealer = new BodySealer({ store: keys, logger: quiet, now: () => now });
    const a = sealer.seal('org_a', 'r1', 'x', null);
    const b = sealer.seal('org_a', 'r2', 'y', null);
    const other = sealer.seal('org_b', 'r3', 'z', null);
    now += 2 * 60_000; // past midnight
    const c = sealer.seal('org_a', 'r4', 'w', null);
    await sealer.stop();
    assert.equal(a.keyId, b.keyId);
    assert.notEqual(a.keyId, other.keyId);
    assert.notEqual(a.keyId, c.keyId);
    assert.equal(a.response, null);
    const { rows } = await fixture.sql.query<{ key_id: string; day: string | Date }>(
      'SELECT key_id, day FROM kordon_body_keys WHERE key_id = ANY($1::uuid[])',
      [[a.keyId, c.keyId]],
    );
    const days = rows.map((row) => (row.day instanceof Date ? utcDay(row.day.getTime()) : String(row.day)));
    assert.deepEqual(days.sort(), ['2026-11-30', '2026-12-01']);
  });

  it('a key deleted by retention: its texts never open again', async () => {
    const now = Date.now();
    const oldSealer = new BodySealer({ store: keys, logger: quiet, now: () => now - 40 * DAY });
    const newSealer = new BodySealer({ store: keys, logger: quiet, now: () => now });
    const old = oldSealer.seal('org_r', 'req-old', 'old secret text', null);
    const recent = newSealer.seal('org_r', 'req-new', 'new text', null);
    await oldSealer.stop();
    await newSealer.stop();
    const deleted = await keys.deleteBefore('org_r', utcDay(now - 30 * DAY));
    assert.equal(deleted, 1);
    const opener = new BodyOpener({ store: keys, waitForKeyMs: 0 });
    await opener.prepare([
      { keyId: old.keyId, time: new Date(now - 40 * DAY) },
      { keyId: recent.keyId, time: new Date(now) },
    ]);
    assert.equal(opener.open(old, 'org_r', 'req-old', 'prompt'), null);
    assert.equal(opener.open(recent, 'org_r', 'req-new', 'prompt'), 'new text');
  });

  it('after an erasure: a key made before it is never stored, and a new key of the same day is', async () => {
    let now = Date.UTC(2026, 11, 5, 10, 0, 0);
    let down = true;
    const flaky = {
      insert: async (key: Parameters<BodyKeyStore['insert']>[0]) => {
        if (down) throw new Error('connection refused');
        return keys.insert(key);
      },
    };
    const warnings: string[] = [];
    const sealer = new BodySealer({
      store: flaky,
      logger: { warn: (_o, message) => warnings.push(message) },
      now: () => now,
      retryMs: 10,
    });
    // Sealed at 10:00 under a key the store has not taken yet (it is down).
    const erased = sealer.seal('org_e', 'r-erased', 'erased text', null);
    // The org's texts are erased up to 12:00 (as the request log's kordon_request_log_erase
    // records it); this replica has not seen the event, and its clock is a minute behind.
    const erasedBefore = Date.UTC(2026, 11, 5, 12, 0, 0);
    await fixture.sql.query('INSERT INTO kordon_body_key_erasures (org_id, erased_before) VALUES ($1, $2)', [
      'org_e',
      new Date(erasedBefore).toISOString(),
    ]);
    now = erasedBefore - 60_000;
    assert.equal(sealer.seal('org_e', 'r-unseen', 'unseen', null).keyId, erased.keyId);
    down = false;
    for (let i = 0; i < 100 && sealer.pending > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(sealer.pending, 0);
    assert.ok(
      warnings.some((message) => /made before an erasure/.test(message)),
      warnings.join('; '),
    );
    // Once it has seen the erasure: a new key, made (for the store) no earlier than the erasure.
    const kept = sealer.seal('org_e', 'r-kept', 'kept text', null, erasedBefore);
    assert.notEqual(kept.keyId, erased.keyId);
    await sealer.stop();
    const { rows } = await fixture.sql.query<{ key_id: string }>(
      'SELECT key_id FROM kordon_body_keys WHERE org_id = $1',
      ['org_e'],
    );
    assert.deepEqual(
      rows.map((row) => row.key_id),
      [kept.keyId],
    );
    const opener = new BodyOpener({ store: keys, waitForKeyMs: 0 });
    await opener.prepare([
      { keyId: erased.keyId, time: new Date(now) },
      { keyId: kept.keyId, time: new Date(now) },
    ]);
    assert.equal(opener.open(erased, 'org_e', 'r-erased', 'prompt'), null);
    assert.equal(opener.open(kept, 'org_e', 'r-kept', 'prompt'), 'kept text');
  });

  it('a key made before an erasure the sealer has seen is not used again', async () => {
    const now = Date.UTC(2026, 11, 6, 9, 0, 0);
    const sealer = new BodySealer({ store: keys, logger: quiet, now: () => now });
    const first = sealer.seal('org_s', 'r1', 'one', null);
    assert.equal(sealer.seal('org_s', 'r2', 'two', null, now - 1).keyId, first.keyId, 'made after it');
    const next = sealer.seal('org_s', 'r3', 'three', null, now + 1);
    assert.notEqual(next.keyId, first.keyId);
    assert.equal(sealer.seal('org_s', 'r4', 'four', null, now + 1).keyId, next.keyId, 'then kept');
    await sealer.stop();
  });

  it('a replica whose clock is behind an erasure just past midnight: one key, of the erasure day', async () => {
    const erasedBefore = Date.UTC(2026, 11, 7, 0, 0, 5);
    const now = erasedBefore - 20_000; // 23:59:45 of the day before, on this replica's clock
    const sealer = new BodySealer({ store: keys, logger: quiet, now: () => now });
    const a = sealer.seal('org_c', 'r1', 'one', null, erasedBefore);
    const b = sealer.seal('org_c', 'r2', 'two', null, erasedBefore);
    await sealer.stop();
    assert.equal(a.keyId, b.keyId, 'not a new key for every request');
    const { rows } = await fixture.sql.query<{ day: string | Date }>(
      'SELECT day FROM kordon_body_keys WHERE key_id = $1',
      [a.keyId],
    );
    const day = rows[0]?.day;
    assert.equal(day instanceof Date ? utcDay(day.getTime()) : String(day), '2026-12-07');
  });

  it('after a master key rotation the keys are re-wrapped, and open with the new master key alone', async () => {
    const next = MasterKey.generate('next');
    const sealer = new BodySealer({ store: keys, logger: quiet });
    const sealed = sealer.seal('org_m', 'req-m', 'rotated', null);
    await sealer.stop();
    const rotating = new BodyKeyStore(fixture.sql, new MasterKeyRing(next, [ring.current]));
    assert.ok((await rotating.rewrapAll()) >= 1);
    assert.equal(await rotating.rewrapAll(), 0, 'nothing left under the old key');
    const afterwards = new BodyOpener({ store: new BodyKeyStore(fixture.sql, new MasterKeyRing(next)) });
    await afterwards.prepare([{ keyId: sealed.keyId, time: new Date() }]);
    assert.equal(afterwards.open(sealed, 'org_m', 'req-m', 'prompt'), 'rotated');
    // Every other test's key too: the table is wholly under the new master key.
    const { rows } = await fixture.sql.query<{ wrapped: { keyId: string } | string }>(
      'SELECT wrapped FROM kordon_body_keys',
    );
    for (const row of rows) {
      const record = typeof row.wrapped === 'string' ? JSON.parse(row.wrapped) : row.wrapped;
      assert.equal(record.keyId, next.id);
    }
  });

  it('a key the store refuses is kept and stored once it answers; a reader waits for it', async () => {
    let down = true;
    const flaky = {
      insert: async (key: Parameters<BodyKeyStore['insert']>[0]) => {
        if (down) throw new Error('connection refused');
        return keys.insert(key);
      },
    };
    const warnings: string[] = [];
    const sealer = new BodySealer({
      store: flaky,
      logger: { warn: (_o, message) => warnings.push(message) },
      retryMs: 20,
    });
    const sealed = sealer.seal('org_f', 'req-f', 'kept', null);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(sealer.pending, 1);
    assert.ok(warnings.length >= 1);
    const opener = new BodyOpener({ store: keys, waitForKeyMs: 5000 });
    const reading = opener.prepare([{ keyId: sealed.keyId, time: new Date() }]);
    setTimeout(() => {
      down = false;
    }, 100);
    await reading;
    assert.equal(opener.open(sealed, 'org_f', 'req-f', 'prompt'), 'kept');
    assert.equal(sealer.pending, 0);
    await sealer.stop();
  });
});
