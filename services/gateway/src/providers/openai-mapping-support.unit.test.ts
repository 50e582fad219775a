import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TranslationError } from '../translate/index.js';
import { gigaChatRequestFromOpenAI } from './gigachat/gigachat-mappers.js';
import { yandexRequestFromOpenAI } from './yandexgpt/yandexgpt-mappers.js';

const MODEL_URI = 'gpt://b1gfolder/yandexgpt/latest';
const refusedAt = (param: string) => (error: unknown) =>
  error instanceof TranslationError && error.param === param;

describe('stop sequences (neither YandexGPT nor GigaChat has a stop field)', () => {
  const body = (stop: unknown) => ({ model: 'm', messages: [{ role: 'user', content: 'x' }], stop });
  const yandex = (stop: unknown, callerDialect?: 'openai' | 'anthropic') => () =>
    yandexRequestFromOpenAI(body(stop), { modelUri: MODEL_URI, stream: false, callerDialect });
  const giga = (stop: unknown, callerDialect?: 'openai' | 'anthropic') => () =>
    gigaChatRequestFromOpenAI(body(stop), { model: 'GigaChat', stream: false, callerDialect });

  it('are refused naming stop for an OpenAI caller, stop_sequences for an Anthropic one', () => {
    for (const map of [yandex, giga]) {
      assert.throws(map('END'), refusedAt('stop'));
      assert.throws(map(['END']), refusedAt('stop'));
      assert.throws(map(['END'], 'openai'), refusedAt('stop'));
      assert.throws(map(['END'], 'anthropic'), (error: unknown) => {
        return refusedAt('stop_sequences')(error) && /stop_sequences/.test((error as Error).message);
      });
    }
  });

  it('none (null or an empty list) is no refusal', () => {
    for (const map of [yandex, giga]) {
      assert.doesNotThrow(map(null));
      assert.doesNotThrow(map([]));
      assert.doesNotThrow(map(undefined));
    }
  });
});
