import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Catalogue, defineEvent, type EventOf, type RecordedEvent } from '@kordon/events';
import { type TestStore, testEvent, testStores, uniqueStream } from '@kordon/events/testing';
import { z } from 'zod';
import { InMemoryProjectionRunner } from './in-memory-runner.js';
import type { InMemoryProjection } from './projection.js';

const Hit = defineEvent({ type: 'TestHit', version: 1, schema: z.strictObject({ key: z.string() }) });
const catalogue = new Catalogue([Hit] as const);
type TestEvent = EventOf<typeof catalogue.definitions>;

const hitsPerKey: InMemoryProjection<Map<string, number>, TestEvent> = {
  name: 'hits',
  initialState: () => new Map(),
  evolve: (state, event) => state.set(event.data.key, (state.get(event.data.key) ?? 0) + 1),
};

describe('InMemoryProjectionRunner', () => {
  let fixture: TestStore;
  before(async () => {
    fixture = (await testStores.pglite()) as TestStore;
  });
  after(async () => fixture.close());

  it('catches up, follows live, and parks poison events without stopping', async () => {
    const { store } = fixture;
    const hit = (key: unknown) => testEvent(uniqueStream(), { key }, 'TestHit');
    await store.appendMany([hit('a'), hit('b'), hit('a')]);
    const parked: string[] = [];
    const runner = new InMemoryProjectionRunner(hitsPerKey, (e: RecordedEvent) => catalogue.decode(e), {
      onParked: (p) => parked.push(p.reason),
    });
    await runner.start(store);
    assert.deepEqual(
      [...runner.state],
      [
        ['a', 2],
        ['b', 1],
      ],
    );
    await store.appendMany([hit(42), hit('b'), testEvent(uniqueStream(), {}, 'SomethingUnknown')]);
    await runner.waitFor(await store.headPosition(), 5_000);
    assert.deepEqual(
      [...runner.state],
      [
        ['a', 2],
        ['b', 2],
      ],
    );
    assert.equal(runner.parked.length, 2);

    // A projection that names its event types never decodes the others (no parking either).
    const onlyHits = new InMemoryProjectionRunner(
      { ...hitsPerKey, name: 'only-hits', eventTypes: new Set(['TestHit']) },
      (e: RecordedEvent) => catalogue.decode(e),
    );
    await onlyHits.start(store);
    assert.equal(onlyHits.parked.length, 1, 'only the malformed TestHit, not the unknown type');
    await onlyHits.stop();
    assert.match(parked[0]!, /TestHit v1 at position \d+: malformed data/);
    assert.match(parked[1]!, /SomethingUnknown v1 at position \d+: unknown event type/);
    await runner.stop();
  });
});
