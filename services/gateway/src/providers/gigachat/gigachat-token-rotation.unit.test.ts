/**
 * A GigaChat provider key rotated in place (same providerKeyId, new authorization key: admin
 * `POST /orgs/{org}/provider-keys/{key}/rotate`) is served with a token exchanged for the new
 * authorization key at once: the token cache was keyed by (oauthUrl, scope, key id) only, and
 * the old key's token kept serving (and billing) until it neared expiry (~29 minutes).
 *
 * A small node:http server answers as GigaChat does: `POST /api/v2/oauth` (Basic <auth key>,
 * RqUID, scope=...) -> { access_token, expires_at (ms) }; `POST /api/v1/chat/completions`.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { UpstreamClient } from '../../upstream/upstream-client.js';
import { callProvider } from '../provider-call.js';
import { type ProviderConfig, providerKey } from '../provider-types.js';
import { createGigaChatProvider } from './gigachat-provider.js';

const OLD_AUTH_KEY = Buffer.from('client-old:secret-old').toString('base64');
const NEW_AUTH_KEY = Buffer.from('client-new:secret-new').toString('base64');

describe('gigachat token cache after a key rotation', () => {
  let server: Server;
  let origin = '';
  let client: UpstreamClient;
  const exchangedWith: string[] = [];
  const chatTokens: string[] = [];
  /** access token -> the authorization key it was issued for */
  const issuedFor = new Map<string, string>();
  let counter = 0;

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/api/v2/oauth') {
          const auth = String(req.headers.authorization ?? '').replace(/^Basic /, '');
          exchangedWith.push(auth);
          counter += 1;
          const token = `tok-${counter}`;
          issuedFor.set(token, auth);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: token, expires_at: Date.now() + 30 * 60_000 }));
          return;
        }
        if (req.url === '/api/v1/chat/completions') {
          const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
          chatTokens.push(token);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
              created: Math.floor(Date.now() / 1000),
              model: 'GigaChat',
              object: 'chat.completion',
              usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2, precached_prompt_tokens: 0 },
            }),
          );
          return;
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new UpstreamClient();
  });

  after(async () => {
    await client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('uses a token exchanged for the NEW authorization key once the key is rotated', async () => {
    const adapter = createGigaChatProvider();
    const config: ProviderConfig = {
      baseUrl: `${origin}/api/v1`,
      oauthUrl: `${origin}/api/v2/oauth`,
      scope: 'GIGACHAT_API_PERS',
    };
    const chat = (secret: string) =>
      callProvider(
        { client, adapter, config, key: providerKey('pk-gigachat-rotated', secret) },
        {
          operation: 'chat',
          model: 'GigaChat',
          stream: false,
          body: { model: 'GigaChat', messages: [{ role: 'user', content: 'hi' }] },
        },
      );

    await chat(OLD_AUTH_KEY);
    assert.equal(issuedFor.get(chatTokens.at(-1) ?? ''), OLD_AUTH_KEY);

    // The admin rotates the key: same providerKeyId, new authorization key.
    await chat(NEW_AUTH_KEY);
    assert.ok(
      exchangedWith.includes(NEW_AUTH_KEY),
      'the new authorization key was never exchanged for a token',
    );
    assert.equal(
      issuedFor.get(chatTokens.at(-1) ?? ''),
      NEW_AUTH_KEY,
      'the call after the rotation went out with the token of the old authorization key',
    );
  });
});
