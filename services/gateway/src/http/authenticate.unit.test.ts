import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { newProxyKey, ProxyKeyHasher } from '../proxy-keys/index.js';
import { registryProjection } from '../registry/registry.js';
import { authenticate, KeyRefusalRecorder, RECORDED_KEY_REFUSALS_PER_MINUTE } from './authenticate.js';
import { GatewayError } from './gateway-error.js';

test("a refused key's first refusals of each minute are recorded, each key on its own", () => {
  const recorder = new KeyRefusalRecorder();
  const taken = (key: string, now: number, times: number) =>
    Array.from({ length: times }, () => recorder.take(key, now)).filter(Boolean).length;
  assert.equal(taken('k1', 0, 25), RECORDED_KEY_REFUSALS_PER_MINUTE);
  assert.equal(taken('k2', 1_000, 3), 3, 'another key has its own count');
  assert.equal(taken('k1', 59_999, 1), 0, 'still the same minute');
  assert.equal(taken('k1', 60_000, 25), RECORDED_KEY_REFUSALS_PER_MINUTE, 'a new minute');
});

test('many keys refused at once do not grow the recorder without bound', () => {
  const recorder = new KeyRefusalRecorder();
  for (let i = 0; i < 25_000; i++) assert.equal(recorder.take(`key-${i}`, 0), true);
  // A key tracked before the reset is counted afresh: recorded again, not refused for good.
  assert.equal(recorder.take('key-0', 1), true);
});

test('two different keys are refused with a message naming the headers actually sent', () => {
  const hasher = new ProxyKeyHasher({ current: randomBytes(32) });
  const registry = registryProjection.initialState();
  const [a, b] = [newProxyKey().reveal(), newProxyKey().reveal()];
  const refusal = (rawHeaders: string[]) => {
    try {
      authenticate({ rawHeaders } as unknown as IncomingMessage, registry, hasher, Date.now());
    } catch (error) {
      assert.ok(error instanceof GatewayError);
      assert.equal(error.status, 401);
      assert.ok(!error.message.includes(a) && !error.message.includes(b), 'no key in the message');
      return error.message;
    }
    assert.fail('accepted');
  };
  // An ingress adding its own Authorization header next to the SDK's.
  assert.match(
    refusal(['Authorization', `Bearer ${a}`, 'Authorization', `Bearer ${b}`]),
    /the Authorization header is repeated/,
  );
  assert.match(refusal(['x-api-key', a, 'x-api-key', b]), /the x-api-key header is repeated/);
  assert.match(refusal(['Authorization', `Bearer ${a}`, 'x-api-key', b]), /Authorization and x-api-key/);
});
