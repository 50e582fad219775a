import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  isKordonError,
  type KordonEvent,
  kordonCatalogue,
  type RecordedEvent,
  streams,
} from '@kordon/events';
import { type TestStore, testStores } from '@kordon/events/testing';
import { InMemoryProjectionRunner } from '@kordon/projections';
import { providerConfig } from '../http/generate.js';
import { routeModel } from '../http/route-model.js';
import { providerAdapter } from '../providers/index.js';
import { generateProxyKey, ProxyKeyHasher } from '../proxy-keys/index.js';
import { type RegistryState, registryProjection } from '../registry/registry.js';
import { MasterKey, MasterKeyRing } from '../secrets/index.js';
import { applyConfigFile, type ConfigCrypto } from './apply-config.js';
import { ConfigFileError, loadConfigFile } from './load-config-file.js';

const OPENAI_KEY = 'sk-proj-TESTabcdefghijklmnopqrstuvwxyz0123456789';
const OPENAI_KEY_2 = 'sk-proj-ROTATEDabcdefghijklmnopqrstuvwxyz0123';

describe('declarative configuration file', () => {
  let fixture: TestStore;
  let runner: InMemoryProjectionRunner<RegistryState, KordonEvent>;
  let dir: string;
  const hasher = new ProxyKeyHasher({ current: randomBytes(32) });
  const crypto: ConfigCrypto = {
    masterKeys: new MasterKeyRing(MasterKey.generate('test')),
    proxyKeyHasher: hasher,
    idSecret: randomBytes(32),
  };
  const aliceKey = generateProxyKey(hasher).secret;

  before(async () => {
    fixture = (await testStores.pglite()) as TestStore;
    runner = new InMemoryProjectionRunner(registryProjection, (e: RecordedEvent) =>
      kordonCatalogue.decode(e),
    );
    await runner.start(fixture.store);
    dir = mkdtempSync(join(tmpdir(), 'kordon-config-'));
  });
  after(async () => {
    await runner.stop();
    await fixture.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const writeConfig = (text: string) => {
    const path = join(dir, 'kordon.yaml');
    writeFileSync(path, text);
    return path;
  };
  const yaml = (users: string) => `
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-4o-mini: { input: 0.15, output: "0.60" }
    providers:
      - name: openai-main
        type: openai
        baseUrl: https://api.openai.com/v1
        models: [gpt-4o-mini, text-embedding-3-small]
        keys:
          - { name: k1, secret: "\${OPENAI_KEY_1}" }
    users:
${users}
`;
  const apply = (path: string, env: Record<string, string>) =>
    applyConfigFile({
      file: loadConfigFile(path, env),
      store: fixture.store,
      registry: () => runner.state,
      waitForRegistry: (p) => runner.waitFor(p, 5_000),
      crypto,
    });
  const allEvents = () => fixture.store.readAll({ after: 0, maxCount: 10_000 });

  it('applies the file as events, then appends nothing for the same file', async () => {
    const path = writeConfig(
      yaml(`      - email: alice@acme.test
        role: developer
        proxyKeys:
          - { name: alice-laptop, secret: "\${ALICE_KEY}" }
      - email: bob@acme.test
        proxyKeys:
          - { name: bob-ci }`),
    );
    const env = { OPENAI_KEY_1: OPENAI_KEY, ALICE_KEY: aliceKey };
    const first = await apply(path, env);
    assert.deepEqual(first.ignored, []);
    assert.equal(first.issued.length, 1, 'bob-ci had no secret: Kordon issued one');
    assert.equal(first.issued[0]!.name, 'bob-ci');
    const types = (await allEvents()).map((e) => e.type);
    assert.deepEqual(types.sort(), [
      'OrgCreated',
      'PricesSet',
      'ProviderConfigured',
      'ProviderKeyAdded',
      'ProxyKeyIssued',
      'ProxyKeyIssued',
      'RoleGranted',
      'RoleGranted',
      'UserJoined',
      'UserJoined',
    ]);
    const state = runner.state;
    const orgId = state.orgIdBySlug.get('acme')!;
    assert.ok(orgId.startsWith('org_'));
    assert.equal(state.providers.get(orgId)?.get('openai-main')?.type, 'openai');

    const head = await fixture.store.headPosition();
    const again = await apply(path, env);
    assert.equal(again.appends.length, 0);
    assert.equal(await fixture.store.headPosition(), head, 'an unchanged file appends nothing');

    // Secrets exist in the log only encrypted or hashed.
    const log = JSON.stringify(await allEvents());
    for (const secret of [OPENAI_KEY, aliceKey, first.issued[0]!.secret]) {
      assert.ok(!log.includes(secret), 'no plaintext secret in any event');
      assert.ok(!log.includes(secret.slice(8, 30)), 'not even a part of it');
    }
  });

  it('turns changes into events: a rotated key, a removed user', async () => {
    const path = writeConfig(
      yaml(`      - email: alice@acme.test
        role: admin
        proxyKeys:
          - { name: alice-laptop, secret: "\${ALICE_KEY}" }`),
    );
    const before = await fixture.store.headPosition();
    await apply(path, { OPENAI_KEY_1: OPENAI_KEY_2, ALICE_KEY: aliceKey });
    const added = (await fixture.store.readAll({ after: before, maxCount: 100 })).map((e) => e.type);
    // Bob's keys stop working with him (UserDisabled), without an event per key.
    assert.deepEqual(added.sort(), ['ProviderKeyRotated', 'RoleGranted', 'RoleRevoked', 'UserDisabled']);
    const bob = [...runner.state.users.values()].find((u) => u.email === 'bob@acme.test')!;
    assert.equal(bob.disabled, true);
  });

  it('never replaces a stored secret it cannot decrypt (a replica with the wrong master key)', async () => {
    const path = writeConfig(
      yaml(`      - email: alice@acme.test
        role: admin
        proxyKeys:
          - { name: alice-laptop, secret: "\${ALICE_KEY}" }`),
    );
    const before = await fixture.store.headPosition();
    const wrong = { ...crypto, masterKeys: new MasterKeyRing(MasterKey.generate('wrong')) };
    await assert.rejects(
      applyConfigFile({
        file: loadConfigFile(path, { OPENAI_KEY_1: OPENAI_KEY, ALICE_KEY: aliceKey }),
        store: fixture.store,
        registry: () => runner.state,
        waitForRegistry: (p) => runner.waitFor(p, 5_000),
        crypto: wrong,
      }),
      (error: unknown) =>
        isKordonError(error, 'config_invalid') &&
        error.message.includes(`(unknown_master_key, master key ${crypto.masterKeys.currentId})`) &&
        !error.message.includes(OPENAI_KEY) &&
        !error.message.includes(OPENAI_KEY_2),
    );
    assert.equal(await fixture.store.headPosition(), before, 'nothing appended');
  });

  it('limits at org, team, user and key level become PolicySet events; removing one clears it', async () => {
    const limitsYaml = (userLimits: string) => `
orgs:
  - slug: acme
    name: Acme
    timeZone: Europe/Moscow
    prices:
      gpt-4o-mini: { input: 0.15, output: "0.60" }
    limits:
      budget: { usd: 1000, period: 1mo }
    teams:
      - name: research
        limits: { rpm: 600, tokens: { total: 5000000, period: 1d } }
    providers:
      - name: openai-main
        type: openai
        baseUrl: https://api.openai.com/v1
        models: [gpt-4o-mini, text-embedding-3-small]
        keys:
          - { name: k1, secret: "\${OPENAI_KEY_1}" }
    users:
      - email: alice@acme.test
        role: admin
        team: research
${userLimits}
        proxyKeys:
          - name: alice-laptop
            secret: "\${ALICE_KEY}"
          - name: alice-ci
            limits:
              rpm: 60
              tpm: 100000
              concurrency: 8
              budget: { usd: 25, period: 90s }
              maxDistinctIps: 3
              ipAllow: ["10.0.0.0/8"]
              ipDeny: []
              models: [gpt-4o-mini]
              rollover: true
`;
    const env = { OPENAI_KEY_1: OPENAI_KEY_2, ALICE_KEY: aliceKey };
    const before = await fixture.store.headPosition();
    const result = await apply(
      writeConfig(limitsYaml('        limits: { budget: { usd: "50.5", period: 1w } }')),
      env,
    );
    // alice-laptop was issued before alice joined the team: keys keep the team they were issued with.
    assert.deepEqual(result.ignored, [
      'proxy key acme/alice@acme.test/alice-laptop: moving a key to another team needs a new key (not applied)',
    ]);
    const added = await fixture.store.readAll({ after: before, maxCount: 100 });
    const policies = added
      .filter((e) => e.type === 'PolicySet')
      .map((e) => kordonCatalogue.decode(e))
      .map((e) => (e.type === 'PolicySet' ? e.data : undefined));
    assert.deepEqual(policies.map((p) => p?.scope).sort(), ['org', 'proxy-key', 'team', 'user']);
    const state = runner.state;
    const orgId = state.orgIdBySlug.get('acme')!;
    const team = [...state.teams.values()].find((t) => t.name === 'research')!;
    const ci = [...state.proxyKeys.values()].find((k) => k.name === 'alice-ci')!;
    assert.equal(ci.teamId, team.teamId, 'keys issued to a team member carry the team');
    const keyPolicy = state.policies.get(`${orgId}/proxy-key/${ci.proxyKeyId}`)!;
    assert.deepEqual(keyPolicy.limits, {
      rpm: 60,
      tpm: 100_000,
      concurrency: 8,
      budget: { usd: '25', period: '90s' },
      maxDistinctIps: { count: 3, period: '90s' },
      ipAllow: ['10.0.0.0/8'],
      ipDeny: [],
      models: ['gpt-4o-mini'],
    });
    assert.deepEqual(keyPolicy.renewal, { timeZone: 'Europe/Moscow', rollover: true });
    assert.deepEqual(state.policies.get(`${orgId}/team/${team.teamId}`)!.limits, {
      rpm: 600,
      tokens: { kind: 'total', count: 5_000_000, period: '1d' },
    });

    const head = await fixture.store.headPosition();
    await apply(writeConfig(limitsYaml('        limits: { budget: { usd: "50.5", period: 1w } }')), env);
    assert.equal(await fixture.store.headPosition(), head, 'unchanged limits append nothing');

    const alice = [...state.users.values()].find((u) => u.email === 'alice@acme.test')!;
    await apply(writeConfig(limitsYaml('')), env);
    assert.equal(
      state.policies.get(`${orgId}/user/${alice.userId}`),
      undefined,
      "the user's limits are gone",
    );
  });

  it('an org logging block becomes LoggingPolicySet; unchanged nothing; removed resets it', async () => {
    const logging = (block: string) =>
      writeConfig(`
orgs:
  - slug: logco
    name: Log Co
${block}
`);
    const policies = async (after: number) =>
      (await fixture.store.readAll({ after, maxCount: 100 }))
        .filter((e) => e.type === 'LoggingPolicySet')
        .map((e) => kordonCatalogue.decode(e))
        .map((e) => (e.type === 'LoggingPolicySet' ? e.data : undefined));
    let head = await fixture.store.headPosition();
    const block = `    logging:
      bodies: redacted
      retentionDays: 30
      redact:
        - { name: employee_id, pattern: '\\bEMP-\\d{6}\\b', action: hash }
        - { name: ticket, pattern: 'ticket #(\\d+)', action: mask, group: 1, caseInsensitive: true }`;
    await apply(logging(block), {});
    assert.deepEqual(await policies(head), [
      {
        bodies: 'redacted',
        retentionDays: 30,
        rules: [
          {
            name: 'employee_id',
            pattern: String.raw`\bEMP-\d{6}\b`,
            action: 'hash',
            caseInsensitive: false,
            group: 0,
            keepLast: 0,
          },
          {
            name: 'ticket',
            pattern: String.raw`ticket #(\d+)`,
            action: 'mask',
            caseInsensitive: true,
            group: 1,
            keepLast: 0,
          },
        ],
      },
    ]);
    const orgId = runner.state.orgIdBySlug.get('logco')!;
    assert.equal(runner.state.loggingPolicies.get(orgId)?.bodies, 'redacted');

    head = await fixture.store.headPosition();
    await apply(logging(block), {});
    assert.equal(await fixture.store.headPosition(), head, 'an unchanged logging block appends nothing');

    await apply(logging('    logging: { bodies: full }'), {});
    assert.deepEqual(await policies(head), [{ bodies: 'full', retentionDays: null, rules: [] }]);

    head = await fixture.store.headPosition();
    await apply(logging(''), {});
    assert.deepEqual(await policies(head), [{ bodies: 'none', retentionDays: null, rules: [] }]);
    head = await fixture.store.headPosition();
    await apply(logging(''), {});
    assert.equal(await fixture.store.headPosition(), head, 'the default stays the default');
  });

  it('refuses a logging rule the RE2 engine will not run, naming the rule', () => {
    const path = writeConfig(`
orgs:
  - slug: logco
    name: Log Co
    logging:
      bodies: everything
      redact:
        - { name: fine, pattern: "x+", action: mask }
        - { name: backref, pattern: '(a)\\1', action: mask }
`);
    assert.throws(
      () => loadConfigFile(path, {}),
      (error: Error) =>
        error instanceof ConfigFileError &&
        /orgs\.0\.logging\.bodies/.test(error.message) &&
        /orgs\.0\.logging\.redact\.1\.pattern: redaction rule "backref"/.test(error.message),
    );
  });

  it('refuses a bad period or time zone, naming the field', () => {
    const path = writeConfig(`
orgs:
  - slug: acme
    name: Acme
    timeZone: Mars/Olympus
    limits: { budget: { usd: 5, period: 1month } }
`);
    assert.throws(
      () => loadConfigFile(path, {}),
      (error: Error) =>
        error instanceof ConfigFileError &&
        /orgs\.0\.timeZone/.test(error.message) &&
        /orgs\.0\.limits\.budget\.period/.test(error.message),
    );
  });

  it('refuses a price that could not price its model, naming the model', () => {
    // Models the shipped table lacks take nothing from it; in another currency neither.
    const path = writeConfig(`
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-4o-mini: { input: 0.1 }
      llama-3.3-70b: { input: 0.5, output: 1 }
      claude-sonnet-4-5: { input: 300, currency: RUB }
`);
    assert.throws(
      () => loadConfigFile(path, {}),
      (error: Error) =>
        error instanceof ConfigFileError &&
        /orgs\.0\.prices\.llama-3\.3-70b: the shipped price table has no llama-3\.3-70b.*give currency/.test(
          error.message,
        ) &&
        /orgs\.0\.prices\.claude-sonnet-4-5: .*give output/.test(error.message) &&
        !/gpt-4o-mini/.test(error.message),
    );
    const priced = writeConfig(`
orgs:
  - slug: acme
    name: Acme
    prices:
      llama-3.3-70b: { input: 0.5, output: 1, currency: USD }
`);
    assert.doesNotThrow(() => loadConfigFile(priced, {}));
  });

  it('refuses a model list entry that is not a model name or prefix, naming where it is', () => {
    const path = writeConfig(`
orgs:
  - slug: acme
    name: Acme
    limits: { models: ["gpt 4o"] }
    providers:
      - name: p
        type: openai
        baseUrl: https://api.example/v1
        models: ["*"]
        keys: [{ name: k, secret: sk-secret-value-123, models: ["gpt-*-mini"] }]
`);
    assert.throws(
      () => loadConfigFile(path, {}),
      (error: Error) =>
        error instanceof ConfigFileError &&
        /orgs\.0\.limits\.models\.0/.test(error.message) &&
        /orgs\.0\.providers\.0\.models\.0: must be a model name, optionally ending in "\*"/.test(
          error.message,
        ) &&
        /orgs\.0\.providers\.0\.keys\.0\.models\.0/.test(error.message),
    );
  });

  it("changes a provider key's tier and limits in place, as one event", async () => {
    const file = (key: string) => `
orgs:
  - slug: tiers
    name: Tiers
    providers:
      - name: openai-tiers
        type: openai
        baseUrl: https://api.openai.com/v1
        models: [gpt-4o-mini]
        keys:
          - ${key}
`;
    const env = { OPENAI_KEY_1: OPENAI_KEY };
    const keyOf = () => {
      const orgId = runner.state.orgIdBySlug.get('tiers')!;
      return [...runner.state.providerKeys.values()].find((k) => k.orgId === orgId && k.name === 'k1')!;
    };
    await apply(writeConfig(file('{ name: k1, secret: "${OPENAI_KEY_1}" }')), env);
    const added = keyOf();
    assert.equal(added.tier, 0);
    assert.equal(added.limits, null);

    const changed = await apply(
      writeConfig(
        file('{ name: k1, secret: "${OPENAI_KEY_1}", tier: 1, limits: { rpm: 100, dailyUsd: "20" } }'),
      ),
      env,
    );
    assert.deepEqual(changed.ignored, []);
    const types = changed.appends.flatMap((a) => a.events.map((e) => e.type));
    assert.deepEqual(types, ['ProviderKeyLimitsChanged']);
    assert.equal(keyOf().providerKeyId, added.providerKeyId, 'the same key, not a new one');
    assert.equal(keyOf().tier, 1);
    assert.deepEqual(keyOf().limits, { rpm: 100, dailyUsd: '20' });

    const same = await apply(
      writeConfig(
        file('{ name: k1, secret: "${OPENAI_KEY_1}", tier: 1, limits: { dailyUsd: "20", rpm: 100 } }'),
      ),
      env,
    );
    assert.equal(same.appends.length, 0, 'the same limits in another order are no change');

    await apply(writeConfig(file('{ name: k1, secret: "${OPENAI_KEY_1}" }')), env);
    assert.equal(keyOf().tier, 0);
    assert.equal(keyOf().limits, null);

    const narrowed = await apply(
      writeConfig(file('{ name: k1, secret: "${OPENAI_KEY_1}", models: [gpt-4o-mini] }')),
      env,
    );
    assert.deepEqual(narrowed.ignored, []);
    assert.deepEqual(
      narrowed.appends.flatMap((a) => a.events.map((e) => e.type)),
      ['ProviderKeyModelsChanged'],
    );
    assert.deepEqual(keyOf().models, ['gpt-4o-mini']);
    assert.equal(keyOf().providerKeyId, added.providerKeyId);
    await apply(writeConfig(file('{ name: k1, secret: "${OPENAI_KEY_1}" }')), env);
    assert.equal(keyOf().models, null);
  });

  it('a new secret in the file brings back a key the gateway disabled for its credentials, not one a person did', async () => {
    const file = `
orgs:
  - slug: refused
    name: Refused
    providers:
      - name: openai-refused
        type: openai
        baseUrl: https://api.openai.com/v1
        models: [gpt-4o-mini]
        keys:
          - { name: k1, secret: "\${OPENAI_KEY_1}" }
`;
    const path = writeConfig(file);
    await apply(path, { OPENAI_KEY_1: OPENAI_KEY });
    const orgId = runner.state.orgIdBySlug.get('refused')!;
    const keyOf = () =>
      [...runner.state.providerKeys.values()].find((k) => k.orgId === orgId && k.name === 'k1')!;
    const { providerKeyId } = keyOf();
    const disable = async (reason: 'invalid_credentials' | 'manual', actor: 'gateway' | 'usr_admin') => {
      const stream = streams.providerKey(orgId, providerKeyId);
      const event = kordonCatalogue.create(
        'ProviderKeyDisabled',
        stream,
        { providerKeyId, reason, upstreamStatus: reason === 'manual' ? null : 401, note: null },
        {
          orgId,
          actor: actor === 'gateway' ? { kind: 'system', id: 'gateway' } : { kind: 'user', id: actor },
        },
      );
      const { lastPosition } = await fixture.store.append(stream, [event], 'any');
      await runner.waitFor(lastPosition, 5_000);
    };
    const typesOf = (result: Awaited<ReturnType<typeof apply>>) =>
      result.appends.flatMap((a) => a.events.map((e) => e.type));

    await disable('invalid_credentials', 'gateway');
    assert.deepEqual(typesOf(await apply(path, { OPENAI_KEY_1: OPENAI_KEY_2 })), [
      'ProviderKeyRotated',
      'ProviderKeyEnabled',
    ]);
    assert.equal(keyOf().disabled, false);
    assert.equal(keyOf().secretCount, 1);

    await disable('manual', 'usr_admin');
    assert.deepEqual(typesOf(await apply(path, { OPENAI_KEY_1: OPENAI_KEY })), ['ProviderKeyRotated']);
    assert.equal(keyOf().disabled, true, "a person's disable stays");
  });

  it("carries the adapters' options (vendor, authScheme, organization, project, CA) to the route; unchanged appends nothing", async () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIBnuc\n-----END CERTIFICATE-----\n';
    const file = (vendor: string) => `
orgs:
  - slug: vendors
    name: Vendors
    providers:
      - name: mistral
        type: openai-compatible
        baseUrl: https://api.mistral.ai/v1
        models: [mistral-small-latest]
        ${vendor}
        keys: [{ name: k1, secret: "\${OPENAI_KEY_1}" }]
      - name: openai-org
        type: openai
        baseUrl: https://api.openai.com/v1
        models: [gpt-4o-mini]
        organization: org-acme
        project: proj_research
      - name: azure-entra
        type: azure-openai
        baseUrl: https://acme.openai.azure.com
        models: [gpt-4o]
        apiVersion: "2024-10-21"
        authScheme: bearer
      - name: giga
        type: gigachat
        baseUrl: https://gigachat.devices.sberbank.ru/api/v1
        models: [GigaChat]
        scope: GIGACHAT_API_CORP
        caCertificate: "\${GIGACHAT_CA}"
`;
    const env = { OPENAI_KEY_1: OPENAI_KEY, GIGACHAT_CA: ca };
    await apply(writeConfig(file('vendor: mistral')), env);
    const orgId = runner.state.orgIdBySlug.get('vendors')!;
    const configOf = (model: string) => {
      const [route] = routeModel(runner.state, orgId, model);
      assert.ok(route, model);
      return { type: route.provider.type, config: providerConfig(route) };
    };
    const mistral = configOf('mistral-small-latest');
    assert.equal(mistral.config.vendor, 'mistral');
    // The preset is what the adapter acts on: Mistral reports usage unasked.
    assert.equal(providerAdapter(mistral.type).streamUsage(mistral.config), 'always');
    assert.deepEqual(
      [configOf('gpt-4o-mini').config.organization, configOf('gpt-4o-mini').config.project],
      ['org-acme', 'proj_research'],
    );
    assert.equal(configOf('gpt-4o').config.authScheme, 'bearer');
    assert.equal(configOf('GigaChat').config.caCertificate, ca);
    assert.equal(configOf('GigaChat').config.scope, 'GIGACHAT_API_CORP');

    const head = await fixture.store.headPosition();
    assert.equal((await apply(writeConfig(file('vendor: mistral')), env)).appends.length, 0);
    assert.equal(await fixture.store.headPosition(), head, 'an unchanged file appends nothing');

    // Taking the vendor out is a change: the provider is generic again, asked for usage.
    await apply(writeConfig(file('')), env);
    const added = await fixture.store.readAll({ after: head, maxCount: 100 });
    assert.deepEqual(
      added.map((e) => e.type),
      ['ProviderConfigured'],
    );
    const generic = configOf('mistral-small-latest');
    assert.equal(generic.config.vendor, undefined);
    assert.equal(providerAdapter(generic.type).streamUsage(generic.config), 'stream_options');
  });

  it("refuses an option its provider's type does not read, or one the adapter would refuse, naming the provider", () => {
    const provider = (type: string, options: string) => `
orgs:
  - slug: wrong
    name: Wrong
    providers:
      - { name: p, type: ${type}, baseUrl: "https://example.test/v1", models: [m], ${options} }
`;
    for (const [type, options, message] of [
      ['anthropic', 'vendor: mistral', /orgs\.0\.providers\.0: vendor does not apply to Anthropic providers/],
      [
        'openai',
        'authScheme: bearer',
        /orgs\.0\.providers\.0: authScheme does not apply to OpenAI providers/,
      ],
      [
        'openai-compatible',
        'organization: org-1',
        /orgs\.0\.providers\.0: organization does not apply to OpenAI-compatible providers/,
      ],
      ['openai-compatible', 'vendor: mistralai', /orgs\.0\.providers\.0\.vendor/],
      ['gigachat', 'caCertificate: "not a PEM"', /orgs\.0\.providers\.0\.caCertificate/],
      ['azure-openai', 'authScheme: bearer', /orgs\.0\.providers\.0: Azure OpenAI needs an apiVersion/],
      ['gigachat', 'scope: GIGACHAT_API_ANY', /orgs\.0\.providers\.0: scope: /],
    ] as const) {
      assert.throws(
        () => loadConfigFile(writeConfig(provider(type, options)), {}),
        (error: unknown) => error instanceof ConfigFileError && message.test(error.message),
        `${type} with ${options}`,
      );
    }
  });

  it("takes an Azure provider at its v1 API without apiVersion, and refuses a base URL that is neither of Azure's APIs", () => {
    const azure = (baseUrl: string) => `
orgs:
  - slug: azure
    name: Azure
    providers:
      - { name: p, type: azure-openai, baseUrl: "${baseUrl}", models: [m] }
`;
    assert.doesNotThrow(() =>
      loadConfigFile(writeConfig(azure('https://acme.openai.azure.com/openai/v1/')), {}),
    );
    assert.throws(
      () => loadConfigFile(writeConfig(azure('https://acme.openai.azure.com/openai/v2')), {}),
      (error: unknown) =>
        error instanceof ConfigFileError &&
        /orgs\.0\.providers\.0: Azure OpenAI's baseUrl path \/openai\/v2 is neither/.test(error.message),
    );
  });

  it('names a missing environment variable and never prints secrets', () => {
    const path = writeConfig(yaml(''));
    assert.throws(
      () => loadConfigFile(path, {}),
      (error: unknown) =>
        error instanceof ConfigFileError &&
        /orgs\[0\]\.providers\[0\]\.keys\[0\]\.secret: environment variable OPENAI_KEY_1 is not set/.test(
          error.message,
        ),
    );
    const bad = writeConfig(
      'orgs:\n  - slug: Not A Slug\n    name: x\n    providers:\n      - { name: p, type: openai, baseUrl: "ftp://x", models: [m], keys: [{ name: k, secret: sk-secret-value-123 }] }\n',
    );
    assert.throws(
      () => loadConfigFile(bad, {}),
      (error: unknown) =>
        error instanceof ConfigFileError &&
        /orgs\.0\.slug/.test(error.message) &&
        /orgs\.0\.providers\.0\.baseUrl/.test(error.message) &&
        !error.message.includes('sk-secret-value-123'),
    );
  });
});

describe('declarative configuration file: later starts', () => {
  let fixture: TestStore;
  let runner: InMemoryProjectionRunner<RegistryState, KordonEvent>;
  let dir: string;
  const hasherSecret = randomBytes(32);
  const hasher = new ProxyKeyHasher({ current: hasherSecret });
  const crypto: ConfigCrypto = {
    masterKeys: new MasterKeyRing(MasterKey.generate('test')),
    proxyKeyHasher: hasher,
    idSecret: randomBytes(32),
  };
  const env = { OPENAI_KEY_1: OPENAI_KEY };

  before(async () => {
    fixture = (await testStores.pglite()) as TestStore;
    runner = new InMemoryProjectionRunner(registryProjection, (e: RecordedEvent) =>
      kordonCatalogue.decode(e),
    );
    await runner.start(fixture.store);
    dir = mkdtempSync(join(tmpdir(), 'kordon-config-later-'));
  });
  after(async () => {
    await runner.stop();
    await fixture.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const writeConfig = (text: string) => {
    const path = join(dir, 'kordon.yaml');
    writeFileSync(path, text);
    return path;
  };
  /** An org of its own with one provider and one user's imported key, with `extra` lines under the org. */
  const example = (slug: string, extra = '') => `
orgs:
  - slug: ${slug}
    name: Acme
${extra}
    providers:
      - name: openai-main
        type: openai
        baseUrl: https://api.openai.com/v1
        models: [gpt-4o-mini, text-embedding-3-small]
        keys:
          - { name: k1, secret: "\${OPENAI_KEY_1}" }
    users:
      - email: alice@${slug}.test
        role: developer
        proxyKeys:
          - { name: alice-laptop, secret: "\${ALICE_KEY_${slug.toUpperCase()}}" }
`;
  const apply = (text: string, vars: Record<string, string>, proxyKeyHasher = hasher) =>
    applyConfigFile({
      file: loadConfigFile(writeConfig(text), vars),
      store: fixture.store,
      registry: () => runner.state,
      waitForRegistry: (p) => runner.waitFor(p, 5_000),
      crypto: { ...crypto, proxyKeyHasher },
    });
  const typesAfter = async (position: number) =>
    (await fixture.store.readAll({ after: position, maxCount: 1000 })).map((e) => e.type);

  it('an empty limits block appends nothing on the next start', async () => {
    const vars = { ...env, ALICE_KEY_EMPTYLIMITS: generateProxyKey(hasher).secret };
    const text = example(
      'emptylimits',
      '    teams:\n      - { name: research, limits: {} }\n      - { name: ops, limits: { rollover: true } }',
    );
    const first = await fixture.store.headPosition();
    await apply(text, vars);
    assert.ok(!(await typesAfter(first)).includes('PolicySet'), 'no limits is no policy');
    const head = await fixture.store.headPosition();
    await apply(text, vars);
    assert.deepEqual(await typesAfter(head), [], 'an unchanged file appends nothing');
  });

  it('a revoked proxy-key secret is not imported again after KORDON_PROXY_KEY_SECRET is rotated', async () => {
    const leaked = generateProxyKey(hasher).secret;
    const text = example('rotated');
    const vars = { ...env, ALICE_KEY_ROTATED: leaked };
    await apply(text, vars);
    const orgId = runner.state.orgIdBySlug.get('rotated')!;
    const key = [...runner.state.proxyKeys.values()].find(
      (k) => k.orgId === orgId && k.name === 'alice-laptop',
    )!;
    // The key leaks; an admin revokes it through the admin API.
    const stream = streams.proxyKey(orgId, key.proxyKeyId);
    const revoked = await fixture.store.append(
      stream,
      [
        kordonCatalogue.create(
          'ProxyKeyRevoked',
          stream,
          { proxyKeyId: key.proxyKeyId, reason: 'manual', note: 'leaked' },
          { orgId, actor: { kind: 'user', id: 'usr_admin' }, time: new Date() },
        ),
      ],
      'any',
    );
    await runner.waitFor(revoked.lastPosition, 5_000);
    // Later the proxy-key secret is rotated (the old one kept in KORDON_PROXY_KEY_SECRETS_OLD)
    // and the gateway restarts with the same file.
    const rotatedHasher = new ProxyKeyHasher({ current: randomBytes(32), previous: [hasherSecret] });
    const head = await fixture.store.headPosition();
    const plan = await apply(text, vars, rotatedHasher);
    assert.ok(
      !(await typesAfter(head)).includes('ProxyKeyIssued'),
      'a revoked key never works again: its secret is not issued anew',
    );
    assert.match(plan.ignored.join('\n'), /alice-laptop: this secret was revoked/);
  });

  it('an org without a prices block leaves the prices finance set through the admin API', async () => {
    const vars = { ...env, ALICE_KEY_PRICES: generateProxyKey(hasher).secret };
    await apply(example('prices'), vars);
    const orgId = runner.state.orgIdBySlug.get('prices')!;
    // Finance sets a negotiated price through the admin API (PUT /orgs/{org}/prices).
    const stream = streams.org(orgId);
    const appended = await fixture.store.append(
      stream,
      [
        kordonCatalogue.create(
          'PricesSet',
          stream,
          {
            prices: [{ model: 'gpt-4o-mini', effectiveFrom: '2026-01-01T00:00:00.000Z', input: '0.1' }],
          },
          { orgId, actor: { kind: 'user', id: 'usr_finance' }, time: new Date() },
        ),
      ],
      'any',
    );
    await runner.waitFor(appended.lastPosition, 5_000);
    const head = await fixture.store.headPosition();
    // The next start, with the unchanged file.
    await apply(example('prices'), vars);
    assert.deepEqual(await typesAfter(head), [], 'an unchanged file appends nothing');
    assert.equal(runner.state.prices.get(orgId)?.length, 1, 'the admin-set price is still in force');

    // Prices the file sets replace them; the block removed again resets them, as the file set them.
    const priced = example('prices', '    prices:\n      gpt-4o-mini: { input: 0.15, output: "0.60" }');
    await apply(priced, vars);
    assert.deepEqual(
      runner.state.prices.get(orgId)?.map((p) => [p.model, p.input, p.output]),
      [['gpt-4o-mini', '0.15', '0.60']],
    );
    const again = await fixture.store.headPosition();
    await apply(priced, vars);
    assert.deepEqual(await typesAfter(again), [], 'unchanged prices append nothing');
    await apply(example('prices'), vars);
    assert.deepEqual(runner.state.prices.get(orgId), [], 'the prices the file set are gone with its block');
    const reset = await fixture.store.headPosition();
    await apply(example('prices'), vars);
    assert.deepEqual(await typesAfter(reset), [], 'and a later start appends nothing');
  });

  it("the file's prices carry long-context tiers and peak hours into the PricesSet", async () => {
    const vars = { ...env, ALICE_KEY_PEAK: generateProxyKey(hasher).secret };
    const prices = [
      '    prices:',
      '      deepseek-chat:',
      '        input: 0.1',
      '        output: "0.4"',
      '        peakHours:',
      '          utcWindows: [{ from: "01:00", to: "04:00" }, { from: "06:00", to: "10:00" }]',
      '          utcWeekdays: [1, 2, 3, 4, 5]',
      '          multiplier: 1.5',
      '      gpt-4o:',
      '        tiers: [{ aboveInputTokens: 100000, input: 5, cachedInput: "2.5", output: 20 }]',
      '      claude-sonnet-4-5: { input: 2.4, cacheWrite: 3, cacheWrite1h: "4.8", output: 12 }',
    ].join('\n');
    await apply(example('peak', prices), vars);
    const orgId = runner.state.orgIdBySlug.get('peak')!;
    const set = runner.state.prices.get(orgId)!;
    assert.deepEqual(
      set.map(({ effectiveFrom: _, ...price }) => price),
      [
        {
          model: 'deepseek-chat',
          input: '0.1',
          output: '0.4',
          peakHours: {
            utcWindows: [
              { from: '01:00', to: '04:00' },
              { from: '06:00', to: '10:00' },
            ],
            utcWeekdays: [1, 2, 3, 4, 5],
            multiplier: '1.5',
          },
        },
        {
          model: 'gpt-4o',
          tiers: [{ aboveInputTokens: 100_000, input: '5', cachedInput: '2.5', output: '20' }],
        },
        { model: 'claude-sonnet-4-5', input: '2.4', cacheWrite: '3', cacheWrite1h: '4.8', output: '12' },
      ],
    );
    const head = await fixture.store.headPosition();
    await apply(example('peak', prices), vars);
    assert.deepEqual(await typesAfter(head), [], 'unchanged tiers and peak hours append nothing');
    // A changed multiplier is a new PricesSet; the unchanged tiered price keeps its start date.
    await apply(example('peak', prices.replace('multiplier: 1.5', 'multiplier: 2')), vars);
    assert.deepEqual(await typesAfter(head), ['PricesSet']);
    const changed = runner.state.prices.get(orgId)!;
    assert.equal(changed[0]?.peakHours?.multiplier, '2');
    assert.equal(changed[1]?.effectiveFrom, set[1]?.effectiveFrom);
  });

  it('providers reordered in the file reorder the fallback chain (configuration order)', async () => {
    const chain = (first: string, second: string) => `
orgs:
  - slug: chain
    name: Chain
    providers:
${[first, second]
  .map(
    (name) => `      - name: ${name}
        type: openai
        baseUrl: https://${name}.example/v1
        models: [gpt-4o-mini]
        keys:
          - { name: k1, secret: "\${OPENAI_KEY_1}" }`,
  )
  .join('\n')}
`;
    await apply(chain('primary', 'backup'), env);
    const orgId = runner.state.orgIdBySlug.get('chain')!;
    assert.deepEqual(
      routeModel(runner.state, orgId, 'gpt-4o-mini').map((r) => r.provider.name),
      ['primary', 'backup'],
    );
    // The admin makes backup the first choice by listing it first, and restarts.
    await apply(chain('backup', 'primary'), env);
    assert.deepEqual(
      routeModel(runner.state, orgId, 'gpt-4o-mini').map((r) => r.provider.name),
      ['backup', 'primary'],
      'the chain follows the order of the file',
    );
    const head = await fixture.store.headPosition();
    await apply(chain('backup', 'primary'), env);
    assert.deepEqual(await typesAfter(head), [], 'an unchanged file appends nothing');

    // A provider made through the admin API keeps its place; the file's move among theirs.
    const adminStream = streams.provider(orgId, 'admin-made');
    const configured = await fixture.store.append(
      adminStream,
      [
        kordonCatalogue.create(
          'ProviderConfigured',
          adminStream,
          {
            provider: 'admin-made',
            type: 'openai',
            baseUrl: 'https://admin-made.example/v1',
            models: ['gpt-4o-mini'],
            options: {},
          },
          { orgId, actor: { kind: 'user', id: 'usr_admin' }, time: new Date() },
        ),
      ],
      'no-stream',
    );
    await runner.waitFor(configured.lastPosition, 5_000);
    await apply(chain('primary', 'backup'), env);
    const chainOf = (state: RegistryState) =>
      routeModel(state, orgId, 'gpt-4o-mini').map((r) => r.provider.name);
    assert.deepEqual(chainOf(runner.state), ['primary', 'backup', 'admin-made']);

    // A fresh replay of the log gives the same chain.
    const replayed = new InMemoryProjectionRunner(registryProjection, (e: RecordedEvent) =>
      kordonCatalogue.decode(e),
    );
    await replayed.start(fixture.store);
    try {
      await replayed.waitFor(await fixture.store.headPosition(), 5_000);
      assert.deepEqual(chainOf(replayed.state), chainOf(runner.state));
    } finally {
      await replayed.stop();
    }
  });
});
