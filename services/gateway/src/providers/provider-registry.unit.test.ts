/** Properties every adapter has, and the keys they take. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { isUpstreamError } from '../upstream/upstream-error.js';
import { providerConfigSchema } from './provider-config.js';
import { providers } from './provider-registry.js';
import {
  GENERATE_OPERATION,
  type Operation,
  PROVIDER_IDS,
  type ProviderAdapter,
  providerKey,
} from './provider-types.js';

describe('the registry', () => {
  it('holds one adapter per provider id, under its own id', () => {
    assert.deepEqual(Object.keys(providers).sort(), [...PROVIDER_IDS].sort());
    for (const [id, adapter] of Object.entries(providers)) assert.equal(adapter.id, id);
  });

  it('every adapter serves the generate operation of its dialect', () => {
    for (const adapter of Object.values(providers) as ProviderAdapter[]) {
      assert.ok(adapter.operations.includes(GENERATE_OPERATION[adapter.dialect]), adapter.id);
    }
  });

  it('every adapter refuses the operations it does not serve', () => {
    const all: Operation[] = [
      'chat',
      'messages',
      'generate_content',
      'embeddings',
      'count_tokens',
      'responses',
      'responses_compact',
      'models',
    ];
    for (const adapter of Object.values(providers) as ProviderAdapter[]) {
      const config = { baseUrl: 'http://127.0.0.1:9', apiVersion: '2024-10-21', folderId: 'b1gfolder' };
      for (const operation of all.filter((candidate) => !adapter.operations.includes(candidate))) {
        assert.equal(adapter.supports(operation, config), false, `${adapter.id} ${operation}`);
        assert.throws(
          () => adapter.prepare({ operation, model: 'm', stream: false, body: {} }, config),
          (error: unknown) => isUpstreamError(error, 'upstream_target_refused'),
          `${adapter.id} ${operation}`,
        );
      }
    }
  });

  it('compacts responses at OpenAI and on Azure v1 API only, as sent and never streamed', () => {
    const compact = {
      operation: 'responses_compact',
      model: 'gpt-5',
      stream: false,
      body: { input: 'hi' },
    } as const;
    const openai = providers.openai.prepare(compact, { baseUrl: 'http://127.0.0.1:9/v1' });
    assert.equal(openai.target.path, '/v1/responses/compact');
    assert.deepEqual(JSON.parse(openai.body ?? ''), { input: 'hi' });
    assert.equal(openai.framing, undefined);
    const v1 = { baseUrl: 'http://127.0.0.1:9/openai/v1' };
    assert.equal(providers['azure-openai'].supports('responses_compact', v1), true);
    const azure = providers['azure-openai'].prepare(compact, v1);
    assert.equal(azure.target.path, '/openai/v1/responses/compact');
    assert.equal(JSON.parse(azure.body ?? '').model, 'gpt-5', 'the deployment in the body');
    // Azure documents compaction on its v1 API only; vLLM's Responses API has none.
    const deployments = { baseUrl: 'http://127.0.0.1:9', apiVersion: '2025-04-01-preview' };
    assert.equal(providers['azure-openai'].supports('responses_compact', deployments), false);
    assert.throws(
      () => providers['azure-openai'].prepare(compact, deployments),
      (error: unknown) => isUpstreamError(error, 'upstream_target_refused'),
    );
    const vllm = { baseUrl: 'http://127.0.0.1:9/v1', vendor: 'vllm' } as const;
    assert.equal(providers['openai-compatible'].supports('responses', vllm), true);
    assert.equal(providers['openai-compatible'].supports('responses_compact', vllm), false);
  });

  it('reports a missing or unsafe base URL at start', () => {
    for (const adapter of Object.values(providers) as ProviderAdapter[]) {
      if (adapter.defaultBaseUrl === undefined) assert.ok(adapter.configProblems({}).length > 0, adapter.id);
    }
    assert.deepEqual(providers.openai.configProblems({ baseUrl: 'https://user:pw@api.openai.com/v1' }), [
      'base URL must not contain credentials',
    ]);
  });
});

describe('provider keys', () => {
  it('reveal the secret only when asked', () => {
    const key = providerKey('pk-1', 'sk-very-secret-value');
    assert.equal(key.reveal(), 'sk-very-secret-value');
    for (const shown of [JSON.stringify(key), String(key), inspect(key), JSON.stringify({ nested: key })]) {
      assert.ok(!shown.includes('sk-very-secret'), shown);
    }
  });
});

describe('provider configuration schema', () => {
  it('accepts each provider own fields and refuses unknown ones', () => {
    const ok = providerConfigSchema.safeParse({
      baseUrl: 'https://acme.openai.azure.com',
      apiVersion: '2024-10-21',
      deployments: { 'gpt-4o': 'gpt4o-prod' },
    });
    assert.equal(ok.success, true);
    assert.equal(providerConfigSchema.safeParse({ baseUrl: 'ftp://x' }).success, false);
    assert.equal(providerConfigSchema.safeParse({ api_base: 'https://evil.test' }).success, false);
    assert.equal(providerConfigSchema.safeParse({ deployments: { 'gpt-4o': '../x' } }).success, false);
  });
});
