import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type EventStore, type KordonEvent, kordonCatalogue, type RecordedEvent } from '@kordon/events';
import { type TestStore, testStores } from '@kordon/events/testing';
import { InMemoryProjectionRunner } from '@kordon/projections';
import { generateProxyKey, ProxyKeyHasher } from '../proxy-keys/index.js';
import { type RegistryState, registryProjection } from '../registry/registry.js';
import { MasterKey, MasterKeyRing } from '../secrets/index.js';
import { applyConfigFile, type ConfigCrypto } from './apply-config.js';
import { loadConfigFile } from './load-config-file.js';

const fixture = await testStores.postgres();
const skip = typeof fixture === 'string' ? fixture : false;

/*
 * Two replicas start together with the same changed file, each with its own store and registry
 * over one database. Deterministic: both plan against the old state, then one applies all of it
 * before the other appends anything.
 */
describe('configuration file: two replicas apply the same change', { skip }, () => {
  const db = fixture as TestStore;
  const replicas: { store: EventStore; runner: InMemoryProjectionRunner<RegistryState, KordonEvent> }[] = [];
  let dir: string;
  const hasher = new ProxyKeyHasher({ current: randomBytes(32) });
  const crypto: ConfigCrypto = {
    masterKeys: new MasterKeyRing(MasterKey.generate('test')),
    proxyKeyHasher: hasher,
    idSecret: randomBytes(32),
  };
  const env = {
    K1: 'sk-proj-TESTabcdefghijklmnopqrstuvwxyz0123456789',
    K1_NEW: 'sk-proj-ROTATEDabcdefghijklmnopqrstuvwxyz0123',
    BOB_KEY: generateProxyKey(hasher).secret,
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kordon-config-race-'));
    for (const store of [db.store, (await db.reopen()).store]) {
      const runner = new InMemoryProjectionRunner(registryProjection, (e: RecordedEvent) =>
        kordonCatalogue.decode(e),
      );
      await runner.start(store);
      replicas.push({ store, runner });
    }
  });
  after(async () => {
    for (const { runner } of replicas) await runner.stop();
    await db.close?.();
    rmSync(dir, { recursive: true, force: true });
  });

  let files = 0;
  const write = (text: string) => {
    const path = join(dir, `kordon-${++files}.yaml`);
    writeFileSync(path, text);
    return path;
  };
  const apply = (i: number, path: string, store?: EventStore) => {
    const replica = replicas[i]!;
    return applyConfigFile({
      file: loadConfigFile(path, env),
      store: store ?? replica.store,
      registry: () => replica.runner.state,
      waitForRegistry: (p) => replica.runner.waitFor(p, 5_000),
      crypto,
    });
  };
  /** The store of replica `i`, whose appends wait for `gate` (both replicas have planned by then). */
  const gated = (i: number, gate: Promise<void>, planned: () => void): EventStore => {
    const store = replicas[i]!.store;
    return {
      name: store.name,
      append: async (streamId, events, expected) => {
        planned();
        await gate;
        return store.append(streamId, events, expected);
      },
      appendAcross: (streamId, events, expected) => store.appendAcross(streamId, events, expected),
      appendMany: (events) => store.appendMany(events),
      readStream: (streamId, options) => store.readStream(streamId, options),
      readAll: (options) => store.readAll(options),
      headPosition: () => store.headPosition(),
      subscribe: (options) => store.subscribe(options),
      ping: () => store.ping(),
      close: () => store.close(),
    };
  };

  const file = (o: { rpm: number; secret: string; weight: number; bob: boolean; carol: boolean }) => `orgs:
  - slug: race
    name: race
    limits: { rpm: ${o.rpm} }
    providers:
      - name: openai-main
        type: openai
        baseUrl: https://api.openai.com/v1
        models: [gpt-4o-mini]
        keys:
          - { name: k1, secret: "\${${o.secret}}", weight: ${o.weight} }
    users:
      - email: alice@race.test
        limits: { rpm: ${o.rpm} }
      - email: bob@race.test
        proxyKeys: ${o.bob ? `[{ name: bob-ci, secret: "\${BOB_KEY}" }]` : '[]'}${
          o.carol
            ? `
      - email: carol@race.test`
            : ''
        }
`;

  it('appends each change once: the second replica finds nothing left to do', async () => {
    await apply(0, write(file({ rpm: 60, secret: 'K1', weight: 1, bob: true, carol: true })));
    await replicas[1]!.runner.waitFor(await db.store.headPosition(), 5_000);
    const head = await db.store.headPosition();

    const changed = write(file({ rpm: 120, secret: 'K1_NEW', weight: 5, bob: false, carol: false }));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let waiting = 0;
    const planned = () => {
      if (++waiting === 2) open();
    };
    // Replica 1 appends only once replica 0 has applied everything.
    let first!: () => void;
    const firstDone = new Promise<void>((resolve) => {
      first = resolve;
    });
    const one = apply(0, changed, gated(0, gate, planned)).finally(first);
    const two = apply(
      1,
      changed,
      gated(
        1,
        gate.then(() => firstDone),
        planned,
      ),
    );
    const [, second] = await Promise.all([one, two]);

    const types = (await db.store.readAll({ after: head, maxCount: 1_000 })).map((e) => e.type).sort();
    assert.deepEqual(types, [
      'PolicySet',
      'PolicySet',
      'ProviderKeyRotated',
      'ProviderKeyWeightChanged',
      'ProxyKeyRevoked',
      'UserDisabled',
    ]);
    assert.deepEqual(second.appends, [], 'the second replica appended nothing');

    const settled = await db.store.headPosition();
    assert.equal((await apply(1, changed)).appends.length, 0);
    assert.equal(await db.store.headPosition(), settled, 'then an unchanged file appends nothing');
  });
});
