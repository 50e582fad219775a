/**
 * Writes a reply on the socket and plays the transport quirks of a scenario: slow first
 * byte, frames split across TCP writes, keep-alive comments, a reset mid-stream.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Scenario } from './scenarios.js';

export type Reply = JsonReply | StreamReply;

export interface JsonReply {
  readonly kind: 'json';
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Tokens the reply spends from the key's quota. */
  readonly tokens?: number;
  /** Told once the reply is written to its end (`true`) or cut short (`false`): see `Settled`. */
  readonly settled?: Settled;
}

/**
 * What a dialect learns when its reply has left: written to its end (`true`), or cut short by a
 * reset or a client that left (`false`). A Claude thread's continuation is in flight until then.
 */
export type Settled = (written: boolean) => void;

export interface StreamReply {
  readonly kind: 'stream';
  readonly status: number;
  readonly contentType: string;
  readonly frames: readonly StreamFrame[];
  /** The comment frame the keep-alive scenario interleaves; absent where the format has none. */
  readonly keepAliveFrame?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly tokens?: number;
  readonly settled?: Settled;
}

export interface StreamFrame {
  /** The exact bytes of the frame, line endings included. */
  readonly text: string;
  /** The frame that tells the client the stream is complete (dropped by `omitTerminator`). */
  readonly terminator?: boolean;
}

export interface WireTiming {
  /** Pause between frames, to pace a stream like a model producing tokens. */
  readonly frameDelayMs: number;
  /** Pause between the pieces of a split frame, long enough for each to leave as its own segment. */
  readonly splitPauseMs: number;
}

/** Pause before a reset, so the frames already written reach the client before the RST does. */
const RESET_GRACE_MS = 30;

export async function writeReply(
  res: ServerResponse,
  reply: Reply,
  scenario: Scenario,
  headers: Readonly<Record<string, string>>,
  timing: WireTiming,
): Promise<void> {
  if (scenario.firstByteDelayMs) await sleep(scenario.firstByteDelayMs);
  if (res.destroyed) return;
  if (reply.kind === 'json') await writeJson(res, reply, scenario, headers, timing);
  else await writeStream(res, reply, scenario, headers, timing);
}

async function writeJson(
  res: ServerResponse,
  reply: JsonReply,
  scenario: Scenario,
  headers: Readonly<Record<string, string>>,
  timing: WireTiming,
): Promise<void> {
  const body = Buffer.from(JSON.stringify(reply.body), 'utf8');
  res.writeHead(reply.status, {
    ...headers,
    ...reply.headers,
    'content-type': 'application/json',
    'content-length': String(body.length),
  });
  if (scenario.resetAfterFrames !== undefined) {
    await write(res, body.subarray(0, Math.floor(body.length / 2)));
    await resetConnection(res);
    return;
  }
  await writeFrame(res, body, scenario.splitFrames === true, timing);
  res.end();
}

async function writeStream(
  res: ServerResponse,
  reply: StreamReply,
  scenario: Scenario,
  headers: Readonly<Record<string, string>>,
  timing: WireTiming,
): Promise<void> {
  res.writeHead(reply.status, {
    ...headers,
    ...reply.headers,
    'content-type': reply.contentType,
    'cache-control': 'no-cache',
  });
  const frames = scenario.omitTerminator ? reply.frames.filter((frame) => !frame.terminator) : reply.frames;
  for (const [index, frame] of frames.entries()) {
    if (res.destroyed) return;
    if (index === scenario.resetAfterFrames) {
      await resetConnection(res);
      return;
    }
    if (scenario.keepAlive && reply.keepAliveFrame && index % 2 === 0) await write(res, reply.keepAliveFrame);
    await writeFrame(res, Buffer.from(frame.text, 'utf8'), scenario.splitFrames === true, timing);
    if (timing.frameDelayMs > 0) await sleep(timing.frameDelayMs);
  }
  if (!res.destroyed) res.end();
}

async function writeFrame(
  res: ServerResponse,
  bytes: Buffer,
  split: boolean,
  timing: WireTiming,
): Promise<void> {
  if (!split) {
    await write(res, bytes);
    return;
  }
  for (const piece of awkwardPieces(bytes)) {
    await write(res, piece);
    await sleep(timing.splitPauseMs);
  }
}

/**
 * Cuts a frame where a naive parser breaks: inside the `data:` field name, inside the
 * first multi-byte UTF-8 character, and between the two line breaks that end the frame.
 */
export function awkwardPieces(bytes: Buffer): Buffer[] {
  const cuts = new Set<number>();
  const dataField = bytes.indexOf('data:');
  if (dataField >= 0) cuts.add(dataField + 2);
  const multiByte = bytes.findIndex((byte) => byte >= 0xc0);
  if (multiByte >= 0) cuts.add(multiByte + 1);
  cuts.add(bytes.length - 1);
  const sorted = [...cuts].filter((cut) => cut > 0 && cut < bytes.length).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const cut of sorted) {
    pieces.push(bytes.subarray(start, cut));
    start = cut;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

function write(res: ServerResponse, chunk: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) {
      resolve();
      return;
    }
    // The callback also fires with an error when the client has gone; either way we move on.
    res.write(chunk, () => resolve());
  });
}

/** A TCP RST, as a crashed upstream or a dropped proxy produces. */
async function resetConnection(res: ServerResponse): Promise<void> {
  await sleep(RESET_GRACE_MS);
  const socket = res.socket;
  if (socket && !socket.destroyed) socket.resetAndDestroy();
}
