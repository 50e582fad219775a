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
import { generateProxyKey, ProxyKeyHasher, parseProxyKey } from '../proxy-keys/index.js';
import { providerKeysOf, type RegistryState, registryProjection } from '../registry/registry.js';
import { MasterKey, MasterKeyRing } from '../secrets/index.js';
import { applyConfigFile, type ConfigCrypto } from './apply-config.js';
import { ConfigFileError, loadConfigFile } from './load-config-file.js';

const OPENAI_KEY = 'sk-proj-TESTabcdefghijklmnopqrstuvwxyz0123456789';
const OPENAI_KEY_2 = 'sk-proj-SECONDabcdefghijklmnopqrstuvwxyz01234';

/*
 * A provider or provider key removed from the file keeps its stream (ids derive from names):
 * declaring it again must configure it again, not meet "no stream expected" and stop there.
 * One store for the suite; each test has its own org. A file declares only that org, so the
 * users earlier tests' files made in theirs are disabled (an org gone from the file).
 */
describe('configuration file: removed, then declared again', () => {
  let fixture: TestStore;
  let runner: InMemoryProjectionRunner<RegistryState, KordonEvent>;
  let dir: string;
  const hasher = new ProxyKeyHasher({ current: randomBytes(32) });
  const crypto: ConfigCrypto = {
    masterKeys: new MasterKeyRing(MasterKey.generate('test')),
    proxyKeyHasher: hasher,
    idSecret: randomBytes(32),
  };
  // One proxy-key secret per test: one secret is one key, across orgs too.
  const env = {
    K1: OPENAI_KEY,
    K2: OPENAI_KEY_2,
    KEY_A: generateProxyKey(hasher).secret,
    KEY_B: generateProxyKey(hasher).secret,
    KEY_C: generateProxyKey(hasher).secret,
    KEY_D: generateProxyKey(hasher).secret,
    KEY_E: generateProxyKey(hasher).secret,
    KEY_F: generateProxyKey(hasher).secret,
    BAD_KEY: 'kdn_not-a-key',
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

  it('two replicas starting together issue a key the file gives no secret once, reported by one', async () => {
    const text = `orgs:
  - slug: issue-race
    name: issue-race
    users:
      - email: ci@issue-race.test
        proxyKeys:
          - { name: ci }
`;
    const plans = await Promise.all([apply(text), apply(text)]);
    const orgId = runner.state.orgIdBySlug.get('issue-race')!;
    const keys = [...runner.state.proxyKeys.values()].filter((k) => k.orgId === orgId);
    assert.deepEqual(
      keys.map((k) => `${k.name} ${k.status}`),
      ['ci active'],
      'one key named ci, not one per replica',
    );
    const issued = plans.flatMap((plan) => plan.issued);
    assert.equal(issued.length, 1, 'only the replica whose key was stored hands a secret out');
    const parsed = parseProxyKey(issued[0]!.secret);
    assert.ok(parsed.ok);
    assert.equal(hasher.hashUnder(parsed.key, keys[0]!.hashKeyId)?.value, keys[0]!.hashValue);
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
      appendAcross: (streamId, events, expected) => store.appendAcross(streamId, events, expected),
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

  const people = (slug: string, users: string) => `orgs:
  - slug: ${slug}
    name: ${slug}
    users:${users === '' ? ' []' : `\n${users}`}
`;
  const user = (email: string, role: string, keys = '[]') =>
    `      - email: ${email}\n        role: ${role}\n        proxyKeys: ${keys}`;
  const keyNamed = (secret: string, name = 'alice-laptop') => `[{ name: ${name}, secret: "\${${secret}}" }]`;
  const alice = (slug: string) =>
    [...runner.state.users.values()].find(
      (u) => u.orgId === runner.state.orgIdBySlug.get(slug) && u.email === 'alice@acme.test',
    )!;
  const aliceKeys = (slug: string) =>
    [...runner.state.proxyKeys.values()].filter((k) => k.userId === alice(slug).userId);

  it('reports a user declared again after the file disabled them, and plans nothing for them', async () => {
    await apply(people('again-user', user('alice@acme.test', 'developer')));
    await apply(people('again-user', ''));
    assert.equal(alice('again-user').disabled, true);

    const head = await fixture.store.headPosition();
    const plan = await apply(people('again-user', user('alice@acme.test', 'admin', keyNamed('KEY_A'))));
    assert.equal(plan.appends.length, 0, 'no role or key for a disabled user');
    assert.equal(await fixture.store.headPosition(), head);
    assert.equal(plan.ignored.length, 1);
    assert.match(plan.ignored[0]!, /user alice@acme\.test: disabled.*not applied/);
    assert.equal(alice('again-user').disabled, true);
  });

  it('reports a proxy key declared again with the secret it had: a revoked key never works again', async () => {
    const withKey = people('again-proxy', user('alice@acme.test', 'developer', keyNamed('KEY_B')));
    await apply(withKey);
    await apply(people('again-proxy', user('alice@acme.test', 'developer')));
    assert.deepEqual(
      aliceKeys('again-proxy').map((k) => k.status),
      ['revoked'],
    );

    const head = await fixture.store.headPosition();
    const plan = await apply(withKey);
    assert.equal(await fixture.store.headPosition(), head, 'nothing issued, nothing revived');
    assert.equal(plan.ignored.length, 1);
    assert.match(plan.ignored[0]!, /proxy key again-proxy\/alice@acme\.test\/alice-laptop: .*revoked/);
    assert.deepEqual(
      aliceKeys('again-proxy').map((k) => k.status),
      ['revoked'],
    );
  });

  it('refuses a file giving a proxy key a secret it cannot import, and keeps the current key', async () => {
    await apply(people('bad-secret', user('alice@acme.test', 'developer', keyNamed('KEY_C'))));
    const head = await fixture.store.headPosition();
    // Refused before any event (another user's change in the same file is not applied either).
    assert.throws(
      () =>
        apply(
          people(
            'bad-secret',
            `${user('alice@acme.test', 'developer', keyNamed('BAD_KEY'))}\n${user('bob@acme.test', 'developer', '[]')}`,
          ),
        ),
      (error: unknown) =>
        error instanceof ConfigFileError &&
        /orgs\.0\.users\.0\.proxyKeys\.0\.secret: is not a Kordon proxy key/.test(error.message) &&
        !error.message.includes(env.BAD_KEY!),
    );
    assert.equal(await fixture.store.headPosition(), head, 'nothing appended, the working key not revoked');
    assert.deepEqual(
      aliceKeys('bad-secret').map((k) => k.status),
      ['active'],
    );
  });

  it('moves a secret to the new name when the file renames a proxy key', async () => {
    await apply(people('renamed', user('alice@acme.test', 'developer', keyNamed('KEY_D'))));
    const plan = await apply(
      people('renamed', user('alice@acme.test', 'developer', keyNamed('KEY_D', 'alice-desk'))),
    );
    assert.deepEqual(plan.ignored, []);
    const byName = new Map(aliceKeys('renamed').map((k) => [k.name, k]));
    assert.equal(byName.get('alice-laptop')?.status, 'revoked');
    assert.equal(byName.get('alice-desk')?.status, 'active');
    const [hash] = [byName.get('alice-desk')!.hashValue];
    assert.equal(
      runner.state.proxyKeyIdByHash.get(hash),
      byName.get('alice-desk')!.proxyKeyId,
      'the secret is hers',
    );
  });

  it("reports a proxy key's changed expiresAt: a key keeps the expiry it was issued with", async () => {
    const expiring = (expiresAt: string) =>
      people(
        'expiry',
        user(
          'alice@acme.test',
          'developer',
          `[{ name: alice-laptop, secret: "\${KEY_E}", expiresAt: "${expiresAt}" }]`,
        ),
      );
    await apply(expiring('2030-01-01T00:00:00Z'));
    const head = await fixture.store.headPosition();
    const plan = await apply(expiring('2020-01-01T00:00:00Z'));
    assert.equal(await fixture.store.headPosition(), head, 'no event changes an expiry');
    assert.equal(plan.ignored.length, 1);
    assert.match(
      plan.ignored[0]!,
      /proxy key expiry\/alice@acme\.test\/alice-laptop: a key's expiresAt cannot change \(it stays 2030-01-01T00:00:00\.000Z; not applied\): remove the key/,
    );
    const [key] = aliceKeys('expiry');
    assert.equal(key?.expiresAt, Date.parse('2030-01-01T00:00:00Z'));
  });

  it('disables the users the file created in an org it no longer declares, and reports it', async () => {
    const carol = `      - email: carol@contractor.test\n        proxyKeys: [{ name: carol-laptop, secret: "\${KEY_F}" }]`;
    await apply(`${people('gone-keep', '')}${people('gone-org', carol).replace('orgs:\n', '')}`);
    const orgId = runner.state.orgIdBySlug.get('gone-org')!;
    const carolNow = () => [...runner.state.users.values()].find((u) => u.orgId === orgId)!;
    assert.equal(carolNow().disabled, false);

    const head = await fixture.store.headPosition();
    const plan = await apply(people('gone-keep', ''));
    const ofGoneOrg = (await fixture.store.readAll({ after: head, maxCount: 1_000 })).filter(
      (e) => e.orgId === orgId,
    );
    assert.deepEqual(
      ofGoneOrg.map((e) => e.type),
      ['UserDisabled'],
    );
    assert.equal(carolNow().disabled, true, "her keys stop working with her, as a removed user's do");
    assert.deepEqual(
      plan.ignored.filter((line) => line.startsWith('org gone-org:')),
      [
        'org gone-org: not in the file any more, so the user the file made in it is disabled (their keys stop working); the org, its providers, teams, limits and users made through the admin API stay (no event removes an org)',
      ],
    );

    const again = await apply(people('gone-keep', ''));
    assert.deepEqual(
      again.ignored.filter((line) => line.startsWith('org gone-org:')),
      [],
      'reported once, when it happens',
    );
  });
});
