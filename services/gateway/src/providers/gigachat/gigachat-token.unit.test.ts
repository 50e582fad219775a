/**
 * GigaChat token exchange failures: an OAuth refusal is the gateway's key or configuration
 * failing (the key flagged, the next one tried, the caller told 502), never the caller's 400;
 * an OAuth endpoint that does not answer holds a call no longer than the call's own limits.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { asGatewayError } from '../../http/generate.js';
import { failureKind } from '../../http/key-choice.js';
import { UpstreamClient } from '../../upstream/upstream-client.js';
import { isUpstreamError, providerErrorFromStatus, UpstreamError } from '../../upstream/upstream-error.js';
import { callProvider } from '../provider-call.js';
import { chatRequest } from '../provider-contract.js';
import { type ProviderConfig, providerKey } from '../provider-types.js';
import { type GigaChatMock, startGigaChatMock } from './gigachat-mock.js';
import { createGigaChatProvider } from './gigachat-provider.js';
import { GigaChatTokens, refusedExchange } from './gigachat-token.js';

const AUTH_KEY = Buffer.from('client-id-0003:client-secret-0003').toString('base64');

describe('gigachat OAuth refusals', () => {
  let mock: GigaChatMock;
  let client: UpstreamClient;
  const key = providerKey('pk-gigachat-3', AUTH_KEY);

  before(async () => {
    mock = await startGigaChatMock({ authKeys: [AUTH_KEY] });
    client = new UpstreamClient();
  });
  after(async () => {
    await client.destroy();
    await mock.close();
  });

  it('reports an OAuth 400 (a scope the key is not of) as the key refused, not the caller’s request', async () => {
    const adapter = createGigaChatProvider();
    const config: ProviderConfig = {
      baseUrl: `${mock.url}/api/v1`,
      oauthUrl: `${mock.url}/api/v2/oauth`,
      scope: 'GIGACHAT_API_NOPE' as ProviderConfig['scope'],
    };
    const error = await callProvider(
      { client, adapter, config, key },
      chatRequest(adapter, 'GigaChat', 'hi', false),
    ).then(
      () => assert.fail('expected the exchange to be refused'),
      (e: unknown) => e,
    );
    assert.ok(isUpstreamError(error, 'upstream_http_error'));
    assert.equal(error.provider?.status, 400, 'the OAuth answer is kept');
    assert.equal(error.provider?.code, '7');
    assert.equal(error.isRetryable, false);
    assert.equal(failureKind(error, false), 'auth_refused', 'the key is flagged and the next key tried');
    const gateway = asGatewayError(error);
    assert.equal(gateway.kind, 'upstream_auth');
    assert.equal(gateway.status, 502);
    assert.ok(!error.message.includes(AUTH_KEY));
  });

  it('fails over on an OAuth 4xx that asks for a retry, without flagging the key', () => {
    const timedOut = new UpstreamError('upstream_http_error', 'GigaChat answered 408', {
      phase: 'headers',
      status: 408,
      provider: providerErrorFromStatus(408, 'Request Timeout'),
    });
    const error = refusedExchange(timedOut);
    assert.ok(isUpstreamError(error));
    assert.equal(failureKind(error, false), 'server_error');
    assert.equal(asGatewayError(error).kind, 'upstream_error');
    assert.equal(asGatewayError(error).status, 502);
  });

  it('leaves a 401 (a wrong key) and a 429 as they are', () => {
    for (const status of [401, 429]) {
      const answered = new UpstreamError('upstream_http_error', `GigaChat answered ${status}`, {
        phase: 'headers',
        status,
        provider: providerErrorFromStatus(status, ''),
      });
      assert.equal(refusedExchange(answered), answered);
    }
  });
});

describe('gigachat OAuth endpoint that does not answer', () => {
  let server: Server;
  let origin = '';
  let client: UpstreamClient;
  const held: ServerResponse[] = [];

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      held.push(res); // never answered
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new UpstreamClient();
  });
  after(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('gives up at the call’s first-byte limit, not the exchange’s 30 s', async () => {
    const adapter = createGigaChatProvider();
    const started = Date.now();
    const error = await callProvider(
      {
        client,
        adapter,
        config: { baseUrl: `${origin}/api/v1`, oauthUrl: `${origin}/api/v2/oauth` },
        key: providerKey('pk-gc-silent', Buffer.from('a:b').toString('base64')),
        timeouts: { firstByteMs: 500, idleMs: 500, totalMs: 1000 },
      },
      chatRequest(adapter, 'GigaChat', 'hi', false),
    ).then(
      () => assert.fail('expected a timeout'),
      (e: unknown) => e,
    );
    const waited = Date.now() - started;
    assert.ok(isUpstreamError(error, 'upstream_first_byte_timeout'), String(error));
    assert.ok(waited < 2000, `waited ${waited} ms for a call limited to 500 ms to the first byte`);
    assert.equal(failureKind(error, false), 'timeout');
  });
});

describe('gigachat token in its last minute', () => {
  const T0 = 1_800_000_000_000;
  const TOKEN_LIFE_MS = 30 * 60_000;
  let server: Server;
  let origin = '';
  let client: UpstreamClient;
  let issued = 0;
  /** What the OAuth endpoint does: answer a token, fail (500), or hold the exchange. */
  let mode: 'answer' | 'fail' | 'hold' = 'answer';
  const held: ServerResponse[] = [];

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (mode === 'hold') return void held.push(res);
        if (mode === 'fail') {
          res.writeHead(500, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ status: 500, message: 'Internal Server Error' }));
        }
        issued += 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: `tok-${issued}`, expires_at: T0 + issued * TOKEN_LIFE_MS }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new UpstreamClient();
  });
  after(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('serves calls while its successor is exchanged, even when that exchange fails or hangs', async () => {
    let now = T0;
    const tokens = new GigaChatTokens({ now: () => now });
    const config: ProviderConfig = { baseUrl: `${origin}/api/v1`, oauthUrl: `${origin}/api/v2/oauth` };
    const key = providerKey('pk-gc-last-minute', AUTH_KEY);
    const wait = { timeouts: { firstByteMs: 300, idleMs: 300, totalMs: 300 } };
    assert.equal(await tokens.token(client, config, key, wait), 'tok-1');

    // 30 s before tok-1's end: the exchange for the next one hangs, then fails; tok-1 serves.
    now = T0 + TOKEN_LIFE_MS - 30_000;
    mode = 'hold';
    assert.equal(await tokens.token(client, config, key, wait), 'tok-1');
    for (const res of held.splice(0)) res.destroy();
    mode = 'fail';
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await tokens.token(client, config, key, wait), 'tok-1');

    // Past its end no call is sent with it: the call waits for an exchange, and is told its failure.
    await new Promise((resolve) => setTimeout(resolve, 50));
    now = T0 + TOKEN_LIFE_MS;
    await assert.rejects(tokens.token(client, config, key, wait), (error: unknown) => isUpstreamError(error));
    mode = 'answer';
    assert.equal(await tokens.token(client, config, key, wait), 'tok-2');
  });
});
