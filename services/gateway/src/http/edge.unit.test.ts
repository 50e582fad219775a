import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { kordonCatalogue, streams } from '@kordon/events';
import { generateProxyKey, ProxyKeyHasher } from '../proxy-keys/index.js';
import { type RegistryState, registryProjection } from '../registry/registry.js';
import { authenticate } from './authenticate.js';
import { BodyBudget } from './body-budget.js';
import { errorBody, GatewayError } from './gateway-error.js';
import { KeyChoice } from './key-choice.js';
import { readJsonBody } from './read-body.js';
import { routeModel } from './route-model.js';

/** A response stand-in: the budget only listens for its close. */
const response = () => new EventEmitter() as unknown as ServerResponse;
/** A hold from a budget with room for anything here. */
const roomy = () => new BodyBudget(1 << 30).holdFor(response());

const request = (body: string | Buffer, headers: Record<string, string> = {}) => {
  const req = Readable.from([Buffer.from(body)]) as unknown as IncomingMessage;
  req.headers = headers;
  req.rawHeaders = Object.entries(headers).flat();
  return req;
};

describe('gateway edge', () => {
  it('answers errors in the caller dialect', () => {
    const error = new GatewayError('model_not_found', 'The model `x` does not exist', { param: 'model' });
    assert.equal(error.status, 404);
    assert.deepEqual(errorBody(error, 'openai'), {
      error: {
        message: 'The model `x` does not exist',
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      },
    });
    assert.deepEqual(errorBody(error, 'anthropic', 'req-1'), {
      type: 'error',
      error: { type: 'not_found_error', message: 'The model `x` does not exist' },
      request_id: 'req-1',
    });
    assert.equal(new GatewayError('body_too_large', 'x').status, 413);
  });

  it('reads JSON bodies within the limit, refusing oversized and malformed ones', async () => {
    assert.deepEqual(await readJsonBody(request('{"model":"m"}'), 100, roomy()), { model: 'm' });
    await assert.rejects(
      readJsonBody(request('x'.repeat(200)), 100, roomy()),
      (e: GatewayError) => e.status === 413,
    );
    await assert.rejects(
      readJsonBody(request('{}', { 'content-length': '5000' }), 100, roomy()),
      (e: GatewayError) => e.kind === 'body_too_large',
    );
    await assert.rejects(
      readJsonBody(request('{"model":'), 100, roomy()),
      (e: GatewayError) => e.kind === 'invalid_json',
    );
    await assert.rejects(
      readJsonBody(request('[1]'), 100, roomy()),
      (e: GatewayError) => e.kind === 'invalid_request',
    );
  });

  it('skips a UTF-8 byte order mark, refuses bytes that are not UTF-8, and a compressed body with a 415', async () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"model":"m"}')]);
    assert.deepEqual(await readJsonBody(request(withBom), 100, roomy()), { model: 'm' });
    // Bytes that are not UTF-8 would reach the provider as U+FFFD: refused, not changed.
    const latin1 = Buffer.concat([
      Buffer.from('{"model":"m","x":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}'),
    ]);
    await assert.rejects(
      readJsonBody(request(latin1), 100, roomy()),
      (e: GatewayError) => e.kind === 'invalid_json' && /not valid UTF-8/.test(e.message),
    );
    assert.deepEqual(await readJsonBody(request('{"model":"café"}'), 100, roomy()), { model: 'café' });
    const compressed = request('{"model":"m"}', { 'content-encoding': 'gzip' });
    await assert.rejects(
      readJsonBody(compressed, 100, roomy()),
      (e: GatewayError) => e.status === 415 && /content-encoding: gzip/.test(e.message),
    );
    assert.deepEqual(
      await readJsonBody(request('{"model":"m"}', { 'content-encoding': 'identity' }), 100, roomy()),
      {
        model: 'm',
      },
    );
    // RFC 9110 section 5.6.1.2: empty list elements are ignored; an empty header names no
    // coding, and a repeated `identity` (merged by Node as `identity, identity`) is still none.
    for (const none of ['', ' ', 'identity, identity', ', identity'])
      assert.deepEqual(
        await readJsonBody(request('{"model":"m"}', { 'content-encoding': none }), 100, roomy()),
        { model: 'm' },
        JSON.stringify(none),
      );
    await assert.rejects(
      readJsonBody(request('{"model":"m"}', { 'content-encoding': 'identity, gzip' }), 100, roomy()),
      (e: GatewayError) => e.status === 415 && /content-encoding: identity, gzip/.test(e.message),
    );
  });

  it('reads a body in many chunks; past the limit it refuses, closing the connection after its answer; a request cut short rejects', async () => {
    const chunked = (parts: string[]) => {
      const req = Readable.from(parts.map((part) => Buffer.from(part))) as unknown as IncomingMessage;
      req.headers = {};
      return req;
    };
    assert.deepEqual(await readJsonBody(chunked(['{"mo', 'del":', '"é"}']), 100, roomy()), { model: 'é' });
    const big = chunked(Array.from({ length: 50 }, () => 'x'.repeat(10)));
    await assert.rejects(
      readJsonBody(big, 100, roomy()),
      (e: GatewayError) => e.kind === 'body_too_large' && e.options.headers?.connection === 'close',
    );
    const cut = new Readable({ read() {} }) as unknown as IncomingMessage & Readable;
    cut.headers = {};
    const reading = readJsonBody(cut, 100, roomy());
    cut.push(Buffer.from('{"model"'));
    setImmediate(() => cut.destroy());
    await assert.rejects(reading, (e: Error & { code?: string }) => e.code === 'ECONNRESET');
  });

  it('takes each body from the process budget, refuses past it with a 503, and gives it back on close', async () => {
    const budget = new BodyBudget(100);
    const first = response();
    const declared = (text: string) => request(text, { 'content-length': String(Buffer.byteLength(text)) });
    assert.deepEqual(await readJsonBody(declared(`{"a":"${'x'.repeat(60)}"}`), 1000, budget.holdFor(first)), {
      a: 'x'.repeat(60),
    });
    assert.equal(budget.held, 68);
    // A declared length that does not fit is refused before a byte is read.
    const refused = declared(`{"b":"${'y'.repeat(40)}"}`);
    await assert.rejects(readJsonBody(refused, 1000, budget.holdFor(response())), (e: GatewayError) => {
      assert.equal(e.kind, 'overloaded');
      assert.equal(e.status, 503);
      assert.equal(e.options.retryAfterSeconds, 1);
      return true;
    });
    assert.equal(budget.held, 68, 'a refused body takes nothing');
    // Chunked (no length): taken chunk by chunk, refused at the chunk that does not fit.
    const chunked = Readable.from(
      ['{"c":"', 'z'.repeat(20), 'z'.repeat(20), '"}'].map((p) => Buffer.from(p)),
    ) as unknown as IncomingMessage;
    chunked.headers = {};
    const chunkedRes = response();
    await assert.rejects(
      readJsonBody(chunked, 1000, budget.holdFor(chunkedRes)),
      (e: GatewayError) => e.kind === 'overloaded' && e.options.headers?.connection === 'close',
    );
    chunkedRes.emit('close');
    first.emit('close');
    first.emit('close');
    assert.equal(budget.held, 0, 'every hold given back once, when its response closed');
    assert.deepEqual(
      await readJsonBody(declared(`{"d":"${'w'.repeat(80)}"}`), 1000, budget.holdFor(response())),
      {
        d: 'w'.repeat(80),
      },
    );
  });

  it("counts a finished answer's bytes without refusing them, leaving less room for the next body", async () => {
    const budget = new BodyBudget(100);
    const answered = response();
    const hold = budget.holdFor(answered);
    hold.count(150); // past the budget: an answer already paid for is never cut
    assert.equal(budget.held, 150);
    await assert.rejects(
      readJsonBody(request('{}', { 'content-length': '2' }), 1000, budget.holdFor(response())),
      (e: GatewayError) => e.kind === 'overloaded',
    );
    answered.emit('close');
    hold.count(10); // after its response closed: nothing more is held for it
    assert.equal(budget.held, 0);
  });

  const hasher = new ProxyKeyHasher({ current: randomBytes(32) });
  const build = () => {
    const state = registryProjection.initialState();
    const orgId = 'org_a';
    const meta = { orgId, actor: { kind: 'config' as const, id: 't' } };
    const apply = (type: string, stream: string, data: unknown) => {
      const event = kordonCatalogue.create(type as never, stream, data as never, meta);
      registryProjection.evolve(state, kordonCatalogue.decode({ ...event, position: 1, streamVersion: 1 }));
    };
    apply('OrgCreated', streams.org(orgId), { orgId, slug: 'a', name: 'A' });
    for (const [name, models] of [
      ['openai-main', ['gpt-4o-mini', 'gpt-4.1*']],
      ['openai-backup', ['gpt-4o-mini']],
    ] as const) {
      apply('ProviderConfigured', streams.provider(orgId, name), {
        provider: name,
        type: 'openai',
        baseUrl: 'https://api.openai.com/v1',
        models,
        options: {},
      });
    }
    apply('UserJoined', streams.user(orgId, 'usr_1'), {
      userId: 'usr_1',
      email: 'a@a.test',
      displayName: 'a',
      method: 'config',
    });
    const key = generateProxyKey(hasher);
    apply('ProxyKeyIssued', streams.proxyKey(orgId, 'pxk_1'), {
      proxyKeyId: 'pxk_1',
      userId: 'usr_1',
      teamId: null,
      name: 'laptop',
      prefix: key.prefix,
      hash: key.hash,
      expiresAt: null,
    });
    return { state, apply, secret: key.secret, orgId };
  };

  it('authenticates by keyed hash and refuses unknown, malformed, suspended keys and disabled owners', () => {
    const { state, apply, secret, orgId } = build();
    const now = Date.now();
    assert.equal(
      authenticate(request('', { authorization: `Bearer ${secret}` }), state, hasher, now).key.proxyKeyId,
      'pxk_1',
    );
    assert.equal(authenticate(request('', { 'x-api-key': secret }), state, hasher, now).user.userId, 'usr_1');
    const refused = (headers: Record<string, string>, pattern: RegExp, s: RegistryState = state) =>
      assert.throws(
        () => authenticate(request('', headers), s, hasher, now),
        (e: GatewayError) => e.status === 401 && pattern.test(e.message) && !e.message.includes(secret),
      );
    refused({}, /no API key given/);
    refused({ authorization: 'Bearer sk-not-ours' }, /not a Kordon key/);
    refused({ authorization: `Bearer ${generateProxyKey(hasher).secret}` }, /unknown key/);
    apply('ProxyKeySuspended', streams.proxyKey(orgId, 'pxk_1'), {
      proxyKeyId: 'pxk_1',
      reason: 'manual',
      byFraudDetector: false,
      fraudSignalId: null,
      note: null,
    });
    refused({ authorization: `Bearer ${secret}` }, /is suspended/);
    apply('ProxyKeyReinstated', streams.proxyKey(orgId, 'pxk_1'), { proxyKeyId: 'pxk_1', note: null });
    apply('UserDisabled', streams.user(orgId, 'usr_1'), { userId: 'usr_1', note: null });
    refused({ authorization: `Bearer ${secret}` }, /disabled user/);
  });

  it('routes models to the providers that list them, and only within the org', () => {
    const { state, orgId } = build();
    assert.deepEqual(
      routeModel(state, orgId, 'gpt-4o-mini').map((r) => r.provider.name),
      ['openai-main', 'openai-backup'],
    );
    assert.deepEqual(
      routeModel(state, orgId, 'openai-backup/gpt-4o-mini').map((r) => [r.provider.name, r.model]),
      [['openai-backup', 'gpt-4o-mini']],
    );
    assert.equal(routeModel(state, orgId, 'gpt-4.1-nano')[0]!.provider.name, 'openai-main');
    assert.throws(
      () => routeModel(state, orgId, 'claude-x'),
      (e: GatewayError) => e.status === 404 && /claude-x/.test(e.message),
    );
    assert.throws(
      () => routeModel(state, 'org_other', 'gpt-4o-mini'),
      (e: GatewayError) => e.status === 404,
    );
    assert.throws(
      () => routeModel(state, orgId, 42),
      (e: GatewayError) => e.status === 400,
    );
    // No keys configured: nothing to try.
    const route = routeModel(state, orgId, 'gpt-4o-mini')[0]!;
    assert.equal(new KeyChoice().candidates(state, route, undefined).next(Date.now()), undefined);
  });
});
