import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * `previous_response_id` reaches the provider that stored the answer, wherever it stands in the
 * model's fallback chain: when the first provider failed once and the second stored the answer,
 * the next turn went to the first again (configuration order), which answered 404 `Previous
 * response ... not found` once it was healthy.
 */
describe('previous_response_id across a fallback chain', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  let primaryFails = true;
  const stored = { primary: new Set<string>(), secondary: new Set<string>() };
  /** The providers of a second org, with the same names: the paths they were asked at, in order. */
  const globexAsked: string[] = [];
  let next = 0;

  before(async () => {
    server = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string; previous_response_id?: string };
      if (req.url?.startsWith('/globex-')) {
        globexAsked.push(req.url.split('/')[1]!);
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({
            error: {
              message: `Previous response with id '${body.previous_response_id}' not found.`,
              type: 'invalid_request_error',
              param: 'previous_response_id',
              code: 'previous_response_not_found',
            },
          }),
        );
      }
      const who = req.url?.startsWith('/primary/') ? 'primary' : 'secondary';
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (who === 'primary' && primaryFails) {
        return json(500, { error: { message: 'The server had an error', type: 'server_error', code: null } });
      }
      if (body.previous_response_id && !stored[who].has(body.previous_response_id)) {
        return json(404, {
          error: {
            message: `Previous response with id '${body.previous_response_id}' not found.`,
            type: 'invalid_request_error',
            param: 'previous_response_id',
            code: 'previous_response_not_found',
          },
        });
      }
      const id = `resp_${who}_${++next}`;
      stored[who].add(id);
      json(200, {
        id,
        object: 'response',
        created_at: 1,
        status: 'completed',
        model: body.model,
        output: [
          {
            type: 'message',
            id: `msg_${next}`,
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text: `answer from ${who}`, annotations: [] }],
          },
        ],
        usage: {
          input_tokens: 5,
          output_tokens: 3,
          total_tokens: 8,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens_details: { reasoning_tokens: 0 },
        },
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: primary
        type: openai
        baseUrl: ${url}/primary/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "sk-proj-primary-0123456789abcdef0123456789" }]
      - name: secondary
        type: openai
        baseUrl: ${url}/secondary/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "sk-proj-secondary-0123456789abcdef012345" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
  - slug: globex
    name: Globex
    providers:
      - name: primary
        type: openai
        baseUrl: ${url}/globex-primary/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "sk-proj-gprimary-0123456789abcdef01234567" }]
      - name: secondary
        type: openai
        baseUrl: ${url}/globex-secondary/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "sk-proj-gsecondary-0123456789abcdef0123456" }]
    users:
      - email: dev@globex.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  it('a conversation stored by the fallback provider continues there once the first is back', async () => {
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const first = await openai.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    assert.equal(first.output_text, 'answer from secondary');
    primaryFails = false; // the first provider is healthy again
    const second = await openai.responses.create({
      model: 'gpt-4o-mini',
      input: 'And then?',
      previous_response_id: first.id,
    });
    assert.equal(second.output_text, 'answer from secondary');
  });

  it("another org naming the id is routed by its own chain, not by where the first org's answer is stored", async () => {
    const acme = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    primaryFails = true;
    const first = await acme.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    assert.equal(first.output_text, 'answer from secondary');
    primaryFails = false;
    const globex = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@globex.test--dev')!,
      maxRetries: 0,
    });
    globexAsked.length = 0;
    await assert.rejects(
      globex.responses.create({ model: 'gpt-4o-mini', input: 'And then?', previous_response_id: first.id }),
      (error: InstanceType<typeof OpenAI.APIError>) => error.status === 404,
    );
    // Acme's pin (its answer is at `secondary`) says nothing about Globex's providers.
    assert.equal(globexAsked[0], 'globex-primary');
  });
});
