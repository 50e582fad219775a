/**
 * GigaChat token exchange failures: an OAuth refusal is the gateway's key or configuration
 * failing (the key flagged, the next one tried, the caller told 502), never the caller's 400.
 */
import assert from 'node:assert/strict';
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
import { refusedExchange } from './gigachat-token.js';

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
