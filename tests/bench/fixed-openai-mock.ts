/**
 * bench:gateway's upstream: an OpenAI-format chat completions server on bare node:http
 * that replays fixed answers. The answers are recorded once, at start, from the real
 * mock (`startOpenAIMock` of @kordon/mock-providers), so the bytes are the same plain
 * and streamed bodies, headers included; what it skips per request is the real mock's
 * zod validation, answer computation, quota book and request log, which would make the
 * upstream the bottleneck (see docs/benchmarks.md).
 *
 * Streams are written frame by frame (one `write` per SSE event), as a provider does.
 * `stream_options.include_usage` adds the usage chunk, as it does on the real API.
 *
 * Run as a process: `node --conditions=development --import tsx tests/bench/fixed-openai-mock.ts`
 * prints `{"url":"http://127.0.0.1:PORT"}` on its first line of stdout.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startOpenAIMock } from '@kordon/mock-providers';

export const BENCH_UPSTREAM_KEY = 'sk-bench-upstream';
export const BENCH_MODEL = 'gpt-4o-mini';
export const BENCH_PROMPT = 'Say hello in five short words please.';

interface Recorded {
  headers: Record<string, string>;
  /** The whole body (plain) or its SSE frames (streamed). */
  frames: Buffer[];
}

export interface FixedAnswers {
  plain: Recorded;
  stream: Recorded;
  streamWithUsage: Recorded;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length']);

function keptHeaders(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) kept[name] = value;
  });
  return kept;
}

/** Asks the real mock the three questions the benchmark sends and keeps the answers' bytes. */
export async function recordAnswers(): Promise<FixedAnswers> {
  const mock = await startOpenAIMock({ keys: [BENCH_UPSTREAM_KEY] });
  try {
    const ask = async (extra: object): Promise<{ headers: Headers; text: string }> => {
      const response = await fetch(`${mock.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BENCH_UPSTREAM_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: BENCH_MODEL,
          messages: [{ role: 'user', content: BENCH_PROMPT }],
          ...extra,
        }),
      });
      if (response.status !== 200) throw new Error(`real mock answered ${response.status}`);
      return { headers: response.headers, text: await response.text() };
    };
    const frames = (text: string) =>
      text
        .split(/(?<=\n\n)/)
        .filter((frame) => frame !== '')
        .map((frame) => Buffer.from(frame, 'utf8'));
    const plain = await ask({});
    const stream = await ask({ stream: true });
    const withUsage = await ask({ stream: true, stream_options: { include_usage: true } });
    return {
      plain: { headers: keptHeaders(plain.headers), frames: [Buffer.from(plain.text, 'utf8')] },
      stream: { headers: keptHeaders(stream.headers), frames: frames(stream.text) },
      streamWithUsage: { headers: keptHeaders(withUsage.headers), frames: frames(withUsage.text) },
    };
  } finally {
    await mock.close();
  }
}

const STREAM_TRUE = /"stream"\s*:\s*true/;
const INCLUDE_USAGE = /"include_usage"\s*:\s*true/;

function authorised(headers: IncomingHttpHeaders): boolean {
  return headers.authorization === `Bearer ${BENCH_UPSTREAM_KEY}`;
}

export async function startFixedOpenAIMock(answers: FixedAnswers, port = 0): Promise<Server> {
  const unauthorised = Buffer.from(
    JSON.stringify({
      error: {
        message: 'Incorrect API key provided',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    }),
  );
  const server = createServer({ noDelay: true, keepAliveTimeout: 65_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions' || !authorised(req.headers)) {
        res.writeHead(req.url === '/v1/chat/completions' ? 401 : 404, {
          'content-type': 'application/json',
          'content-length': unauthorised.length,
        });
        res.end(unauthorised);
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      if (!STREAM_TRUE.test(body)) {
        const [bytes] = answers.plain.frames as [Buffer];
        res.writeHead(200, { ...answers.plain.headers, 'content-length': bytes.length });
        res.end(bytes);
        return;
      }
      const answer = INCLUDE_USAGE.test(body) ? answers.streamWithUsage : answers.stream;
      res.writeHead(200, answer.headers);
      for (const frame of answer.frames) res.write(frame);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--real')) {
    // The real mock, for the check that it would be the bottleneck: no quota, log emptied.
    const mock = await startOpenAIMock({
      keys: [BENCH_UPSTREAM_KEY],
      quota: { requests: 1e12, tokens: 1e15 },
    });
    setInterval(() => mock.clearRequests(), 200).unref();
    process.stdout.write(`${JSON.stringify({ url: mock.url })}\n`);
    process.on('SIGTERM', () => void mock.close().then(() => process.exit(0)));
  } else {
    const server = await startFixedOpenAIMock(await recordAnswers());
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
    process.on('SIGTERM', () => {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    });
  }
}
