import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BodyBudget } from './body-budget.js';
import { GatewayError, sendError } from './gateway-error.js';
import { MAX_BODY_DEPTH, readJsonBody, refuseHostFields } from './read-body.js';

/** An object `levels` deep (the body itself is level 1), with `leaf` at the bottom. */
const nested = (levels: number, leaf: Record<string, unknown>): Record<string, unknown> => {
  let body = leaf;
  for (let level = 1; level < levels; level++) body = { wrap: body };
  return body;
};

const refusal = (body: Record<string, unknown>): GatewayError | undefined => {
  try {
    refuseHostFields(body);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof GatewayError, String(error));
    return error;
  }
};

describe('refuseHostFields', () => {
  it('refuses a host field at the top, nested, inside arrays and in any letter case, naming it', () => {
    for (const [body, field] of [
      [{ model: 'm', api_base: 'http://evil.example' }, 'api_base'],
      [{ model: 'm', extra: { BASE_URL: 'http://evil.example' } }, 'BASE_URL'],
      [{ messages: [{ role: 'user', content: [{ Azure_Endpoint: 'x' }] }] }, 'Azure_Endpoint'],
      [{ options: [[[{ endpoint_url: 'x' }]]] }, 'endpoint_url'],
    ] as const) {
      const error = refusal(body);
      assert.equal(error?.kind, 'invalid_request');
      assert.equal(error?.status, 400);
      assert.equal(error?.options.param, field);
      assert.match(error?.message ?? '', new RegExp(field));
    }
  });

  it('finds a host field at the deepest level allowed, and refuses a body one level deeper', () => {
    assert.equal(refusal(nested(MAX_BODY_DEPTH, { model: 'm' })), undefined);
    assert.equal(refusal(nested(MAX_BODY_DEPTH, { api_host: 'x' }))?.options.param, 'api_host');
    const deeper = refusal(nested(MAX_BODY_DEPTH + 1, { model: 'm' }));
    assert.equal(deeper?.kind, 'invalid_request');
    assert.match(deeper?.message ?? '', /nested deeper than 64 levels/);
  });

  it('refuses a body nested thousands deep with a 400, not a stack overflow', () => {
    const text = `{"messages":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const error = refusal(JSON.parse(text) as Record<string, unknown>);
    assert.equal(error?.status, 400);
  });

  it("leaves tool schemas and metadata alone (the caller's data), but not their depth", () => {
    const tool = {
      type: 'function',
      function: {
        name: 'fetch',
        parameters: { type: 'object', properties: { base_url: { type: 'string' } } },
      },
    };
    assert.equal(refusal({ model: 'm', tools: [tool], metadata: { api_base: 'mine' } }), undefined);
    assert.equal(
      refusal({ model: 'm', tools: [{ name: 'x', input_schema: { properties: { Base_URL: {} } } }] }),
      undefined,
    );
    const deepSchema = refusal({ model: 'm', metadata: nested(MAX_BODY_DEPTH, { x: 1 }) });
    assert.match(deepSchema?.message ?? '', /nested deeper/);
  });

  it("leaves a tool call's arguments alone (what the model passed the caller's tool), and nothing else", () => {
    const args = { base_url: 'https://api.github.com', API_HOST: 'x', nested: { endpoint_url: 'y' } };
    for (const type of ['tool_use', 'server_tool_use', 'mcp_tool_use']) {
      const body = {
        model: 'm',
        messages: [{ role: 'assistant', content: [{ type, id: 'toolu_1', name: 'http_get', input: args }] }],
      };
      assert.equal(refusal(body), undefined, type);
    }
    // Beside the arguments, in another block type, or as the Responses API's items: still refused.
    for (const [body, field] of [
      [{ messages: [{ content: [{ type: 'tool_use', input: {}, base_url: 'x' }] }] }, 'base_url'],
      [{ messages: [{ content: [{ type: 'text', input: { api_base: 'x' } }] }] }, 'api_base'],
      [{ model: 'm', input: [{ role: 'user', content: 'hi', api_host: 'x' }] }, 'api_host'],
      [{ model: 'm', input: { base_url: 'x' } }, 'base_url'],
      // The body itself is no tool call's block, whatever `type` it says.
      [{ model: 'm', type: 'tool_use', input: [{ role: 'user', content: 'hi', base_url: 'x' }] }, 'base_url'],
    ] as const) {
      assert.equal(refusal(body)?.options.param, field);
    }
    // Their depth is still bounded.
    const deep = refusal({
      messages: [{ content: [{ type: 'tool_use', input: nested(MAX_BODY_DEPTH, {}) }] }],
    });
    assert.match(deep?.message ?? '', /nested deeper/);
  });
});

describe('refuseHostFields and caller data named like a host field', () => {
  it("leaves Claude tool `input_examples` alone (example inputs of the caller's own tool), as tool_use.input is", () => {
    const tool = {
      name: 'http_get',
      description: 'GET a path of a service',
      input_schema: {
        type: 'object',
        properties: { base_url: { type: 'string' }, path: { type: 'string' } },
      },
      input_examples: [{ base_url: 'https://status.example.com', path: '/health' }],
    };
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      tools: [tool],
      messages: [{ role: 'user', content: 'is the status page up?' }],
    };
    assert.equal(refusal(body), undefined);
    // Beside them in the tool, or as a field of anything but a tool of the body: still refused.
    for (const [other, field] of [
      [{ model: 'm', tools: [{ ...tool, base_url: 'x' }] }, 'base_url'],
      [{ model: 'm', input_examples: [{ api_base: 'x' }] }, 'api_base'],
      [{ model: 'm', messages: [{ role: 'user', input_examples: [{ api_host: 'x' }] }] }, 'api_host'],
      [{ model: 'm', extra: { tools: [{ input_examples: [{ base_url: 'x' }] }] } }, 'base_url'],
    ] as const) {
      assert.equal(refusal(other)?.options.param, field);
    }
    const deep = refusal({
      model: 'm',
      tools: [{ name: 't', input_examples: [nested(MAX_BODY_DEPTH, {})] }],
    });
    assert.match(deep?.message ?? '', /nested deeper/);
  });

  it('leaves the environment of a Responses local_shell_call replayed in `input` alone (API_BASE, say)', () => {
    const call = {
      type: 'local_shell_call',
      id: 'lsh_1',
      call_id: 'call_1',
      status: 'completed',
      action: {
        type: 'exec',
        command: ['npm', 'test'],
        env: { API_BASE: 'https://staging.example.com' },
      },
    };
    const body = {
      model: 'codex-mini-latest',
      tools: [{ type: 'local_shell' }],
      input: [
        { role: 'user', content: 'run the tests against staging' },
        call,
        { type: 'local_shell_call_output', call_id: 'call_1', output: 'ok' },
      ],
    };
    assert.equal(refusal(body), undefined);
    // An `env` elsewhere, or a host field beside it in the action: still refused.
    for (const [other, field] of [
      [{ model: 'm', input: [{ ...call, action: { ...call.action, base_url: 'x' } }] }, 'base_url'],
      [{ model: 'm', env: { API_BASE: 'x' } }, 'API_BASE'],
      [{ model: 'm', input: [{ ...call, env: { API_BASE: 'x' } }] }, 'API_BASE'],
      [{ model: 'm', action: { type: 'search', env: { api_host: 'x' } } }, 'api_host'],
    ] as const) {
      assert.equal(refusal(other)?.options.param, field);
    }
  });

  it("leaves the variables of a Responses `prompt` template alone (named by the template's author)", () => {
    const prompt = { id: 'pmpt_abc123', version: '2', variables: { base_url: 'https://docs.example.com' } };
    assert.equal(refusal({ model: 'gpt-4o-mini', prompt }), undefined);
    for (const [other, field] of [
      [{ model: 'm', prompt: { ...prompt, base_url: 'x' } }, 'base_url'],
      [{ model: 'm', variables: { base_url: 'x' } }, 'base_url'],
      [{ model: 'm', extra: { prompt: { variables: { api_base: 'x' } } } }, 'api_base'],
    ] as const) {
      assert.equal(refusal(other)?.options.param, field);
    }
  });
});

describe('readJsonBody over a socket', () => {
  const LIMIT = 100_000;
  const IDLE_MS = 300;
  const budget = new BodyBudget(1 << 30);
  let server: Server;
  let url: string;

  before(async () => {
    // As the data plane answers: the body read, or the refusal in the caller's dialect.
    server = createServer((req, res) => {
      readJsonBody(req, LIMIT, budget.holdFor(res), IDLE_MS).then(
        (body) => res.end(JSON.stringify(body)),
        (error: unknown) => sendError(res, error as GatewayError, 'openai', 'req_1'),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });

  /** A request of `size` bytes by node:http, written whole before the answer is read. */
  const post = (size: number, chunked: boolean) =>
    new Promise<{ status: number; connection: string | undefined; body: string } | { error: string }>(
      (resolve) => {
        const headers: Record<string, string | number> = { 'content-type': 'application/json' };
        if (!chunked) headers['content-length'] = size;
        const req = request(url, { method: 'POST', headers }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (part: string) => {
            body += part;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }),
          );
        });
        req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
        const part = Buffer.alloc(64 * 1024, 0x20);
        for (let sent = 0; sent < size; sent += part.length)
          req.write(part.subarray(0, Math.min(part.length, size - sent)));
        req.end();
      },
    );

  it('answers a body past the limit with a 413 the client reads, then closes the connection', async () => {
    for (const chunked of [true, false]) {
      for (let round = 0; round < 5; round++) {
        const answer = await post(LIMIT * 30, chunked);
        assert.ok('status' in answer, `chunked: ${chunked}: ${JSON.stringify(answer)}`);
        assert.equal(answer.status, 413);
        assert.equal(answer.connection, 'close');
        assert.equal(JSON.parse(answer.body).error.code, 'request_too_large');
      }
    }
    // A streamed body (fetch's ReadableStream, sent chunked) as well.
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= LIMIT * 30) return controller.close();
        sent += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    const res = await fetch(url, { method: 'POST', body, duplex: 'half' } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'request_too_large');
  });

  it('keeps the connection of a body within the limit', async () => {
    const answer = await post(1000, true);
    assert.ok('status' in answer);
    assert.equal(answer.status, 400); // spaces are no JSON object
    assert.notEqual(answer.connection, 'close');
  });

  /** A raw connection that sends `parts` (`wait` ms apart), then nothing; what came back when it closed. */
  const rawRequest = (parts: string[], wait = 0) =>
    new Promise<{ answer: string; closedAfterMs: number }>((resolve) => {
      const startedAt = Date.now();
      const socket = connect(Number(new URL(url).port), '127.0.0.1');
      let answer = '';
      socket.on('data', (data) => {
        answer += data.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve({ answer, closedAfterMs: Date.now() - startedAt }));
      parts.forEach((part, index) => {
        setTimeout(() => socket.write(part), index * wait);
      });
    });

  it('answers a body that stops arriving with a 408, closing the connection and giving its budget back', {
    timeout: 5_000,
  }, async () => {
    const head =
      'POST / HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n';
    const taken = new Promise<number>((resolve) => setTimeout(() => resolve(budget.held), IDLE_MS / 2));
    const { answer, closedAfterMs } = await rawRequest([`${head}{"model":"m","messages":[`]);
    assert.equal(await taken, 5000, 'the declared length is held while the body is awaited');
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    assert.equal(body.error.code, 'request_timeout');
    assert.ok(closedAfterMs >= IDLE_MS && closedAfterMs < IDLE_MS + 2000, `closed after ${closedAfterMs} ms`);
    assert.equal(budget.held, 0);
  });

  it('reads a body that arrives slowly, each part within the idle timeout', async () => {
    const head =
      'POST / HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
    const parts = ['{"model":', '"m",', '"n":', '1}'].map(chunk);
    const { answer } = await rawRequest([head, ...parts, '0\r\n\r\n'], IDLE_MS / 2);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /\{"model":"m","n":1\}$/);
  });
});
