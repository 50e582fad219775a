import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { format, inspect } from 'node:util';
import { InvalidSecretError } from './errors.js';
import { last4, RedactedSecret } from './redacted.js';

const PLAINTEXT = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789wxyz';

describe('last4', () => {
  test('the last 4 characters of a provider key', () => {
    assert.equal(last4(PLAINTEXT), 'wxyz');
    assert.equal(last4(new RedactedSecret(PLAINTEXT)), 'wxyz');
  });

  test('skips whitespace and non-ASCII so the hint fits the event field', () => {
    assert.equal(last4('{"private_key": "abc"}\n'), 'bc"}');
    assert.equal(last4('abcdefgh12é34  '), '1234');
  });

  test('refuses secrets too short to show a hint without showing half of them', () => {
    assert.throws(() => last4('abc'), InvalidSecretError);
    assert.throws(() => last4('abcdefg'), InvalidSecretError);
    assert.throws(() => last4(' a b c d e f g '), InvalidSecretError);
    assert.equal(last4('abcdefgh'), 'efgh');
  });
});

describe('RedactedSecret', () => {
  const secret = new RedactedSecret(PLAINTEXT);
  const shown = '[redacted …wxyz]';

  function assertHidden(text: string) {
    assert.ok(!text.includes(PLAINTEXT), `plaintext leaked: ${text}`);
    assert.ok(!text.includes('AbCdEf'), `part of the plaintext leaked: ${text}`);
  }

  test('reveal() is the only way to the plaintext', () => {
    assert.equal(secret.reveal(), PLAINTEXT);
    assert.equal(secret.hint, 'wxyz');
  });

  test('String(), template literals, concatenation', () => {
    assert.equal(String(secret), shown);
    assert.equal(`${secret}`, shown);
    assert.equal(`Bearer ${secret}`, `Bearer ${shown}`);
    // biome-ignore lint/style/useTemplate: concatenation is the case under test
    assert.equal('' + secret, shown);
    assert.equal(secret.toString(), shown);
  });

  test('JSON.stringify, alone and nested (what pino and HTTP answers do)', () => {
    assert.equal(JSON.stringify(secret), JSON.stringify(shown));
    const line = JSON.stringify({
      level: 30,
      msg: 'calling upstream',
      key: secret,
      nested: { list: [secret] },
    });
    assertHidden(line);
    assert.deepEqual(JSON.parse(line).nested.list, [shown]);
  });

  test('util.inspect, console-style formatting, and inspect without custom inspectors', () => {
    assert.equal(inspect(secret), shown);
    assertHidden(inspect({ headers: { authorization: secret } }, { depth: 10 }));
    assertHidden(inspect(secret, { customInspect: false, showHidden: true }));
    for (const directive of ['%s', '%o', '%O', '%j']) assertHidden(format(directive, secret));
    assertHidden(format('key', secret));
  });

  test('spreading, keys, entries, structuredClone and Object.assign carry nothing', () => {
    assert.deepEqual({ ...secret }, {});
    assert.deepEqual(Object.keys(secret), []);
    assert.deepEqual(Object.getOwnPropertyNames(secret), []);
    assertHidden(JSON.stringify(structuredClone(secret)));
    assertHidden(JSON.stringify(Object.assign({}, secret)));
  });

  test('is frozen', () => {
    assert.ok(Object.isFrozen(secret));
  });

  test('a short secret is shown without a hint', () => {
    const short = new RedactedSecret('abc');
    assert.equal(String(short), '[redacted]');
    assert.equal(short.hint, null);
  });
});
