import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type EventStore,
  type KordonEvent,
  kordonCatalogue,
  type RecordedEvent,
  streams,
  WrongExpectedVersionError,
} from '@kordon/events';
import { type TestStore, testStores } from '@kordon/events/testing';
import { InMemoryProjectionRunner } from '@kordon/projections';
import { ProxyKeyHasher } from '../proxy-keys/index.js';
import { providerKeysOf, type RegistryState, registryProjection } from '../registry/registry.js';
import { MasterKey, MasterKeyRing } from '../secrets/index.js';
import { applyConfigFile, type ConfigCrypto } from './apply-config.js';
import { loadConfigFile } from './load-config-file.js';

const OPENAI_KEY = 'sk-proj-TESTabcdefghijklmnopqrstuvwxyz0123456789';
const OPENAI_KEY_2 = 'sk-proj-SECONDabcdefghijklmnopqrstuvwxyz01234';
const env = { K1: OPENAI_KEY, K2: OPENAI_KEY_2 };

/*
 * A provider or provider key removed from the file keeps its stream (ids derive from names):
 * declaring it again must configure it again, not meet "no stream expected" and stop there.
 * One store for the suite; each test has its own org.
 */
describe('configuration file: removed, then declared again', () => {
  let fixture: TestStore;
  let runner: InMemoryProjectionRunner<RegistryState, KordonEvent>;
  let dir: string;
  const crypto: ConfigCrypto = {
    masterKeys: new MasterKeyRing(MasterKey.generate('test')),
    proxyKeyHasher: new ProxyKeyHasher({ current: randomBytes(32) }),
    idSecret: randomBytes(32),
  };

  before(async () => {
    fixture = (await testStores.pglite()) as TestStore;
    runner = new InMemoryProjectionRunner(registryProjection, (e: RecordedEvent) =>
      kordonCatalogue.decode(e),
    );
    await runner.start(fixture.store);
    dir = mkdtempSync(join(tmpdir(), 'kordon-config-readd-'));
  });
  after(async () => {
    await runner.stop();
    await fixture.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let files = 0;
  const write = (text: string) => {
    const path = join(dir, `kordon-${++files}.yaml`);
    writeFileSync(path, text);
    return path;
  };
  const apply = (text: string, store: EventStore = fixture.store) =>
    applyConfigFile({
      file: loadConfigFile(write(text), env),
      store,
      registry: () => runner.state,
      waitForRegistry: (p) => runner.waitFor(p, 5_000),
      crypto,
    });
  const K1 = `          - { name: k1, secret: "\${K1}" }`;
  const K2 = `          - { name: k2, secret: "\${K2}" }`;
  const org = (slug: string, keys: string[] | null) => `orgs:
  - slug: ${slug}
    name: ${slug}
    providers:${
      keys === null
        ? ' []'
        : `
      - name: openai-main
        type: openai
        baseUrl: https://api.openai.com/v1
        models: [gpt-4o-mini]
        keys:${keys.length === 0 ? ' []' : `\n${keys.join('\n')}`}`
    }
`;
  const typesSince = async (position: number) =>
    (await fixture.store.readAll({ after: position, maxCount: 1_000 })).map((e) => e.type).sort();
  const keyNames = (orgId: string) =>
    providerKeysOf(runner.state, orgId, 'openai-main')
      .map((k) => k.name)
      .sort();

  it('configures a provider again, with its keys, after the file removed it', async () => {
    await apply(org('again-provider', [K1]));
    const orgId = runner.state.orgIdBySlug.get('again-provider')!;
    await apply(org('again-provider', null));
    assert.equal(runner.state.providers.get(orgId)?.get('openai-main'), undefined, 'removed');

    const head = await fixture.store.headPosition();
    await apply(org('again-provider', [K1]));
    assert.deepEqual(await typesSince(head), ['ProviderConfigured', 'ProviderKeyAdded']);
    assert.equal(runner.state.providers.get(orgId)?.get('openai-main')?.managedBy, 'config');
    assert.deepEqual(keyNames(orgId), ['k1']);

    const settled = await fixture.store.headPosition();
    const again = await apply(org('again-provider', [K1]));
    assert.equal(again.appends.length, 0);
    assert.equal(await fixture.store.headPosition(), settled, 'then an unchanged file appends nothing');
  });

  it('adds a provider key again after the file removed it', async () => {
    await apply(org('again-key', [K1, K2]));
    const orgId = runner.state.orgIdBySlug.get('again-key')!;
    await apply(org('again-key', [K1]));
    assert.deepEqual(keyNames(orgId), ['k1']);

    const head = await fixture.store.headPosition();
    await apply(org('again-key', [K1, K2]));
    assert.deepEqual(await typesSince(head), ['ProviderKeyAdded']);
    assert.deepEqual(keyNames(orgId), ['k1', 'k2']);
  });

  it('two replicas declaring a removed provider again configure it once', async () => {
    await apply(org('again-race', [K1]));
    await apply(org('again-race', null));
    const head = await fixture.store.headPosition();
    await Promise.all([apply(org('again-race', [K1])), apply(org('again-race', [K1]))]);
    assert.deepEqual(await typesSince(head), ['ProviderConfigured', 'ProviderKeyAdded']);
  });

  it('fails when the store keeps refusing a creation whose entity stays absent, instead of skipping it', async () => {
    const store = fixture.store;
    await apply(org('again-refused', null));
    const orgId = runner.state.orgIdBySlug.get('again-refused')!;
    const refused = streams.provider(orgId, 'openai-main');
    // As if the stream moved on each time it is tried: only a real creation may be skipped.
    const refusing: EventStore = {
      name: store.name,
      append: async (streamId, events, expected) => {
        if (streamId === refused) throw new WrongExpectedVersionError(streamId, expected, 7);
        return store.append(streamId, events, expected);
      },
      appendMany: (events) => store.appendMany(events),
      readStream: (streamId, options) => store.readStream(streamId, options),
      readAll: (options) => store.readAll(options),
      headPosition: () => store.headPosition(),
      subscribe: (options) => store.subscribe(options),
      ping: () => store.ping(),
      close: () => store.close(),
    };
    await assert.rejects(apply(org('again-refused', [K1]), refusing), WrongExpectedVersionError);
    assert.equal(runner.state.providers.get(orgId)?.get('openai-main'), undefined);
  });
});
