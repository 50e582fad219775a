import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isKordonError } from '@kordon/events';
import { DETECTOR_IDS } from './detectors.js';
import { RedactionConfigError } from './errors.js';
import { createRedactor, type RedactorOptions } from './redactor.js';
import { CORPUS_PROMPT, fakeToken, SAMPLES } from './testing/corpus.js';

const hashKey = Buffer.from(fakeToken(32, 101));
const otherKey = Buffer.from(fakeToken(32, 102));
const redactor = createRedactor({ hashKey });

const openaiKey = ['sk', 'proj', fakeToken(48, 103)].join('-');

describe('redactor', () => {
  describe('the corpus: one of each kind', () => {
    const redacted = redactor.redactString(CORPUS_PROMPT);

    test('every planted secret is gone', () => {
      for (const sample of SAMPLES) {
        assert.ok(CORPUS_PROMPT.includes(sample.secret), `${sample.detector} is planted`);
        assert.ok(!redacted.includes(sample.secret), `${sample.detector} survived: ${sample.secret}`);
      }
    });

    test('every detector found its sample', () => {
      const found = new Set(redactor.findings(CORPUS_PROMPT).map((f) => f.rule));
      assert.deepEqual([...found].sort(), [...DETECTOR_IDS].sort());
    });

    test('re-running the detectors on the result finds nothing', () => {
      assert.deepEqual(redactor.findings(redacted), []);
      assert.equal(redactor.redactString(redacted), redacted, 'redaction is idempotent');
    });

    test('the same holds with every detector set to hash', () => {
      const detectors = Object.fromEntries(DETECTOR_IDS.map((id) => [id, { action: 'hash' as const }]));
      const hashing = createRedactor({ hashKey, detectors });
      const out = hashing.redactString(CORPUS_PROMPT);
      for (const sample of SAMPLES) assert.ok(!out.includes(sample.secret), sample.detector);
      assert.deepEqual(hashing.findings(out), []);
    });

    test("every planted secret is gone after a JSON escape (a tool call's arguments)", () => {
      // `arguments` is JSON text inside a string: a value on a new line follows `\n`, a letter.
      for (const separator of ['\n', '\t', '\r', '\b', '\f']) {
        for (const sample of SAMPLES) {
          const args = JSON.stringify({ note: `first line${separator}${sample.text}${separator}last line` });
          const out = redactor.redactString(args);
          assert.ok(
            !out.includes(sample.secret),
            `${sample.detector} after ${JSON.stringify(separator)}: ${out}`,
          );
        }
      }
    });

    test('the text around the findings is kept', () => {
      assert.ok(redacted.startsWith('Please help me debug my setup.'));
      assert.ok(redacted.includes('Item 1 is [REDACTED:anthropic_key …'));
      assert.ok(redacted.endsWith('Thanks!'));
    });
  });

  describe('mask', () => {
    test('keys keep their last 4 characters', () => {
      assert.equal(
        redactor.redactString(`key ${openaiKey}.`),
        `key [REDACTED:openai_key …${openaiKey.slice(-4)}].`,
      );
    });

    test('personal data keeps nothing', () => {
      assert.equal(redactor.redactString('ИНН 7707083893'), 'ИНН [REDACTED:ru_inn]');
      assert.equal(
        redactor.redactString('postgres://app:hunter2-x@db/app'),
        'postgres://app:[REDACTED:url_password]@db/app',
      );
    });

    test('cards keep the last 4 digits, without separators', () => {
      assert.equal(redactor.redactString('4111-1111-1111-1111'), '[REDACTED:payment_card …1111]');
    });
  });

  describe('hash', () => {
    const email = 'Ivan.Petrov@example.ru';

    test('deterministic per key, 12 hex digits, equal values correlate', () => {
      const a = redactor.redactString(`from ${email}`);
      const b = createRedactor({ hashKey }).redactString(`from ${email}`);
      assert.match(a, /^from \[email:hmac:[0-9a-f]{12}\]$/);
      assert.equal(a, b);
      // Normalised before hashing: case does not split one address into two.
      assert.equal(redactor.redactString(`from ${email.toLowerCase()}`), a);
    });

    test('differs across keys and across scopes', () => {
      const a = redactor.redactString(email);
      assert.notEqual(createRedactor({ hashKey: otherKey }).redactString(email), a);
      const orgA = createRedactor({ hashKey, hashScope: 'org-a' }).redactString(email);
      const orgB = createRedactor({ hashKey, hashScope: 'org-b' }).redactString(email);
      assert.notEqual(orgA, orgB);
      assert.notEqual(orgA, a);
    });

    test('different values hash differently', () => {
      assert.notEqual(redactor.redactString('a.b@example.com'), redactor.redactString('a.c@example.com'));
    });
  });

  describe('drop', () => {
    const dropping = createRedactor({ hashKey, detectors: { payment_card: { action: 'drop' } } });

    test('in a string the match becomes [DROPPED]', () => {
      assert.equal(dropping.redactString('card 4111 1111 1111 1111 ok'), 'card [DROPPED] ok');
    });

    test('in a structure the field is removed', () => {
      const value = {
        user: 'u-1',
        card: '4111 1111 1111 1111',
        note: 'pay with 5555555555554444 please',
        nested: { list: ['keep', 'card 4111111111111111', 'also keep'], n: 4111111111111111 },
      };
      assert.deepEqual(dropping.redactValue(value), {
        user: 'u-1',
        nested: { list: ['keep', 'also keep'] },
      });
    });

    test('the strictest action wins where findings overlap', () => {
      // The card is also a secret_field value: drop beats mask.
      assert.equal(dropping.redactString('password=4111111111111111'), 'password=[DROPPED]');
    });
  });

  describe('redactValue', () => {
    test('returns a new object and leaves the input alone', () => {
      const input = { a: { b: `token is ${openaiKey}` }, list: [1, 'x'] };
      const snapshot = structuredClone(input);
      const out = redactor.redactValue(input) as typeof input;
      assert.deepEqual(input, snapshot);
      assert.notEqual(out, input);
      assert.notEqual(out.a, input.a);
      assert.notEqual(out.list, input.list);
      assert.equal(out.a.b, `token is [REDACTED:openai_key …${openaiKey.slice(-4)}]`);
    });

    test('values of sensitive keys are replaced whatever they look like', () => {
      const out = redactor.redactValue({
        headers: {
          Authorization: 'anything',
          'x-api-key': 'abc',
          'Proxy-Authorization': 'x',
          Cookie: 'a=b',
          host: 'api.example.com',
        },
        api_key: 'k',
        password: 'p',
        db_password: 'p',
        client_secret: { nested: true },
        OPENAI_API_KEY: 'z',
        secret: 42,
        empty_password: '',
        missing_secret: null,
        usage: { input_tokens: 5, output_tokens: 7, max_tokens: 9 },
        keyId: 'pkh-1',
      });
      const masked = '[REDACTED:secret_field]';
      assert.deepEqual(out, {
        headers: {
          Authorization: masked,
          'x-api-key': masked,
          'Proxy-Authorization': masked,
          Cookie: masked,
          host: 'api.example.com',
        },
        api_key: masked,
        password: masked,
        db_password: masked,
        client_secret: masked,
        OPENAI_API_KEY: masked,
        secret: masked,
        empty_password: '',
        missing_secret: null,
        usage: { input_tokens: 5, output_tokens: 7, max_tokens: 9 },
        keyId: 'pkh-1',
      });
    });

    test('Node rawHeaders arrays', () => {
      assert.deepEqual(redactor.redactValue(['Host', 'example.com', 'X-Api-Key', 'opaque']), [
        'Host',
        'example.com',
        'X-Api-Key',
        '[REDACTED:secret_field]',
      ]);
    });

    test('keys are redacted like strings', () => {
      const out = redactor.redactValue({ 'ivan@example.ru': 1, plain: 2 }) as Record<string, number>;
      const keys = Object.keys(out);
      assert.equal(keys.length, 2);
      assert.match(keys[0]!, /^\[email:hmac:[0-9a-f]{12}\]$/);
      assert.equal(keys[1], 'plain');
    });

    test('long integers, errors, maps, sets, dates, binaries, cycles, toJSON', () => {
      const error = new Error(`upstream refused ${openaiKey}`, { cause: new Error('user ivan@example.ru') });
      (error as Error & { code?: string }).code = 'upstream_auth_failed';
      const cyclic: Record<string, unknown> = { name: 'loop' };
      cyclic.self = cyclic;
      const date = new Date(0);
      const out = redactor.redactValue({
        inn: 7707083893,
        count: 12345678901,
        error,
        map: new Map([
          ['authorization', 'Bearer x'],
          ['k', 'AKIA' + 'ABCDEFGHIJKLMNOP'],
        ]),
        set: new Set(['4111111111111111']),
        date,
        bytes: Buffer.from('secret'),
        cyclic,
        decimal: { toJSON: () => `sk-${fakeToken(30, 5)}` },
      }) as Record<string, unknown>;
      assert.equal(out.inn, '[REDACTED:ru_inn]');
      assert.equal(out.count, 12345678901);
      const e = out.error as Record<string, unknown>;
      assert.equal(e.name, 'Error');
      assert.equal(e.message, `upstream refused [REDACTED:openai_key …${openaiKey.slice(-4)}]`);
      assert.equal(e.code, 'upstream_auth_failed');
      assert.ok(typeof e.stack === 'string' && !e.stack.includes(openaiKey));
      assert.match((e.cause as Record<string, string>).message!, /^user \[email:hmac:[0-9a-f]{12}\]$/);
      const map = out.map as Map<string, string>;
      assert.equal(map.get('authorization'), '[REDACTED:secret_field]');
      assert.match(map.get('k')!, /^\[REDACTED:aws_access_key_id …MNOP\]$/);
      assert.deepEqual([...(out.set as Set<string>)], ['[REDACTED:payment_card …1111]']);
      assert.ok(out.date instanceof Date && out.date !== date && out.date.getTime() === 0);
      assert.equal(out.bytes, '[binary: 6 bytes]');
      assert.deepEqual(out.cyclic, { name: 'loop', self: '[Circular]' });
      assert.match(out.decimal as string, /^\[REDACTED:openai_key …/);
    });

    test('a top-level string is redacted like redactString, primitives pass', () => {
      assert.equal(redactor.redactValue('ИНН 7707083893'), 'ИНН [REDACTED:ru_inn]');
      assert.equal(redactor.redactValue(42), 42);
      assert.equal(redactor.redactValue(null), null);
      assert.equal(redactor.redactValue(undefined), undefined);
      assert.equal(redactor.redactValue(true), true);
    });

    test('__proto__ keys stay data', () => {
      const input = JSON.parse('{"__proto__": {"polluted": "sk-abc"}, "a": 1}') as unknown;
      const out = redactor.redactValue(input) as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(out), Object.prototype);
      assert.ok(Object.hasOwn(out, '__proto__'));
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });

  describe('findings', () => {
    test('offsets, rule, kind and action, never the matched text', () => {
      const text = `x ${openaiKey} y`;
      const findings = redactor.findings(text);
      assert.deepEqual(findings, [
        { rule: 'openai_key', kind: 'builtin', action: 'mask', start: 2, end: 2 + openaiKey.length },
      ]);
      assert.ok(!JSON.stringify(findings).includes(openaiKey));
    });

    test('overlapping matches merge into one finding', () => {
      // A JWT after Bearer is also a bearer token: one finding, named by the more specific jwt.
      const jwt = SAMPLES.find((s) => s.detector === 'jwt')!.secret;
      const findings = redactor.findings(`Authorization: Bearer ${jwt}`);
      assert.equal(findings.length, 1);
      assert.equal(findings[0]!.rule, 'jwt');
    });
  });

  describe('a merged finding keeps only characters that each of its matches would keep', () => {
    test("a cookie header keeps nothing, not the end of the header's last cookie", () => {
      const text = `Cookie: sid=sk-proj-${'A'.repeat(28)}; csrftoken=9f8e7d6c5b4a`;
      assert.equal(redactor.redactString(text), 'Cookie: [REDACTED:openai_key]');
    });

    test("a password that begins like a key keeps nothing: the key's match ends before it", () => {
      assert.equal(
        redactor.redactString('password=sk-abcdefghijklmnopqrst!Pw9#'),
        'password=[REDACTED:openai_key]',
      );
    });

    test('a key that is also the value of a secret field keeps nothing: secret_field keeps none', () => {
      assert.equal(redactor.redactString(`api_key=${openaiKey}`), 'api_key=[REDACTED:openai_key]');
      assert.equal(
        redactor.redactString(`Authorization: Bearer ${openaiKey}`),
        'Authorization: Bearer [REDACTED:openai_key]',
      );
    });

    test('matches that all keep the same end keep it', () => {
      // jwt and bearer_token both keep 4 and end together.
      const jwt = SAMPLES.find((s) => s.detector === 'jwt')!.secret;
      assert.equal(redactor.redactString(`Bearer ${jwt}`), `Bearer [REDACTED:jwt …${jwt.slice(-4)}]`);
    });

    test("a match that ends inside the kept characters shortens them to the named rule's own", () => {
      // The custom rule keeps nothing of its match, which ends two characters before the key.
      const r = createRedactor({
        hashKey,
        rules: [{ id: 'project_ref', pattern: 'proj-[A-Za-z0-9]+WX', action: 'mask' }],
      });
      const key = `sk-proj-${'A'.repeat(28)}WXYZ`;
      assert.equal(r.redactString(`key ${key} end`), 'key [REDACTED:openai_key …YZ] end');
    });

    test('a named rule whose match is under 16 characters keeps nothing, whatever the merge spans', () => {
      const r = createRedactor({
        hashKey,
        rules: [
          { id: 'short_key', pattern: 'K-[0-9]{8}', action: 'mask', keepLast: 4 },
          { id: 'long_ref', pattern: 'ref [0-9A-Z-]{30}', action: 'hash' },
        ],
      });
      // short_key names the finding (mask beats hash) and ends it, but has 10 characters.
      assert.equal(r.redactString(`ref ABCDEFGHIJKLMNOPQRSTUVWX-K-12345678`), '[REDACTED:short_key]');
    });
  });

  describe('configuration', () => {
    test('a detector can be turned off or given another action', () => {
      const r = createRedactor({ hashKey, detectors: { email: false, ru_inn: { action: 'hash' } } });
      assert.equal(r.redactString('a@example.com'), 'a@example.com');
      assert.match(r.redactString('7707083893'), /^\[ru_inn:hmac:[0-9a-f]{12}\]$/);
      assert.equal(
        createRedactor({ hashKey, detectors: { email: true } }).findings('a@example.com').length,
        1,
      );
    });

    test('turning secret_field off also turns off sensitive key names', () => {
      const r = createRedactor({ hashKey, detectors: { secret_field: false } });
      assert.deepEqual(r.redactValue({ password: 'p' }), { password: 'p' });
    });

    test('unknown detector ids and bad settings are refused, naming them', () => {
      assert.throws(
        () =>
          createRedactor({
            hashKey,
            detectors: { emails: false } as unknown as RedactorOptions['detectors'],
          }),
        (error: unknown) =>
          error instanceof RedactionConfigError &&
          error.ruleId === 'emails' &&
          /"emails"/.test(error.message),
      );
      assert.throws(
        () =>
          createRedactor({
            hashKey,
            detectors: { email: { action: 'erase' } } as unknown as RedactorOptions['detectors'],
          }),
        /redaction detector "email"/,
      );
    });

    test('the hash key must be at least 32 random-looking bytes', () => {
      for (const bad of [Buffer.alloc(16, 1), Buffer.alloc(32, 7), 'a string key'.repeat(4)]) {
        assert.throws(
          () => createRedactor({ hashKey: bad as Uint8Array }),
          (error: unknown) => isKordonError(error, 'config_invalid') && !error.isRetryable,
        );
      }
    });
  });

  test('hot path: strings without candidates cost little (printed, not asserted)', () => {
    const line =
      'GET /v1/chat/completions 200 in 35ms org=acme team=search model=gpt-4o-mini provider=openai';
    const body = `${'The quick brown fox jumps over the lazy dog. '.repeat(200)}`;
    const withSecret = `${line} Authorization: Bearer ${openaiKey}`;
    const time = (text: string, n: number) => {
      for (let i = 0; i < 1000; i++) redactor.redactString(text);
      const started = performance.now();
      for (let i = 0; i < n; i++) redactor.redactString(text);
      return ((performance.now() - started) * 1000) / n;
    };
    assert.equal(redactor.redactString(line), line);
    console.log(
      `# redactString: clean log line ${time(line, 20_000).toFixed(2)} µs, ` +
        `clean 9 KB body ${time(body, 2_000).toFixed(1)} µs, ` +
        `line with a key ${time(withSecret, 20_000).toFixed(2)} µs`,
    );
  });
});
