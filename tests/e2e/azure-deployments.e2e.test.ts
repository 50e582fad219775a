/**
 * The azure-openai provider at deployment URLs, end to end through the official SDKs, against
 * a raw upstream that answers as Azure OpenAI does: deployment paths with `api-version`, the
 * key in `api-key`, its error bodies (a content-filter refusal's `innererror`, a missing
 * deployment's 404 `DeploymentNotFound`) and the model version a deployment runs named in
 * every answer's `model`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import OpenAI from 'openai';
import {
  eventOfRequest,
  type KordonUnderTest,
  providerKeyHealth,
  startKordonUnderTest,
} from './support/kordon-under-test.js';

const KEY = 'azurekey0123456789abcdef01234567';
const API_VERSION = '2024-10-21';

/** Deployment -> the model version it runs (Azure names it in every answer's `model`). */
const DEPLOYMENTS: Record<string, string> = {
  'gpt4o-prod': 'gpt-4o-2024-05-13',
  'mini-prod': 'gpt-4o-mini-2024-07-18',
};
/** Embedding deployment -> the model it runs (named in the answer's `model`, after the vectors). */
const EMBEDDING_DEPLOYMENTS: Record<string, string> = { 'embed-prod': 'text-embedding-3-small' };

interface Seen {
  path: string;
  body: Record<string, unknown>;
}

const CF_SAFE = {
  hate: { filtered: false, severity: 'safe' },
  self_harm: { filtered: false, severity: 'safe' },
  sexual: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Azure's innererror of a prompt its content filter refuses (Azure "Content filtering"). */
const INNER_ERROR = {
  code: 'ResponsibleAIPolicyViolation',
  content_filter_result: {
    ...CF_SAFE,
    hate: { filtered: true, severity: 'high' },
    jailbreak: { filtered: false, detected: false },
  },
};

/** Azure's answer to a prompt its content filter refuses. */
const CONTENT_FILTER_ERROR = {
  error: {
    message:
      "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
    type: null,
    param: 'prompt',
    code: 'content_filter',
    status: 400,
    innererror: INNER_ERROR,
  },
};

const USAGE = { completion_tokens: 1000, prompt_tokens: 1000, total_tokens: 2000 };

function chunk(model: string, delta: Record<string, unknown>, finish: string | null, extra = {}) {
  return {
    choices: [{ delta, finish_reason: finish, index: 0, logprobs: null, ...extra }],
    created: 1727000000,
    id: 'chatcmpl-azure-1',
    model,
    object: 'chat.completion.chunk',
    system_fingerprint: 'fp_1',
  };
}

/** A streamed answer as Azure sends it: the prompt's filter results first (no id, no choices). */
function stream(res: ServerResponse, model: string, prompt: string) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  send({
    choices: [],
    created: 0,
    id: '',
    model: '',
    object: '',
    prompt_filter_results: [{ prompt_index: 0, content_filter_results: CF_SAFE }],
  });
  send(chunk(model, { content: 'Hello', role: 'assistant' }, null, { content_filter_results: CF_SAFE }));
  if (prompt.includes('filtered-output')) {
    // Azure's output filter on a stream: the last chunk of the choice says so, with the category.
    send(
      chunk(model, {}, 'content_filter', {
        content_filter_results: { ...CF_SAFE, violence: { filtered: true, severity: 'medium' } },
      }),
    );
  } else if (prompt.includes('error-midway')) {
    send(CONTENT_FILTER_ERROR);
    res.end();
    return;
  } else {
    send(chunk(model, { content: ' from Azure' }, 'stop', { content_filter_results: CF_SAFE }));
  }
  send({ ...chunk(model, {}, null), choices: [], usage: USAGE });
  res.end('data: [DONE]\n\n');
}

async function serveAzure(req: IncomingMessage, res: ServerResponse, seen: Seen[]) {
  let text = '';
  for await (const part of req) text += part;
  const url = new URL(req.url ?? '/', 'http://x');
  const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  seen.push({ path: url.pathname, body });
  if (req.headers['api-key'] !== KEY) {
    json(res, 401, { error: { code: '401', message: 'Access denied due to invalid subscription key.' } });
    return;
  }
  const embeddings = /^\/[a-z]+\/openai\/deployments\/([^/]+)\/embeddings$/.exec(url.pathname);
  const embeddingModel = embeddings && EMBEDDING_DEPLOYMENTS[embeddings[1]!];
  if (url.searchParams.get('api-version') === API_VERSION && embeddingModel) {
    // As Azure writes it: the vectors (base64, as the SDK asks), then the model, then usage.
    json(res, 200, {
      object: 'list',
      data: [
        {
          object: 'embedding',
          index: 0,
          embedding: Buffer.from(new Float32Array(8).buffer).toString('base64'),
        },
      ],
      model: embeddingModel,
      usage: { prompt_tokens: 1_000_000, total_tokens: 1_000_000 },
    });
    return;
  }
  const match = /^\/[a-z]+\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(url.pathname);
  if (url.searchParams.get('api-version') !== API_VERSION || match === null) {
    json(res, 404, { error: { code: '404', message: 'Resource not found' } });
    return;
  }
  const model = DEPLOYMENTS[match[1]!];
  if (model === undefined) {
    json(res, 404, {
      error: {
        code: 'DeploymentNotFound',
        message:
          'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
      },
    });
    return;
  }
  const prompt = JSON.stringify(body.messages ?? '');
  // The prompt filter runs before any answer, streamed or not: a 400.
  if (prompt.includes('forbidden-words')) {
    json(res, 400, CONTENT_FILTER_ERROR);
    return;
  }
  if (body.stream === true) {
    stream(res, model, prompt);
    return;
  }
  json(res, 200, {
    choices: [
      {
        content_filter_results: CF_SAFE,
        finish_reason: 'stop',
        index: 0,
        logprobs: null,
        message: { content: 'Hello from Azure', refusal: null, role: 'assistant' },
      },
    ],
    created: 1727000000,
    id: 'chatcmpl-azure-1',
    model,
    object: 'chat.completion',
    prompt_filter_results: [{ prompt_index: 0, content_filter_results: CF_SAFE }],
    system_fingerprint: 'fp_1',
    usage: USAGE,
  });
}

describe('azure-openai at deployment URLs, end to end', () => {
  let upstream: Server;
  let k: KordonUnderTest;
  const seen: Seen[] = [];
  let openai: OpenAI;
  const adminToken = randomBytes(32).toString('base64url');

  before(async () => {
    upstream = createServer((req, res) => {
      serveAzure(req, res, seen).catch(() => res.destroy());
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    k = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: azure-west
        type: azure-openai
        baseUrl: ${base}/west
        apiVersion: "${API_VERSION}"
        deployments: { gpt-4o: gpt4o-prod }
        models: [gpt-4o]
        keys: [{ name: k1, secret: "${KEY}" }]
      - name: azure-east-a
        type: azure-openai
        baseUrl: ${base}/easta
        apiVersion: "${API_VERSION}"
        deployments: { gpt-4.1-mini: not-deployed-here, gpt-4.1: nor-this-one }
        models: [gpt-4.1-mini, gpt-4.1]
        keys: [{ name: k1, secret: "${KEY}" }]
      - name: azure-east-b
        type: azure-openai
        baseUrl: ${base}/eastb
        apiVersion: "${API_VERSION}"
        deployments: { gpt-4.1-mini: mini-prod }
        models: [gpt-4.1-mini]
        keys: [{ name: k1, secret: "${KEY}" }]
      - name: azure-named
        type: azure-openai
        baseUrl: ${base}/west
        apiVersion: "${API_VERSION}"
        models: [gpt4o-prod, embed-prod]
        keys: [{ name: k1, secret: "${KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
  - slug: globex
    name: Globex
    prices:
      gpt-4o: { input: 2, output: 8 }
    providers:
      - name: azure-west
        type: azure-openai
        baseUrl: ${base}/west
        apiVersion: "${API_VERSION}"
        deployments: { gpt-4o: gpt4o-prod }
        models: [gpt-4o]
        keys: [{ name: k1, secret: "${KEY}" }]
    users:
      - email: dev@globex.test
        proxyKeys: [{ name: laptop }]
`,
      { KORDON_ADMIN_TOKEN: adminToken },
    );
    const key = k.proxyKeys.get('dev@acme.test--laptop');
    assert.ok(key);
    openai = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await k?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  const eventOf = (requestId: string | null | undefined) => eventOfRequest(k, requestId);
  const health = (provider: string) => providerKeyHealth(k, adminToken, provider);

  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => assert.fail('expected the provider refusal'),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.APIError, String(e));
        return e;
      },
    );

  describe('content-filter refusals', () => {
    it('a prompt refused by the filter reaches the OpenAI SDK with param and innererror (which category refused it)', async () => {
      const error = await refusal(
        openai.chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'forbidden-words' }],
        }),
      );
      assert.equal(error.status, 400);
      assert.equal(error.code, 'content_filter');
      const body = error.error as { param?: unknown; innererror?: unknown };
      assert.deepEqual(
        { param: body.param, innererror: body.innererror },
        { param: 'prompt', innererror: INNER_ERROR },
      );
      const event = await eventOf(error.requestID);
      assert.equal(event.type, 'RequestFailed');
      assert.equal((event.data as { upstreamStatus: unknown }).upstreamStatus, 400);
    });

    it('streamed: the prompt filter refuses before any chunk, and the SDK gets the same innererror', async () => {
      const error = await refusal(
        openai.chat.completions.create({
          model: 'gpt-4o',
          stream: true,
          messages: [{ role: 'user', content: 'forbidden-words' }],
        }),
      );
      assert.equal(error.status, 400);
      assert.equal(error.code, 'content_filter');
      assert.deepEqual((error.error as { innererror?: unknown }).innererror, INNER_ERROR);
    });

    it('streamed: an answer the output filter stops, and an error mid-stream, reach the SDK as Azure sent them', async () => {
      const filtered = await openai.chat.completions.create({
        model: 'gpt-4o',
        stream: true,
        messages: [{ role: 'user', content: 'filtered-output' }],
      });
      const chunks: unknown[] = [];
      for await (const part of filtered) chunks.push(part);
      const last = chunks.findLast((c) => (c as { choices: unknown[] }).choices.length > 0) as {
        choices: Array<{ finish_reason: string; content_filter_results: unknown }>;
      };
      assert.equal(last.choices[0]?.finish_reason, 'content_filter');
      assert.deepEqual(last.choices[0]?.content_filter_results, {
        ...CF_SAFE,
        violence: { filtered: true, severity: 'medium' },
      });

      const cut = await openai.chat.completions.create({
        model: 'gpt-4o',
        stream: true,
        messages: [{ role: 'user', content: 'error-midway' }],
      });
      const error = await refusal(
        (async () => {
          for await (const _ of cut);
        })(),
      );
      assert.deepEqual((error.error as { innererror?: unknown }).innererror, INNER_ERROR);
    });
  });

  describe('a provider without the deployment', () => {
    it('is skipped for the next provider of the chain, which serves the model (404 DeploymentNotFound)', async () => {
      const from = seen.length;
      const { data, response } = await openai.chat.completions
        .create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(data.choices[0]?.message.content, 'Hello from Azure');
      assert.equal(data.model, 'gpt-4o-mini-2024-07-18');
      const event = await eventOf(response.headers.get('x-request-id'));
      assert.equal(event.type, 'RequestCompleted');
      const { provider, attempts } = event.data as { provider: string; attempts: number };
      assert.deepEqual({ provider, attempts }, { provider: 'azure-east-b', attempts: 2 });
      assert.deepEqual(
        seen.slice(from).map((s) => s.path.split('/')[1]),
        ['easta', 'eastb'],
      );
    });

    it('is asked after the others for a while: the next request does not pay its 404', async () => {
      const from = seen.length;
      const { response } = await openai.chat.completions
        .create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      const event = await eventOf(response.headers.get('x-request-id'));
      const { provider, attempts } = event.data as { provider: string; attempts: number };
      assert.deepEqual({ provider, attempts }, { provider: 'azure-east-b', attempts: 1 });
      assert.deepEqual(
        seen.slice(from).map((s) => s.path.split('/')[1]),
        ['eastb'],
      );
    });

    it('its key is neither faulted nor credited with a success: usable, never measured', async () => {
      const key = await health('azure-east-a');
      assert.equal(key.state, 'ok');
      assert.equal(key.usable, true);
      assert.equal(key.consecutiveFailures, 0);
      assert.equal(key.latencyEwmaMs, null, 'no success reported for a 404');
      assert.notEqual((await health('azure-east-b')).latencyEwmaMs, null);
    });

    it('when no provider of the chain has it, its 404 is the answer', async () => {
      const error = await refusal(
        openai.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }),
      );
      assert.equal(error.status, 404);
      assert.equal(error.code, 'DeploymentNotFound');
      const event = await eventOf(error.requestID);
      assert.equal(event.type, 'RequestFailed');
      const { provider, upstreamStatus } = event.data as { provider: string; upstreamStatus: number };
      assert.deepEqual({ provider, upstreamStatus }, { provider: 'azure-east-a', upstreamStatus: 404 });
      // Asked again (the only provider of the model), not given up on.
      const again = await refusal(
        openai.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }),
      );
      assert.equal(again.status, 404);
    });
  });

  describe('the price of a deployment', () => {
    const priced = (event: KordonEvent) => {
      const { model, usage, cost } = event.data as { model: string; usage: unknown; cost: unknown };
      return { model, usage, cost };
    };
    // 1,000 tokens in and out; gpt-4o-2024-05-13 is $5 / $15 per million (the shipped table and
    // Azure's price of that version), gpt-4o $2.50 / $10.
    const usage = { inputTokens: 1000, outputTokens: 1000, cachedInputTokens: 0 };

    it('is that of the model version its answer names (gpt-4o-2024-05-13 behind gpt-4o), the event naming the routed model', async () => {
      const { data, response } = await openai.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(data.model, 'gpt-4o-2024-05-13', 'Azure names the model version the deployment runs');
      const event = await eventOf(response.headers.get('x-request-id'));
      assert.equal(event.type, 'RequestCompleted');
      assert.deepEqual(priced(event), { model: 'gpt-4o', usage, cost: '0.02' });
    });

    it('streamed: by the model the stream names', async () => {
      const { data: stream, response } = await openai.chat.completions
        .create({
          model: 'gpt-4o',
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: 'user', content: 'hi' }],
        })
        .withResponse();
      const models = new Set<string>();
      for await (const part of stream) if (part.model) models.add(part.model);
      assert.deepEqual([...models], ['gpt-4o-2024-05-13']);
      const event = await eventOf(response.headers.get('x-request-id'));
      assert.equal(event.type, 'RequestCompleted');
      assert.deepEqual(priced(event), { model: 'gpt-4o', usage, cost: '0.02' });
    });

    it('a deployment configured under its own name, which no price lists, is priced by the model it runs', async () => {
      const { response } = await openai.chat.completions
        .create({ model: 'gpt4o-prod', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      const event = await eventOf(response.headers.get('x-request-id'));
      assert.deepEqual(priced(event), { model: 'gpt4o-prod', usage, cost: '0.02' });
    });

    it('embeddings of a deployment under its own name: priced by the model its answer names', async () => {
      const { data, response } = await openai.embeddings
        .create({ model: 'embed-prod', input: 'hi' })
        .withResponse();
      assert.equal(data.model, 'text-embedding-3-small');
      assert.equal(data.data[0]?.embedding.length, 8);
      const event = await eventOf(response.headers.get('x-request-id'));
      assert.equal(event.type, 'RequestCompleted');
      // text-embedding-3-small: $0.02 per million tokens.
      assert.deepEqual(priced(event), {
        model: 'embed-prod',
        usage: { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 0 },
        cost: '0.02',
      });
    });

    it("an org's own price of the routed model wins over the version's shipped price", async () => {
      const key = k.proxyKeys.get('dev@globex.test--laptop');
      assert.ok(key);
      const globex = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
      const { data, response } = await globex.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(data.model, 'gpt-4o-2024-05-13');
      const event = await eventOf(response.headers.get('x-request-id'));
      // Its $2 / $8 for gpt-4o, not the shipped $5 / $15 of the version.
      assert.deepEqual(priced(event), { model: 'gpt-4o', usage, cost: '0.01' });
    });
  });
});
