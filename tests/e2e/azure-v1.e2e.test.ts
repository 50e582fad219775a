/**
 * An azure-openai provider at Azure's v1 API (GA since August 2025): a base URL ending in
 * `/openai/v1/`, no apiVersion in the file. Kordon must start with it and call OpenAI's paths
 * under it (`/chat/completions`, `/embeddings`, `/responses`), the deployment in the body's
 * `model`, no `api-version`, the key in `api-key`. The upstream is an Azure v1 front on the
 * OpenAI mock: it serves only those paths and known deployments, and answers with the model
 * version the deployment runs, as Azure does. A prompt its content filter refuses is a 400 whose
 * details are in `inner_error` (`content_filter_results` by category), as Azure's REST reference
 * names them and its v1 API sends them, not the deployment API's `innererror`.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const KEY = 'azurev1key0123456789abcdef012345';

/** Deployment -> the model version it runs. */
const DEPLOYMENTS: Record<string, string> = {
  'mini-prod': 'gpt-4o-mini-2024-07-18',
  'embed-prod': 'text-embedding-3-small',
};

const V1_PATH = /^\/az\/openai\/v1\/(chat\/completions|embeddings|responses)$/;

interface Seen {
  path: string;
  apiVersion: string | null;
  apiKey: unknown;
  body: Record<string, unknown>;
}

/** The details of a refused prompt, as the v1 API sends them (REST reference: `innerError`). */
const INNER_ERROR = {
  code: 'ResponsibleAIPolicyViolation',
  content_filter_results: {
    hate: { filtered: false, severity: 'safe' },
    self_harm: { filtered: false, severity: 'safe' },
    sexual: { filtered: true, severity: 'high' },
    violence: { filtered: false, severity: 'safe' },
  },
};

function azureError(res: ServerResponse, status: number, code: string, message: string): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ error: { code, message } }));
}

async function serveAzureV1(req: IncomingMessage, res: ServerResponse, openAI: URL, seen: Seen[]) {
  let text = '';
  for await (const part of req) text += part;
  const url = new URL(req.url ?? '/', 'http://x');
  const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  seen.push({
    path: url.pathname,
    apiVersion: url.searchParams.get('api-version'),
    apiKey: req.headers['api-key'],
    body,
  });
  const operation = V1_PATH.exec(url.pathname)?.[1];
  if (req.method !== 'POST' || operation === undefined)
    return azureError(res, 404, '404', 'Resource not found');
  if (req.headers['api-key'] !== KEY)
    return azureError(res, 401, '401', 'Access denied due to invalid subscription key.');
  const model = typeof body.model === 'string' ? DEPLOYMENTS[body.model] : undefined;
  if (model === undefined) {
    return azureError(res, 404, 'DeploymentNotFound', 'The API deployment for this resource does not exist.');
  }
  if (JSON.stringify(body.messages ?? body.input ?? '').includes('forbidden-words')) {
    res.writeHead(400, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        error: {
          inner_error: INNER_ERROR,
          code: 'content_filter',
          message:
            "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
          param: 'prompt',
          type: null,
        },
      }),
    );
    return;
  }
  const forwarded = JSON.stringify({ ...body, model });
  const upstream = request(
    {
      host: openAI.hostname,
      port: openAI.port,
      path: `/v1/${operation}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, {
        'content-type': answer.headers['content-type'] ?? 'application/json',
      });
      answer.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  upstream.end(forwarded);
}

describe('azure-openai at its v1 API, end to end', () => {
  let openaiMock: MockServer;
  let upstream: Server;
  let k: KordonUnderTest;
  let openai: OpenAI;
  const seen: Seen[] = [];

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [KEY] });
    const openAIUrl = new URL(openaiMock.url);
    upstream = createServer((req, res) => {
      serveAzureV1(req, res, openAIUrl, seen).catch(() => res.destroy());
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    k = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: azure-v1
        type: azure-openai
        baseUrl: ${base}/az/openai/v1/
        deployments: { gpt-4o-mini: mini-prod, text-embedding-3-small: embed-prod }
        models: [gpt-4o-mini, text-embedding-3-small]
        keys: [{ name: k1, secret: "${KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`);
    const key = k.proxyKeys.get('dev@acme.test--laptop');
    assert.ok(key);
    openai = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await k?.stop();
    await new Promise((r) => upstream?.close(r));
    await openaiMock?.close();
  });

  async function completed(requestId: string | null): Promise<KordonEvent & { type: 'RequestCompleted' }> {
    for (let i = 0; i < 60; i++) {
      const found = (await k.requestEvents()).find(
        (e) => (e.data as { requestId?: string }).requestId === requestId,
      );
      if (found) {
        assert.equal(found.type, 'RequestCompleted');
        return found as KordonEvent & { type: 'RequestCompleted' };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`no event for ${requestId}`);
  }

  function lastSeen(path: string): Seen {
    const last = seen.at(-1);
    assert.ok(last, 'the upstream saw the call');
    assert.equal(last.path, `/az/openai/v1/${path}`);
    assert.equal(last.apiVersion, null, 'no api-version on the v1 API');
    assert.equal(last.apiKey, KEY);
    return last;
  }

  it('answers a chat, the deployment named in the body, the answer as Azure sends it', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi v1' }] })
      .withResponse();
    assert.match(data.choices[0]?.message.content ?? '', /hi v1/);
    assert.equal(data.model, 'gpt-4o-mini-2024-07-18');
    assert.equal(lastSeen('chat/completions').body.model, 'mini-prod');
    const event = await completed(response.headers.get('x-request-id'));
    assert.equal(event.data.provider, 'azure-v1');
    assert.ok(event.data.usage.inputTokens > 0 && event.data.usage.outputTokens > 0);
  });

  it('streams a chat with its usage asked for as on OpenAI', async () => {
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi stream' }], stream: true })
      .withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.match(text, /hi stream/);
    const body = lastSeen('chat/completions').body;
    assert.equal(body.model, 'mini-prod');
    assert.deepEqual(body.stream_options, { include_usage: true });
    const event = await completed(response.headers.get('x-request-id'));
    assert.ok(event.data.usage.outputTokens > 0);
  });

  it('answers embeddings', async () => {
    const { data, response } = await openai.embeddings
      .create({ model: 'text-embedding-3-small', input: ['one', 'two'] })
      .withResponse();
    assert.equal(data.data.length, 2);
    assert.equal(lastSeen('embeddings').body.model, 'embed-prod');
    const event = await completed(response.headers.get('x-request-id'));
    assert.ok(event.data.usage.inputTokens > 0);
  });

  it('answers the Responses API, plain and streamed', async () => {
    const { data, response } = await openai.responses
      .create({ model: 'gpt-4o-mini', input: 'hi responses' })
      .withResponse();
    assert.match(data.output_text, /hi responses/);
    assert.equal(lastSeen('responses').body.model, 'mini-prod');
    assert.ok((await completed(response.headers.get('x-request-id'))).data.usage.outputTokens > 0);

    const { data: stream, response: streamed } = await openai.responses
      .create({ model: 'gpt-4o-mini', input: 'hi streamed responses', stream: true })
      .withResponse();
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    assert.equal(types.at(-1), 'response.completed');
    assert.equal(lastSeen('responses').body.model, 'mini-prod');
    assert.ok((await completed(streamed.headers.get('x-request-id'))).data.usage.outputTokens > 0);
  });

  it('a prompt its content filter refuses reaches the OpenAI SDK as a 400 with its inner_error (which category)', async () => {
    for (const stream of [false, true]) {
      const error = await openai.chat.completions
        .create({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'forbidden-words' }] })
        .then(
          () => assert.fail('expected the content-filter refusal'),
          (e: unknown) => {
            assert.ok(e instanceof OpenAI.APIError, String(e));
            return e;
          },
        );
      assert.equal(error.status, 400);
      assert.equal(error.code, 'content_filter');
      assert.match(error.message, /content management policy/);
      assert.deepEqual(
        (error.error as { inner_error?: unknown }).inner_error,
        INNER_ERROR,
        `stream: ${stream}`,
      );
    }
  });
});
