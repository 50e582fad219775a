import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProviderKeyEntry } from '../registry/registry.js';
import type { RuntimeSecrets } from '../runtime-secrets.js';
import { encryptSecret } from '../secrets/envelope.js';
import { MasterKey, MasterKeyRing } from '../secrets/master-key.js';
import { usableProviderKey } from './generate.js';

const context = { orgId: 'org_1', providerKeyId: 'prk_1' };

function entry(ring: MasterKeyRing): ProviderKeyEntry {
  return {
    ...context,
    secret: encryptSecret('sk-live-0123456789abcdef', context, ring),
  } as unknown as ProviderKeyEntry;
}

test("a key this process's master keys cannot decrypt is skipped (logged once), not a failed request", () => {
  const written = new MasterKeyRing(MasterKey.generate('new'));
  const stale = new MasterKeyRing(MasterKey.generate('old'));
  const logged: unknown[] = [];
  const deps = {
    secrets: { masterKeys: stale } as RuntimeSecrets,
    logger: { error: (fields: unknown) => logged.push(fields) } as never,
  };
  const key = entry(written);
  assert.equal(usableProviderKey(deps, key), undefined);
  assert.equal(usableProviderKey(deps, key), undefined);
  assert.equal(logged.length, 1, 'said once a record');
  assert.ok(!JSON.stringify(logged).includes('sk-live'), 'no secret in the log');

  const readable = { secrets: { masterKeys: written } as RuntimeSecrets, logger: deps.logger };
  assert.equal(usableProviderKey(readable, entry(written))?.reveal(), 'sk-live-0123456789abcdef');
});
