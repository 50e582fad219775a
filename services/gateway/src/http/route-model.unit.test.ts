import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, streams } from '@kordon/events';
import { type RegistryState, registryProjection } from '../registry/registry.js';
import { GatewayError } from './gateway-error.js';
import { isRecordableModelName, modelMatches, refuseUpstreamModelChoice, routeModel } from './route-model.js';

const ORG = 'org_1';

/** An org whose providers serve `models` each, in this order; `openrouter` is OpenRouter. */
function registry(providers: Record<string, readonly string[]>): RegistryState {
  const state = registryProjection.initialState();
  let position = 0;
  for (const [provider, models] of Object.entries(providers)) {
    const options = provider === 'openrouter' ? { vendor: 'openrouter' as const } : {};
    const event = kordonCatalogue.create(
      'ProviderConfigured',
      streams.provider(ORG, provider),
      {
        provider,
        type: 'openai-compatible',
        baseUrl: 'http://127.0.0.1:1/v1',
        models: [...models],
        options,
      },
      { orgId: ORG, actor: { kind: 'config', id: 'test' } },
    );
    registryProjection.evolve(state, {
      ...event,
      position: ++position,
      streamVersion: 1,
    } as unknown as KordonEvent);
  }
  return state;
}

const routed = (state: RegistryState, model: unknown) =>
  routeModel(state, ORG, model).map((route) => `${route.provider.name}:${route.model}`);

function refusal(state: RegistryState, model: unknown): GatewayError {
  try {
    routeModel(state, ORG, model);
  } catch (error) {
    assert.ok(error instanceof GatewayError, String(error));
    return error;
  }
  assert.fail(`${JSON.stringify(model)} was routed`);
}

describe('modelMatches', () => {
  it('matches a listed name exactly, and a pattern by its prefix', () => {
    assert.equal(modelMatches(['gpt-4o'], 'gpt-4o'), true);
    assert.equal(modelMatches(['gpt-4o'], 'gpt-4o-mini'), false);
    assert.equal(modelMatches(['gpt-4.1*'], 'gpt-4.1-mini'), true);
    assert.equal(modelMatches(['gpt-4.1*'], 'gpt-4o'), false);
  });

  it('never takes a pattern asked for as a model: it is not a name a provider serves', () => {
    assert.equal(modelMatches(['gpt-4.1*'], 'gpt-4.1*'), false);
    assert.equal(modelMatches(['gpt-4.1*'], 'gpt-4.1-*'), false);
    assert.equal(modelMatches(['*'], '*'), false);
  });
});

describe('routeModel', () => {
  const state = registry({ local: ['local*'], backup: ['local-llama'], any: ['l*', 'a*'] });

  it('routes a name to every provider that serves it, in configuration order', () => {
    assert.deepEqual(routed(state, 'local-llama'), [
      'local:local-llama',
      'backup:local-llama',
      'any:local-llama',
    ]);
    assert.deepEqual(routed(state, 'backup/local-llama'), ['backup:local-llama']);
  });

  it('refuses a missing model with a 400 naming model', () => {
    for (const model of [undefined, '', 42]) {
      const error = refusal(state, model);
      assert.equal(error.kind, 'invalid_request');
      assert.equal(error.options.param, 'model');
    }
  });

  it('refuses, with a 400 naming model, a name a wildcard matches but the request events cannot hold', () => {
    for (const model of [
      'local llama',
      'local\nllama',
      'local\tllama',
      'local-lláma',
      `local-${'x'.repeat(195)}`,
      '-local',
      'any/local llama',
    ]) {
      const error = refusal(state, model);
      assert.equal(error.kind, 'invalid_request', JSON.stringify(model));
      assert.equal(error.options.param, 'model');
    }
  });

  it('routes a name of 200 printable characters, the longest the events hold', () => {
    const model = `local-${'x'.repeat(194)}`;
    assert.deepEqual(routed(state, model), [`local:${model}`, `any:${model}`]);
  });
});

describe('isRecordableModelName', () => {
  it('takes the names providers spell', () => {
    for (const name of ['gpt-4o', 'openai/gpt-4o', 'claude-3-5-sonnet@20240620', 'ft:gpt-4o:acme::abc', 'x'])
      assert.equal(isRecordableModelName(name), true, name);
  });
  it('refuses spaces, control characters, non-ASCII, a leading symbol and more than 200 characters', () => {
    for (const name of ['', 'a b', 'a\nb', 'a\u0000b', 'é', '/gpt', 'x'.repeat(201)])
      assert.equal(isRecordableModelName(name), false, JSON.stringify(name));
  });
});

describe('refuseUpstreamModelChoice', () => {
  const state = registry({ local: ['meta-llama/*'], openrouter: ['meta-llama/*'] });
  const body = { model: 'meta-llama/llama-3.1-8b-instruct', messages: [], models: ['openai/o1-pro'] };

  it("refuses OpenRouter's `models` when OpenRouter is anywhere in the chain, naming the field", () => {
    for (const model of ['meta-llama/llama-3.1-8b-instruct', 'openrouter/meta-llama/llama-3.1-8b-instruct']) {
      const routes = routeModel(state, ORG, model);
      assert.throws(
        () => refuseUpstreamModelChoice(routes, body, 'openai'),
        (error: unknown) =>
          error instanceof GatewayError &&
          error.kind === 'invalid_request' &&
          error.options.param === 'models',
      );
    }
  });

  it('lets the field be where no provider of the chain reads it, or where the body is translated', () => {
    refuseUpstreamModelChoice(
      routeModel(state, ORG, 'local/meta-llama/llama-3.1-8b-instruct'),
      body,
      'openai',
    );
    refuseUpstreamModelChoice(routeModel(state, ORG, 'meta-llama/llama-3.1-8b-instruct'), body, 'anthropic');
    refuseUpstreamModelChoice(
      routeModel(state, ORG, 'meta-llama/llama-3.1-8b-instruct'),
      { messages: [] },
      'openai',
    );
  });
});
