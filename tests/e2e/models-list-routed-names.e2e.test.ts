/**
 * `GET /v1/models` lists a name as a request naming it is routed: `openai/gpt-4o` of an
 * OpenRouter provider is, in an org with a provider named `openai`, that provider's `gpt-4o`
 * (`provider-name/model`), held to the model lists as `gpt-4o`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('models.list: names as routing takes them', () => {
  let gateway: KordonUnderTest;

  before(async () => {
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: http://127.0.0.1:9/v1
        models: [gpt-4o]
        keys: [{ name: k1, secret: "sk-proj-modelslistroutednamesabcdefghijklmnopq" }]
      - name: router
        type: openai-compatible
        vendor: openrouter
        baseUrl: http://127.0.0.1:9/api/v1
        models: [openai/gpt-4o, mistralai/mistral-large]
        keys: [{ name: k2, secret: "sk-or-v1-modelslistroutednamesabcdefghijklmnopq" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: dev }
          - { name: narrow, limits: { models: [openai/gpt-4o, mistralai/mistral-large] } }
`);
  });
  after(async () => {
    await gateway?.stop();
  });

  const openai = (name: string) =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get(`dev@acme.test--${name}`)!,
      maxRetries: 0,
    });

  it('every listed model is retrieved as listed, owned by the provider a request reaches', async () => {
    for (const name of ['dev', 'narrow']) {
      const listed = (await openai(name).models.list()).data;
      for (const model of listed) {
        const retrieved = await openai(name)
          .models.retrieve(model.id)
          .catch((error: unknown) => String(error));
        assert.deepEqual(retrieved, model, `${name}: ${model.id}`);
      }
    }
    // The narrow key's list names openai/gpt-4o, which routing takes as the openai provider's gpt-4o.
    const narrow = (await openai('narrow').models.list()).data.map((model) => model.id);
    assert.deepEqual(narrow, ['mistralai/mistral-large']);
  });
});
