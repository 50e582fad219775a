import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateProxyKey, ProxyKeyHasher } from '../proxy-keys/index.js';
import { registryProjection } from '../registry/registry.js';
import { MasterKey, MasterKeyRing } from '../secrets/index.js';
import { planDependencies } from './apply-config.js';
import { ConfigFileSchema } from './config-file-schema.js';
import { planConfig } from './plan-config.js';

describe('planning the configuration file', () => {
  const hasher = new ProxyKeyHasher({ current: randomBytes(32) });
  const deps = planDependencies({
    masterKeys: new MasterKeyRing(MasterKey.generate('test')),
    proxyKeyHasher: hasher,
    idSecret: randomBytes(32),
  });

  it('issues a secret planned twice in one run once, and reports the second key (one secret is one key)', () => {
    const secret = generateProxyKey(hasher).secret;
    // The schema refuses this file; planning holds the rule on its own all the same.
    const file = ConfigFileSchema.parse({ orgs: [{ slug: 'acme', name: 'Acme' }] });
    file.orgs[0]!.users = [
      { email: 'alice@acme.test', role: 'developer', proxyKeys: [{ name: 'alice-laptop', secret }] },
      { email: 'bob@acme.test', role: 'developer', proxyKeys: [{ name: 'bob-ci', secret }] },
    ];
    const plan = planConfig(registryProjection.initialState(), file, deps, new Date());
    const issued = plan.appends.flatMap((a) => a.events).filter((e) => e.type === 'ProxyKeyIssued');
    assert.equal(issued.length, 1);
    assert.deepEqual(plan.ignored, [
      'proxy key acme/bob@acme.test/bob-ci: this secret is given to proxy key acme/alice@acme.test/alice-laptop too, and one secret is one key (not imported)',
    ]);
    assert.ok(!plan.ignored.join('\n').includes(secret));
  });
});
