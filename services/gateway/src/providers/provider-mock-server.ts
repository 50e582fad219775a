/**
 * Test support: a small HTTP server kit for the mocks this folder writes itself (YandexGPT,
 * GigaChat, the Azure front of the OpenAI mock). It plays the same scenarios as
 * @kordon/mock-providers, with the same names (`rate-limit=2`, `slow-first-byte=300`,
 * `reset-mid-stream=2`, `split-frames`, `keep-alive`, `no-terminator`, `no-usage`...), chosen
 * by the `x-mock-scenario` header, a queue, or a standing scenario, and it counts the sockets
 * that closed, so tests can see an aborted call reach the server.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  parseScenario,
  SCENARIO_HEADER,
  type Scenario,
  toScenario,
  type WireTiming,
  writeReply,
} from '@kordon/mock-providers';

export interface MockRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  readonly body: unknown;
  readonly scenario: Scenario;
}

export interface MockJsonReply {
  readonly kind: 'json';
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface MockStreamReply {
  readonly kind: 'stream';
  readonly status: number;
  readonly contentType: string;
  /** The exact text of each frame. */
  readonly frames: readonly string[];
  /** Index of the frame that completes the answer (dropped by `no-terminator`). */
  readonly terminatorIndex?: number;
  /** Interleaved by `keep-alive`, where the format has comments. */
  readonly keepAliveFrame?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A reply streamed from another server as it arrives (the Azure front). */
export interface MockPipeReply {
  readonly kind: 'pipe';
  pipe(res: ServerResponse): Promise<void>;
}

export type MockReply = MockJsonReply | MockStreamReply | MockPipeReply;

/** The text form of a scenario (`rate-limit=2, split-frames`), to pass it on in `x-mock-scenario`. */
export function scenarioText(scenario: Scenario): string {
  const parts: string[] = [];
  if (scenario.error) parts.push(scenario.error);
  if (scenario.retryAfterSeconds !== undefined) parts.push(`retry-after=${scenario.retryAfterSeconds}`);
  if (scenario.firstByteDelayMs !== undefined) parts.push(`slow-first-byte=${scenario.firstByteDelayMs}`);
  if (scenario.resetAfterFrames !== undefined) parts.push(`reset-mid-stream=${scenario.resetAfterFrames}`);
  if (scenario.splitFrames) parts.push('split-frames');
  if (scenario.keepAlive) parts.push('keep-alive');
  if (scenario.omitTerminator) parts.push('no-terminator');
  if (scenario.omitUsage) parts.push('no-usage');
  return parts.join(', ');
}

export interface MockHttpServer {
  readonly url: string;
  readonly port: number;
  readonly requests: readonly MockRequest[];
  /** Sockets closed so far (by either side). */
  readonly closedSockets: number;
  enqueueScenario(scenario: Scenario | string, times?: number): void;
  setScenario(scenario: Scenario | string | undefined): void;
  close(): Promise<void>;
}

export interface MockHttpOptions {
  readonly frameDelayMs?: number;
  readonly splitPauseMs?: number;
  /** Whether a request plays (and uses up) a scenario; default all. The GigaChat OAuth endpoint does not. */
  readonly playsScenario?: (method: string, path: string) => boolean;
}

const RESET_GRACE_MS = 30;

export async function startMockHttpServer(
  handle: (request: MockRequest) => MockReply | Promise<MockReply>,
  options: MockHttpOptions = {},
): Promise<MockHttpServer> {
  const requests: MockRequest[] = [];
  const queue: { scenario: Scenario; remaining: number }[] = [];
  let standing: Scenario | undefined;
  let closedSockets = 0;
  const sockets = new Set<Socket>();
  const timing = { frameDelayMs: options.frameDelayMs ?? 0, splitPauseMs: options.splitPauseMs ?? 15 };

  const plays = options.playsScenario ?? (() => true);
  const pick = (headers: IncomingHttpHeaders): Scenario => {
    const header = headers[SCENARIO_HEADER];
    if (typeof header === 'string') return parseScenario(header);
    const head = queue[0];
    if (head) {
      head.remaining -= 1;
      if (head.remaining <= 0) queue.shift();
      return head.scenario;
    }
    return standing ?? {};
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    serve(req, res).catch((error: unknown) => {
      console.error('provider mock crashed', error);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      closedSockets += 1;
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = rawBody === '' ? undefined : (JSON.parse(rawBody) as unknown);
    } catch {
      body = undefined;
    }
    const request: MockRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      rawBody,
      body,
      scenario: plays(req.method ?? 'GET', url.pathname) ? pick(req.headers) : {},
    };
    requests.push(request);
    const reply = await handle(request);
    await writeMockReply(res, reply, request.scenario, timing);
  }

  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get closedSockets() {
      return closedSockets;
    },
    enqueueScenario: (scenario, times = 1) => {
      queue.push({ scenario: toScenario(scenario), remaining: times });
    },
    setScenario: (scenario) => {
      standing = scenario === undefined ? undefined : toScenario(scenario);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes a reply with the wire of @kordon/mock-providers, which plays the scenario's quirks. */
async function writeMockReply(
  res: ServerResponse,
  reply: MockReply,
  scenario: Scenario,
  timing: WireTiming,
): Promise<void> {
  // A piped reply comes from a server that plays the scenario itself.
  if (reply.kind === 'pipe') {
    await reply.pipe(res);
    return;
  }
  const wireReply =
    reply.kind === 'json'
      ? reply
      : {
          ...reply,
          frames: reply.frames.map((text, index) => ({ text, terminator: index === reply.terminatorIndex })),
        };
  await writeReply(res, wireReply, scenario, {}, timing);
}

/** A TCP RST, as a crashed upstream produces. */
export async function reset(res: ServerResponse): Promise<void> {
  await sleep(RESET_GRACE_MS);
  const socket = res.socket;
  if (socket && !socket.destroyed) socket.resetAndDestroy();
}
