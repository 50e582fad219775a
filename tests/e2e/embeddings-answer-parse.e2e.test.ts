/**
 * A large embeddings answer is never parsed whole, whatever logging and tracing ask.
 *
 * planEmbeddingsExchange (services/gateway/src/http/openai-only-exchanges.ts) forwards an
 * embeddings answer as sent and reads its usage from its end, because "a batch of embeddings
 * is megabytes of numbers (2,048 base64 vectors: 17 MB), which parsed and serialised again held
 * the event loop for 130-300 ms". Two common settings must not parse it anyway, on the event loop:
 * - an org logging `bodies: redacted`: an embeddings answer has no text to log (the exchange
 *   says so), so the logged bodies do not parse it to find no `choices`/`content`/`output`;
 * - tracing on (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): the attempt span does not read an
 *   embeddings answer for `factsOfAnswer` (finish reasons it does not have).
 * Kordon runs in this process, so JSON.parse is watched for a parse of the answer's text.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';

/** 512 base64 vectors of 1,536 dimensions (~4 MB), usage last, as OpenAI writes it. */
function bigAnswer(model: string): string {
  const vector = Buffer.from(new Float32Array(1536).fill(0.125).buffer).toString('base64');
  const data = Array.from({ length: 512 }, (_, index) => ({ object: 'embedding', index, embedding: vector }));
  return JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: 512, total_tokens: 512 } });
}

const BIG = 1_000_000;
let bigParses = 0;
const realParse = JSON.parse;

function watchParses(): void {
  JSON.parse = function watched(text: string, reviver?: Parameters<typeof realParse>[1]) {
    if (typeof text === 'string' && text.length > BIG) bigParses++;
    return realParse(text, reviver);
  } as typeof JSON.parse;
}

async function startUpstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (part) => (text += part));
    req.on('end', () => {
      const { model } = realParse(text) as { model: string };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(bigAnswer(model));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` };
}

const config = (url: string, logging: string) => `
orgs:
  - slug: acme
    name: Acme
${logging}
    providers:
      - name: openai
        type: openai
        baseUrl: ${url}
        models: [text-embedding-3-small]
        keys: [{ name: k1, secret: "sk-proj-testparseabcdefghijklmnopqrstuvwxyz01" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`;

/** The SDK call, its answer taken raw (not parsed here), and how many big parses it caused. */
async function embedAndCount(gateway: KordonUnderTest): Promise<number> {
  const openai = new OpenAI({
    baseURL: `${gateway.url}/v1`,
    apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
    maxRetries: 0,
  });
  const before = bigParses;
  const response = await openai.embeddings
    .create({ model: 'text-embedding-3-small', input: Array.from({ length: 512 }, () => 'x') })
    .asResponse();
  assert.equal(response.status, 200);
  const bytes = (await response.arrayBuffer()).byteLength;
  assert.ok(bytes > BIG, `answer of ${bytes} bytes`);
  const event = (await gateway.requestEvents()).at(-1)!;
  assert.equal(event.type, 'RequestCompleted');
  return bigParses - before;
}

describe('control: neither logging nor tracing', () => {
  let upstream: { server: Server; url: string };
  let gateway: KordonUnderTest;
  before(async () => {
    watchParses();
    upstream = await startUpstream();
    gateway = await startKordonUnderTest(config(upstream.url, ''));
  });
  after(async () => {
    await gateway?.stop();
    upstream?.server.close();
  });

  it('the answer is forwarded unparsed (the fast path works; this one passes)', async () => {
    assert.equal(await embedAndCount(gateway), 0);
  });
});

describe('embeddings answers with the org logging redacted text', () => {
  let upstream: { server: Server; url: string };
  let gateway: KordonUnderTest;
  before(async () => {
    watchParses();
    upstream = await startUpstream();
    gateway = await startKordonUnderTest(config(upstream.url, '    logging: { bodies: redacted }'));
  });
  after(async () => {
    await gateway?.stop();
    upstream?.server.close();
  });

  it('the logged-bodies path does not JSON.parse an embeddings answer to find no text', async () => {
    const parses = await embedAndCount(gateway);
    assert.equal(parses, 0, `the ${'>'}1 MB answer was JSON.parsed ${parses} time(s) by Kordon`);
  });
});

describe('embeddings answers with tracing on', () => {
  let upstream: { server: Server; url: string };
  let receiver: OtlpReceiver;
  let gateway: KordonUnderTest;
  before(async () => {
    watchParses();
    upstream = await startUpstream();
    receiver = await startOtlpReceiver();
    gateway = await startKordonUnderTest(config(upstream.url, ''), {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'kordon-test',
      OTEL_BSP_SCHEDULE_DELAY: '20',
    });
  });
  after(async () => {
    await gateway?.stop();
    await receiver?.close();
    upstream?.server.close();
    JSON.parse = realParse;
  });

  it("the attempt span's answered() does not JSON.parse an embeddings answer", async () => {
    const parses = await embedAndCount(gateway);
    assert.equal(parses, 0, `the ${'>'}1 MB answer was JSON.parsed ${parses} time(s) by Kordon`);
  });
});
