/**
 * Two refusals of one Claude account that another account's key may not share, through the
 * official SDKs (@anthropic-ai/sdk 1.17, openai):
 * - 400 `organization_url_fetch_disabled`: Anthropic turned off URL sources (and `web_fetch`,
 *   `mcp_servers`) for the key's organization. Kordon asks the next key (another organization),
 *   skips that key for a while for requests that fetch a URL only, and passes Claude's 400 on
 *   when no key is left: OrganizationURLFetchDisabledError to Anthropic callers, a 400
 *   `invalid_request_error` saying what happened to OpenAI callers.
 * - 503 `storage_not_ready`: the key's workspace is still being connected to its storage.
 *   Kordon asks the next key, rests this one (a minute, not counted as the key failing), and
 *   when no key is left answers Claude's 503 with its `error.details` (StorageNotReadyError to
 *   Anthropic callers, not the OverloadedError of an overloaded provider) and a Retry-After.
 * The mock answers both per key, as Claude does per account.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type MockServer, type RecordedRequest, startAnthropicMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** A key of an organization whose URL fetching is off. */
const URL_OFF = 'sk-ant-api03-refusals-urloff-abcdefghijklmnopq';
/** A key of a workspace still being connected to its storage. */
const NOT_READY = 'sk-ant-api03-refusals-notready-abcdefghijklmno';
/** A key of another organization, ready and fetching URLs. */
const READY = 'sk-ant-api03-refusals-ready-abcdefghijklmnopqrs';

const IMAGE_URL = 'https://example.com/cat.png';

describe("a Claude account's own refusals: URL fetching off, storage not ready", () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  const proxyKey = () => gateway.proxyKeys.get('dev@acme.test--laptop')!;
  const anthropic = () => new Anthropic({ apiKey: proxyKey(), baseURL: gateway.url, maxRetries: 0 });
  const openai = () => new OpenAI({ apiKey: proxyKey(), baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  const sent = (): RecordedRequest[] => mock.requests.filter((r) => r.path === '/v1/messages');
  const keysAsked = () =>
    sent().map((r) =>
      r.key === URL_OFF ? 'url-off' : r.key === NOT_READY ? 'not-ready' : r.key === READY ? 'ready' : '?',
    );
  const withUrlImage = (model: string) => ({
    model,
    max_tokens: 100,
    messages: [
      {
        role: 'user' as const,
        content: [
          { type: 'image' as const, source: { type: 'url' as const, url: IMAGE_URL } },
          { type: 'text' as const, text: 'What is this?' },
        ],
      },
    ],
  });
  const plain = (model: string) => ({
    model,
    max_tokens: 100,
    messages: [{ role: 'user' as const, content: 'hi' }],
  });
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => assert.fail('expected a refusal'),
      (error: unknown) => error,
    );

  before(async () => {
    mock = await startAnthropicMock({
      keys: [URL_OFF, NOT_READY, READY],
      urlFetchDisabled: [URL_OFF],
      storageNotReady: [NOT_READY],
    });
    // Tier 0 is asked first while usable: the refusing key comes first, the ready one after it.
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: claude
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-sonnet-4-6]
        keys:
          - { name: url-off, secret: "\${URL_OFF}", tier: 0 }
          - { name: ready, secret: "\${READY}", tier: 1 }
      - name: claude-url-off-only
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-haiku-4-5]
        keys:
          - { name: url-off-alone, secret: "\${URL_OFF}" }
      - name: claude-storage
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-opus-4-6]
        keys:
          - { name: not-ready, secret: "\${NOT_READY}", tier: 0 }
          - { name: ready-too, secret: "\${READY}", tier: 1 }
      - name: claude-not-ready-only
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-sonnet-4-5]
        keys:
          - { name: not-ready-alone, secret: "\${NOT_READY}" }
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: laptop }
`,
      { URL_OFF, NOT_READY, READY },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });
  beforeEach(() => mock.clearRequests());

  describe('organization_url_fetch_disabled', () => {
    it("goes on to another organization's key, which then serves URL sources while the first serves the rest", async () => {
      const first = await anthropic().messages.create(withUrlImage('claude-sonnet-4-6'));
      assert.equal(first.type, 'message');
      assert.deepEqual(keysAsked(), ['url-off', 'ready'], 'the refused key, then the next one');

      mock.clearRequests();
      await anthropic().messages.create(withUrlImage('claude-sonnet-4-6'));
      assert.deepEqual(keysAsked(), ['ready'], 'a key whose organization fetches no URL is not asked again');

      // An OpenAI caller's image_url goes to Claude as a URL source: the same key is skipped.
      mock.clearRequests();
      const chat = await openai().chat.completions.create({
        model: 'claude-sonnet-4-6',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image_url', image_url: { url: IMAGE_URL } },
              { type: 'text', text: 'What is this?' },
            ],
          },
        ],
      });
      assert.equal(chat.choices[0]?.finish_reason, 'stop');
      assert.deepEqual(keysAsked(), ['ready']);

      mock.clearRequests();
      const text = await anthropic().messages.create(plain('claude-sonnet-4-6'));
      assert.deepEqual(text.content, [{ type: 'text', text: 'Mock reply: hi' }]);
      assert.deepEqual(keysAsked(), ['url-off'], 'a request without a URL still goes to the first tier');
    });

    it('with no other key, an Anthropic caller gets OrganizationURLFetchDisabledError as Claude sent it', async () => {
      for (const attempt of ['asked', 'remembered']) {
        mock.clearRequests();
        const error = await refusal(anthropic().messages.create(withUrlImage('claude-haiku-4-5')));
        assert.ok(
          error instanceof Anthropic.OrganizationURLFetchDisabledError,
          `${attempt}: ${String(error)}`,
        );
        assert.equal(error.status, 400);
        assert.equal(error.type, 'invalid_request_error');
        assert.deepEqual(error.details, { error_code: 'organization_url_fetch_disabled' });
        assert.match(error.apiMessage ?? '', /URL fetching is turned off/);
        assert.match(error.requestID ?? '', /\S/);
        assert.deepEqual(keysAsked(), attempt === 'asked' ? ['url-off'] : [], attempt);
      }
      const text = await anthropic().messages.create(plain('claude-haiku-4-5'));
      assert.equal(text.type, 'message', 'the key serves a request without a URL');
    });

    it("with no other key, an OpenAI caller's image_url gets a 400 invalid_request_error saying what happened", async () => {
      const error = await refusal(
        openai().chat.completions.create({
          model: 'claude-haiku-4-5',
          messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: IMAGE_URL } }] }],
        }),
      );
      assert.ok(error instanceof OpenAI.BadRequestError, String(error));
      assert.equal(error.status, 400);
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.code, 'organization_url_fetch_disabled');
      assert.match(error.message, /URL fetching turned off/);
      assert.match(error.message, /image or document given by URL/);
    });
  });

  describe('storage_not_ready', () => {
    it('goes on to the next key, and the key rests without being asked again', async () => {
      const first = await anthropic().messages.create(plain('claude-opus-4-6'));
      assert.equal(first.type, 'message');
      assert.deepEqual(keysAsked(), ['not-ready', 'ready']);

      mock.clearRequests();
      await anthropic().messages.create(plain('claude-opus-4-6'));
      assert.deepEqual(keysAsked(), ['ready'], 'the resting key is not asked within its minute');
    });

    it('with no other key, an Anthropic caller gets StorageNotReadyError (503), not OverloadedError', async () => {
      for (const attempt of ['asked', 'remembered']) {
        mock.clearRequests();
        const error = await refusal(anthropic().messages.create(plain('claude-sonnet-4-5')));
        assert.ok(error instanceof Anthropic.StorageNotReadyError, `${attempt}: ${String(error)}`);
        assert.ok(!(error instanceof Anthropic.OverloadedError));
        assert.equal(error.status, 503);
        assert.equal(error.type, 'api_error', "Claude's own error.type");
        assert.deepEqual(error.details, { error_code: 'storage_not_ready' });
        assert.match(error.apiMessage ?? '', /still being connected to its storage/);
        assert.match(error.requestID ?? '', /\S/);
        const retryAfter = Number(error.headers?.get('retry-after'));
        assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: when the key is back (${retryAfter})`);
        assert.notEqual(error.headers?.get('x-should-retry'), 'false');
        assert.deepEqual(keysAsked(), attempt === 'asked' ? ['not-ready'] : [], attempt);
      }
    });

    it('with no other key, an OpenAI caller gets a 503', async () => {
      const error = await refusal(
        openai().chat.completions.create({
          model: 'claude-sonnet-4-5',
          messages: [{ role: 'user', content: 'hi' }],
        }),
      );
      assert.ok(error instanceof OpenAI.InternalServerError, String(error));
      assert.equal(error.status, 503);
      assert.match(error.message, /not ready/);
    });

    it('is recorded as the provider unavailable, and writes no key cool-down or disabling', async () => {
      const events = await gateway.allEvents();
      assert.deepEqual(
        events.filter((e) => e.type === 'ProviderKeyCooledDown' || e.type === 'ProviderKeyDisabled'),
        [],
      );
      const failed = (await gateway.requestEvents()).filter(
        (e) => e.type === 'RequestFailed' && e.data.model === 'claude-sonnet-4-5',
      );
      assert.ok(failed.length > 0);
      for (const event of failed) {
        assert.equal(event.type === 'RequestFailed' && event.data.errorCode, 'upstream_unavailable');
        assert.equal(event.type === 'RequestFailed' && event.data.upstreamStatus, 503);
      }
    });
  });
});
