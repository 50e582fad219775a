import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isKordonError, kordonCatalogue, SYSTEM_ACTOR, streams } from '@kordon/events';
import { type TestStore, testStores } from '@kordon/events/testing';
import { BodyKeyStore } from './body-keys/body-keys.js';
import { CONFIG_ACTOR } from './config-file/plan-config.js';
import { oidcSecretContext } from './config-file/plan-sso.js';
import { decryptSecret, encryptSecret, MasterKey, MasterKeyRing } from './secrets/index.js';
import { checkStoredMasterKeys, rewrapStoredSecrets } from './stored-secrets.js';

const SECRET = 'sk-proj-storedsecretsabcdefghijklmnopqrstu01';
const OIDC_SECRET = 'oidc-client-secret-abcdefghijklmnop';

describe('stored secrets at start: the master key check and the re-wrap', () => {
  let fixture: TestStore;
  const old = MasterKey.generate('old');
  const next = MasterKey.generate('next');
  const oldRing = new MasterKeyRing(old);
  const rotating = new MasterKeyRing(next, [old]);
  const nextOnly = new MasterKeyRing(next);
  const orgId = 'org_stored';
  const keyIds = ['prk_one', 'prk_two', 'prk_gone'];
  const meta = { orgId, actor: SYSTEM_ACTOR, time: new Date() };

  before(async () => {
    fixture = (await testStores.pglite()) as TestStore;
    for (const providerKeyId of keyIds) {
      const stream = streams.providerKey(orgId, providerKeyId);
      const added = kordonCatalogue.create(
        'ProviderKeyAdded',
        stream,
        {
          providerKeyId,
          provider: 'openai',
          name: providerKeyId,
          secret: encryptSecret(SECRET, { orgId, providerKeyId }, oldRing),
          last4: 'tu01',
          weight: 1,
          models: null,
          baseUrl: null,
        },
        meta,
      );
      await fixture.store.append(stream, [added], 'no-stream');
    }
    // A removed key's record is not in force: nothing to check or re-wrap.
    const gone = streams.providerKey(orgId, 'prk_gone');
    await fixture.store.append(
      gone,
      [kordonCatalogue.create('ProviderKeyRemoved', gone, { providerKeyId: 'prk_gone' }, meta)],
      1,
    );
    const org = streams.org(orgId);
    await fixture.store.append(
      org,
      [
        kordonCatalogue.create(
          'OidcConfigured',
          org,
          {
            issuer: 'https://idp.example.com',
            clientId: 'kordon',
            clientSecret: encryptSecret(OIDC_SECRET, oidcSecretContext(orgId), oldRing),
            allowedDomains: ['example.com'],
            autoProvision: false,
          },
          { ...meta, actor: CONFIG_ACTOR },
        ),
      ],
      'any',
    );
    const bodyKeys = new BodyKeyStore(fixture.sql, oldRing);
    await bodyKeys.migrate();
    await bodyKeys.insert({
      keyId: '0190d6f0-0000-7000-8000-000000000001',
      orgId,
      day: '2025-01-01',
      material: Buffer.alloc(32, 7),
      madeAt: Date.parse('2025-01-01T08:00:00Z'),
    });
  });
  after(async () => {
    await fixture?.close();
  });

  it('refuses a ring without the stored master key, naming its id and what it wraps, never a key', async () => {
    await assert.rejects(
      checkStoredMasterKeys({ store: fixture.store, sql: fixture.sql, masterKeys: nextOnly }),
      (error: unknown) =>
        isKordonError(error, 'config_invalid') &&
        error.message.includes(
          `master key ${old.id} (provider key prk_one of org ${orgId}, provider key prk_two of org ${orgId}, OIDC client secret of org ${orgId} and 1 more)`,
        ) &&
        error.message.includes(`they hold ${next.id})`) &&
        !error.message.includes('prk_gone'),
    );
    await checkStoredMasterKeys({ store: fixture.store, sql: fixture.sql, masterKeys: rotating });
  });

  it('re-wraps each secret in force once, even when two replicas start together', async () => {
    const [first, second] = await Promise.all([
      rewrapStoredSecrets({ store: fixture.store, masterKeys: rotating }),
      rewrapStoredSecrets({ store: fixture.store, masterKeys: rotating }),
    ]);
    assert.equal(first!.rewrapped + second!.rewrapped, 3, 'two provider keys and the OIDC secret');
    const events = (await fixture.store.readAll({ after: 0, maxCount: 1000 })).map((e) =>
      kordonCatalogue.decode(e),
    );
    const rotated = events.filter((e) => e.type === 'ProviderKeyRotated');
    assert.deepEqual(
      rotated.map((e) => e.type === 'ProviderKeyRotated' && e.data.kind),
      ['rewrapped', 'rewrapped'],
    );
    for (const event of rotated) {
      if (event.type !== 'ProviderKeyRotated') continue;
      assert.equal(event.data.last4, 'tu01');
      const context = { orgId, providerKeyId: event.data.providerKeyId };
      assert.equal(decryptSecret(event.data.secret, context, nextOnly).reveal(), SECRET);
    }
    const oidc = events.filter((e) => e.type === 'OidcConfigured').at(-1)!;
    assert.ok(oidc.type === 'OidcConfigured');
    assert.deepEqual(oidc.actor, CONFIG_ACTOR, 'settings the config file made stay its own');
    assert.equal(
      decryptSecret(oidc.data.clientSecret, oidcSecretContext(orgId), nextOnly).reveal(),
      OIDC_SECRET,
    );

    // The body keys are re-wrapped by the gateway's start; then the old key can go.
    await new BodyKeyStore(fixture.sql, rotating).rewrapAll();
    await checkStoredMasterKeys({ store: fixture.store, sql: fixture.sql, masterKeys: nextOnly });
    assert.deepEqual(await rewrapStoredSecrets({ store: fixture.store, masterKeys: nextOnly }), {
      rewrapped: 0,
      lastPosition: 0,
    });
  });
});
