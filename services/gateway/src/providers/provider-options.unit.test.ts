/** A stored provider's options: checked per type, and handed to the adapter as they were stored. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KordonEventData } from '@kordon/events';
import { providerConfig } from '../http/generate.js';
import { chatRequest } from './provider-contract.js';
import { providerConfigProblems, storedProviderConfig } from './provider-options.js';
import { providerAdapter, providers } from './provider-registry.js';
import { PROVIDER_IDS, type ProviderId } from './provider-types.js';

type Options = KordonEventData<'ProviderConfigured'>['options'];

const CA = '-----BEGIN CERTIFICATE-----\nMIIBnucroot\n-----END CERTIFICATE-----\n';

/** One valid value of each option only some types read, and the types that read it. */
const TYPE_OPTIONS: Record<string, { value: Options[keyof Options]; readBy: ProviderId[] }> = {
  apiVersion: { value: '2024-10-21', readBy: ['anthropic', 'gemini', 'azure-openai'] },
  deployments: { value: { 'gpt-4o': 'prod' }, readBy: ['azure-openai'] },
  folderId: { value: 'b1gfolder', readBy: ['yandexgpt'] },
  authScheme: { value: 'bearer', readBy: ['azure-openai', 'yandexgpt'] },
  oauthUrl: { value: 'https://ngw.devices.sberbank.ru:9443/api/v2/oauth', readBy: ['gigachat'] },
  scope: { value: 'GIGACHAT_API_B2B', readBy: ['gigachat'] },
  vendor: { value: 'mistral', readBy: ['openai-compatible'] },
  organization: { value: 'org-acme', readBy: ['openai'] },
  project: { value: 'proj_1', readBy: ['openai'] },
};

/** What each type needs to be valid at all. */
const NEEDS: Record<ProviderId, Options> = {
  openai: {},
  anthropic: {},
  gemini: {},
  'azure-openai': { apiVersion: '2024-10-21' },
  'openai-compatible': {},
  yandexgpt: { folderId: 'b1gfolder' },
  gigachat: {},
};

const BASE_URL = 'https://provider.example.test/v1';

describe('provider options by type', () => {
  it('each adapter takes the options it reads and refuses the others, naming them', () => {
    for (const type of PROVIDER_IDS) {
      assert.deepEqual(providerConfigProblems({ type, baseUrl: BASE_URL, options: NEEDS[type] }), [], type);
      for (const [option, { value, readBy }] of Object.entries(TYPE_OPTIONS)) {
        const problems = providerConfigProblems({
          type,
          baseUrl: BASE_URL,
          options: { ...NEEDS[type], [option]: value },
        });
        if (readBy.includes(type)) assert.deepEqual(problems, [], `${type} reads ${option}`);
        else
          assert.deepEqual(
            problems,
            [`${option} does not apply to ${providerAdapter(type).name} providers`],
            `${type} with ${option}`,
          );
      }
    }
  });

  it("applies providerConfigSchema's rules, stricter than the log's", () => {
    assert.deepEqual(
      providerConfigProblems({
        type: 'azure-openai',
        baseUrl: BASE_URL,
        options: { apiVersion: '2024 10 21' },
      }),
      ['apiVersion: must be a version like 2024-10-21 or v1beta'],
    );
    assert.match(
      providerConfigProblems({
        type: 'gigachat',
        baseUrl: BASE_URL,
        options: { scope: 'GIGACHAT_API_ANY' },
      })[0]!,
      /^scope: /,
    );
    assert.deepEqual(
      providerConfigProblems({ type: 'openai-compatible', baseUrl: BASE_URL, options: {} }),
      [],
    );
  });
});

describe('the options a call is prepared with', () => {
  const routeTo = (type: ProviderId, options: Options) => ({
    provider: {
      orgId: 'org_1',
      name: 'p',
      type,
      baseUrl: BASE_URL,
      models: ['m'],
      options,
      managedBy: 'api' as const,
    },
    model: 'm',
  });

  it('the route gives the adapter every stored option (the same as the checks read)', () => {
    const options: Options = {
      apiVersion: '2024-10-21',
      deployments: { m: 'prod' },
      folderId: 'b1gfolder',
      authScheme: 'bearer',
      oauthUrl: 'https://ngw.devices.sberbank.ru:9443/api/v2/oauth',
      scope: 'GIGACHAT_API_CORP',
      vendor: 'mistral',
      organization: 'org-acme',
      project: 'proj_1',
      caCertificate: CA,
    };
    const config = providerConfig(routeTo('openai', options));
    assert.deepEqual(config, storedProviderConfig(BASE_URL, options));
    assert.deepEqual(
      Object.keys(config).sort(),
      ['baseUrl', ...Object.keys(options)].sort(),
      'no stored option is left behind',
    );
  });

  it("a provider's CA certificate reaches the prepared request of every type", () => {
    for (const type of PROVIDER_IDS) {
      const adapter = providers[type];
      const config = providerConfig(routeTo(type, { ...NEEDS[type], caCertificate: CA }));
      const prepared = adapter.prepare(chatRequest(adapter, 'm', 'hi', false), config);
      assert.deepEqual(prepared.tls, { ca: CA }, type);
      const without = adapter.prepare(
        chatRequest(adapter, 'm', 'hi', false),
        providerConfig(routeTo(type, NEEDS[type])),
      );
      assert.equal(without.tls, undefined, type);
    }
  });
});
