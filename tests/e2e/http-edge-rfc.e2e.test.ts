import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { eventOfRequest, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * The data plane's HTTP edge driven over a raw socket: request forms HTTP/1.1 requires a
 * server to take, and JSON values the re-serialised upstream body cannot carry.
 */
describe('HTTP edge: request targets, HEAD, numbers and transfer codings as the RFCs and the upstream body need', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const seen: { url: string; body: string }[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push({ url: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 1,
            model: 'gpt-4o-mini',
            choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - { name: openai, type: openai, baseUrl: ${url}/v1, models: [gpt-4o-mini], keys: [{ name: k1, secret: "sk-proj-edgeauditabcdefghijklmnopqrstuvwxyz01" }] }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  const key = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const port = () => Number(new URL(gateway.url).port);
  /** Writes `request` on a fresh socket; the bytes answered until the server closes it. */
  const exchange = (request: string | Buffer) =>
    new Promise<string>((resolve) => {
      const socket = connect(port(), '127.0.0.1');
      let answer = '';
      socket.on('data', (data) => {
        answer += data.toString('utf8');
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(answer));
      socket.write(request);
      setTimeout(() => socket.destroy(), 5_000).unref();
    });
  const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0);
  const chat = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const post = (target: string, body: string) =>
    `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key()}\r\n` +
    `Content-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  it('serves a request whose target is in absolute form, as RFC 9112 section 3.2.2 requires of a server, not a 404', async () => {
    const answer = await exchange(post(`http://127.0.0.1:${port()}/v1/chat/completions`, chat));
    assert.equal(statusOf(answer), 200, answer.slice(0, 400));
  });

  it('serves an absolute-form target on a route under a prefix (GET /v1/models/{model}) by its path', async () => {
    const answer = await exchange(
      `GET http://127.0.0.1:${port()}/v1/models/gpt-4o-mini?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: Bearer ${key()}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(statusOf(answer), 200, answer.slice(0, 400));
    assert.match(answer, /"id":"gpt-4o-mini"/);
  });

  it('answers HEAD on a GET route (/v1/models) as the GET without its body, not 405 (RFC 9110 section 9.1)', async () => {
    const answer = await exchange(
      `HEAD /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key()}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(statusOf(answer), 200, answer.slice(0, 400));
  });

  it('refuses a number the upstream body cannot carry (max_tokens 1e400) with a 400, not forwarded as null', async () => {
    // JSON.parse reads 1e400 as Infinity; JSON.stringify writes it as null: the provider is
    // asked with no output cap (OpenAI: max_tokens null) or its default temperature.
    seen.length = 0;
    const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":1e400,"temperature":-1e400}`;
    const answer = await exchange(post('/v1/chat/completions', body));
    assert.deepEqual(
      { status: statusOf(answer), upstreamCalls: seen.length },
      { status: 400, upstreamCalls: 0 },
      `answer: ${answer.slice(0, 200)}; upstream saw: ${JSON.stringify(seen.map((s) => s.body))}`,
    );
  });

  it('refuses a transfer coding other than chunked (gzip, chunked) with 501, not as a body that is not UTF-8', async () => {
    // Node strips `chunked` only: the gzip bytes reach the JSON reader, which calls them invalid
    // UTF-8 (400 invalid_json). Content-Encoding: gzip is refused by name (415).
    const gz = gzipSync(Buffer.from(chat));
    const answer = await exchange(
      Buffer.concat([
        Buffer.from(
          `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key()}\r\n` +
            'Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n' +
            `${gz.length.toString(16)}\r\n`,
        ),
        gz,
        Buffer.from('\r\n0\r\n\r\n'),
      ]),
    );
    assert.equal(statusOf(answer), 501, answer.slice(0, 400));
  });

  it('refuses a body whose Content-Type is not JSON with a 415 in the caller dialect, before any upstream call, and records the refusal', async () => {
    const before = seen.length;
    // What fetch sends for a string body without headers, and curl's -d without -H.
    for (const [path, type, dialect] of [
      ['/v1/chat/completions', 'text/plain;charset=UTF-8', 'openai'],
      ['/v1/chat/completions', 'application/x-www-form-urlencoded', 'openai'],
      ['/v1/messages', 'text/plain', 'anthropic'],
    ] as const) {
      const body =
        dialect === 'openai' ? chat : JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [] });
      const response = await fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key()}`, 'content-type': type },
        body,
      });
      assert.equal(response.status, 415, type);
      const answer = (await response.json()) as {
        type?: string;
        error: { type: string; code?: string; message: string };
      };
      if (dialect === 'openai') {
        assert.equal(answer.error.type, 'invalid_request_error');
        assert.equal(answer.error.code, 'unsupported_content_type');
      } else {
        assert.equal(answer.type, 'error');
        assert.equal(answer.error.type, 'invalid_request_error');
      }
      assert.match(answer.error.message, /accepts only application\/json/);
      // A refused body is a request's one event, as any other is.
      const event = await eventOfRequest(gateway, response.headers.get('x-request-id'));
      assert.equal(event.type, 'RequestRejected');
      assert.equal((event.data as { status: number }).status, 415);
    }
    assert.equal(seen.length, before, 'no upstream call');
    // JSON with parameters, in any case, is JSON.
    const charset = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key()}`, 'content-type': 'Application/JSON; charset=utf-8' },
      body: chat,
    });
    assert.equal(charset.status, 200, await charset.text());
  });
});
