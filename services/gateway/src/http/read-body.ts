import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { MAX_JSON_DEPTH } from '../translate/json-object.js';
import type { BodyHold } from './body-budget.js';
import { GatewayError } from './gateway-error.js';

/**
 * How long a body may go without a byte before it is refused (KORDON_BODY_IDLE_TIMEOUT_MS):
 * nginx's `client_body_timeout`. A stalled upload holds its share of the body budget.
 */
export const DEFAULT_BODY_IDLE_TIMEOUT_MS = 60_000;

/** Requests that sent `Expect: 100-continue` and wait to be asked for their body: their answers. */
const awaitingContinue = new WeakMap<IncomingMessage, ServerResponse>();

/**
 * For the front's `checkContinue`: the interim `100 Continue` goes out when the body is read,
 * after the checks made before it (the key, the limits, the declared size, the body budget),
 * so an upload refused by one of them is never sent (RFC 9110 section 10.1.1; Node closes the
 * connection after a final answer sent without the 100).
 */
export function continueWhenBodyIsRead(req: IncomingMessage, res: ServerResponse): void {
  awaitingContinue.set(req, res);
}

/** Asks a caller that waits for it for its body. */
function askForBody(req: IncomingMessage): void {
  const res = awaitingContinue.get(req);
  if (res === undefined) return;
  awaitingContinue.delete(req);
  if (!res.headersSent && !res.destroyed) res.writeContinue();
}

/**
 * Reads a `/v1` JSON body up to `limitBytes`: past it, 413 without keeping the rest (the
 * answer says `Connection: close`, and the connection is closed once it is written). A body
 * that sends no byte for `idleTimeoutMs` is a 408, answered the same way. Malformed JSON, a
 * non-object, a field naming a host or too deep a nesting (`refuseHostFields`) is a 400, and
 * so are bytes that are not UTF-8; a compressed body, or one whose Content-Type is not JSON, a
 * 415. A leading UTF-8 byte order mark
 * is skipped.
 */
export async function readJsonBody(
  req: IncomingMessage,
  limitBytes: number,
  hold: BodyHold,
  idleTimeoutMs = DEFAULT_BODY_IDLE_TIMEOUT_MS,
): Promise<Record<string, unknown>> {
  return (await readJsonBodyWithSize(req, limitBytes, hold, idleTimeoutMs)).body;
}

/**
 * The same, with the body's size in bytes. The body's bytes are taken from the process's
 * budget (`hold`) before they are read: all at once when the length is declared, chunk by
 * chunk otherwise; past it, a 503 (`BodyBudget`).
 */
export async function readJsonBodyWithSize(
  req: IncomingMessage,
  limitBytes: number,
  hold: BodyHold,
  idleTimeoutMs = DEFAULT_BODY_IDLE_TIMEOUT_MS,
): Promise<{ body: Record<string, unknown>; bytes: number }> {
  const type = req.headers['content-type'];
  if (type !== undefined && !namesJson(type)) {
    // What OpenAI answers (`unsupported_content_type`): a form or text body that happens to
    // parse as JSON is not read as JSON. Without the header the body is read (no SDK omits
    // it; a hand-made request that does is not guessed at).
    throw new GatewayError(
      'invalid_request',
      `this API accepts only application/json request bodies, not content-type: ${type.slice(0, 60)}`,
      { status: 415, code: 'unsupported_content_type' },
    );
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && !namesNoCoding(encoding)) {
    // No SDK compresses requests; decoding would let a small body expand past every bound.
    throw new GatewayError(
      'invalid_request',
      `request bodies are read uncompressed; send it without content-encoding: ${encoding.slice(0, 40)}`,
      { status: 415 },
    );
  }
  const transfer = req.headers['transfer-encoding'];
  if (transfer !== undefined && transfer.trim().toLowerCase() !== 'chunked') {
    // Node takes off only the chunking: a gzip under it would reach the reader as bytes that
    // are not JSON. RFC 9112 section 6.1: a transfer coding the server does not know is a 501.
    closeAfterAnswer(req);
    throw new GatewayError(
      'invalid_request',
      `transfer-encoding ${transfer.slice(0, 40)} is not understood: send the body with chunked alone, uncompressed`,
      { status: 501 },
    );
  }
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limitBytes) {
    closeAfterAnswer(req);
    throw tooLarge(limitBytes);
  }
  const counted = Number.isFinite(declared);
  if (counted) hold.take(declared);
  askForBody(req);
  const { chunks, size } = await readAll(req, limitBytes, counted ? undefined : hold, idleTimeoutMs);
  let parsed: unknown;
  try {
    // Most bodies come in one chunk: decode it in place rather than copying it first.
    const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    // JSON is UTF-8 (RFC 8259): bytes that are not would reach the provider as U+FFFD, a
    // prompt silently changed. Checked at ~70 ns for a small body.
    if (!isUtf8(whole)) throw new GatewayError('invalid_json', 'the request body is not valid UTF-8');
    // A UTF-8 byte order mark (some Windows tools write one) is not part of the JSON text.
    const text = hasUtf8Bom(whole) ? whole.toString('utf8', 3) : whole.toString('utf8');
    parsed = JSON.parse(text);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new GatewayError('invalid_json', `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GatewayError('invalid_request', 'the request body must be a JSON object');
  }
  const body = parsed as Record<string, unknown>;
  refuseHostFields(body);
  return { body, bytes: size };
}

/**
 * The body's chunks, by listeners rather than `for await` (no async iterator and promise per
 * chunk on every request). Past the limit (or the budget), or after `idleTimeoutMs` without a
 * byte, the body is refused mid-way: the refusal closes the connection after its answer
 * (closeAfterAnswer). A request closed before its end rejects.
 */
function readAll(
  req: IncomingMessage,
  limitBytes: number,
  hold: BodyHold | undefined,
  idleTimeoutMs: number,
): Promise<{ chunks: Buffer[]; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const refuse = (refusal: unknown) => {
      cleanup();
      closeAfterAnswer(req);
      reject(closingConnection(refusal));
    };
    // Without it, a client that stops sending holds its request, and the body budget its
    // declared length took, until Node's requestTimeout: a few such uploads and every other
    // caller's request is refused `overloaded`.
    const idle = setTimeout(() => refuse(timedOut(idleTimeoutMs)), idleTimeoutMs);
    const cleanup = () => {
      clearTimeout(idle);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      idle.refresh();
      size += chunk.length;
      let refusal: unknown;
      if (size > limitBytes) refusal = tooLarge(limitBytes);
      else {
        try {
          hold?.take(chunk.length);
        } catch (error) {
          refusal = error;
        }
      }
      if (refusal !== undefined) {
        refuse(refusal);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve({ chunks, size });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(
        Object.assign(new Error('the request was closed before its body ended'), { code: 'ECONNRESET' }),
      );
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * True for a JSON media type: `application/json`, any case, with any parameters (`; charset=utf-8`,
 * which OpenAI once refused for a day and the SDKs of other languages send).
 */
function namesJson(type: string): boolean {
  const semicolon = type.indexOf(';');
  return (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase() === 'application/json';
}

/**
 * True for a Content-Encoding that applies no coding: `identity` or empty list elements (RFC
 * 9110 section 5.6.1.2: ignored), as an empty header or a repeated one merged by Node gives.
 */
function namesNoCoding(encoding: string): boolean {
  for (const coding of encoding.split(',')) {
    const name = coding.trim().toLowerCase();
    if (name !== '' && name !== 'identity') return false;
  }
  return true;
}

function hasUtf8Bom(bytes: Buffer): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError('body_too_large', `the request body is larger than ${limit} bytes`, {
    headers: CONNECTION_CLOSE,
  });
}

/** A 408 (as nginx's `client_body_timeout`), recorded as the caller's invalid request. */
function timedOut(idleTimeoutMs: number): GatewayError {
  return new GatewayError(
    'invalid_request',
    `no byte of the request body arrived for ${idleTimeoutMs / 1000} seconds`,
    { status: 408, code: 'request_timeout', headers: CONNECTION_CLOSE },
  );
}

/**
 * A body refused before its end leaves the rest of it on the connection, which cannot carry
 * another request: the answer says `Connection: close`, and Node ends the socket once the
 * answer is written (its 'finish'). Destroying the request instead cut the connection before
 * the answer: the caller saw a reset, not the 413, and its SDK retried the same body.
 */
const CONNECTION_CLOSE: Readonly<Record<string, string>> = Object.freeze({ connection: 'close' });

/** `refusal` (a 503 from the budget, a 413...) answered with `Connection: close`. */
function closingConnection(refusal: unknown): unknown {
  if (!(refusal instanceof GatewayError) || refusal.options.headers?.connection === 'close') return refusal;
  return new GatewayError(refusal.kind, refusal.message, {
    ...refusal.options,
    headers: { ...refusal.options.headers, ...CONNECTION_CLOSE },
  });
}

/** How long the connection of a refused body stays open for its client to read the answer. */
const LINGER_MS = 10_000;

/**
 * Closes the connection of a body refused before its end, in stages (RFC 9112 section 9.6):
 * the rest of the body is read and dropped, the answer (`Connection: close`) is written and
 * followed by a FIN, and the socket is destroyed when the client closes its side, or after
 * LINGER_MS. Node destroys it as soon as the answer is written (destroySoon): a client still
 * sending then gets a reset, which can erase the answer before it is read (Node's and
 * undici's clients, writing a whole body before reading, saw EPIPE instead of the 413).
 */
function closeAfterAnswer(req: IncomingMessage): void {
  req.resume();
  const socket = req.socket as Socket | undefined; // absent in stand-ins
  if (!socket || socket.destroyed) return;
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
  // What Node calls once a `Connection: close` answer is written: only the half-close here.
  socket.destroySoon = () => {
    socket.end();
  };
}

/** Body fields that would name another host: refused, since only the admin picks where Kordon connects. */
const HOST_FIELDS = new Set([
  'api_base',
  'base_url',
  'baseurl',
  'api_host',
  'endpoint_url',
  'azure_endpoint',
]);
const HOST_FIELD_LENGTHS = new Set([...HOST_FIELDS].map((field) => field.length));

/**
 * Objects whose keys are the caller's own data, not request fields: a tool's JSON schema
 * may well have a `base_url` property, and metadata any key. Kordon never reads them.
 */
const FREE_FORM = new Set(['parameters', 'input_schema', 'properties', 'schema', 'json_schema', 'metadata']);

/**
 * Anthropic content blocks whose `input` is a tool call's arguments: what the model chose to
 * pass a tool (a `base_url` argument of the caller's own tool, say), sent back on the next
 * turn. `input` elsewhere (the Responses API's list of items) is still checked. OpenAI's tool
 * calls (`function.arguments`, a Responses `function_call`'s `arguments`) are JSON strings,
 * whose keys are never walked.
 */
const TOOL_CALL_BLOCKS = new Set(['tool_use', 'server_tool_use', 'mcp_tool_use']);

/**
 * True for a key whose value is the caller's data in `object` (at `depth`, the body being 1;
 * `parent` the key `object` is under, an array's key for its items): walked for its depth
 * only. Each is exempt only where the APIs put it, so the same key elsewhere is still checked:
 * - `input` of a tool call's block (TOOL_CALL_BLOCKS), inside the body, never the body itself,
 *   whose `type` the caller could set to anything;
 * - `input_examples` of a tool in the body's `tools` (Claude: example inputs of the tool);
 * - `env` of a Responses `local_shell_call`'s `action` (`type: "exec"`): the environment
 *   variables the caller's own shell ran the command with, replayed in `input`;
 * - `variables` of the body's `prompt` (a Responses prompt template): named by the template.
 */
function isFreeForm(key: string, object: Record<string, unknown>, depth: number, parent: string): boolean {
  if (FREE_FORM.has(key)) return true;
  switch (key) {
    case 'input': {
      if (depth === 1) return false;
      const type = object.type;
      return typeof type === 'string' && TOOL_CALL_BLOCKS.has(type);
    }
    case 'input_examples':
      return depth === 3 && parent === 'tools';
    case 'env':
      return parent === 'action' && object.type === 'exec';
    case 'variables':
      return depth === 2 && parent === 'prompt';
    default:
      return false;
  }
}

/**
 * How deep a request body may nest. Deeper bodies are refused: the host-field check must
 * see every level, and a body thousands of levels deep would overflow the stack of the
 * JSON.stringify that sends it upstream. The same bound as the JSON text inside a body (an
 * OpenAI tool call's arguments), which is checked when it is parsed for translation.
 */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH;
const TOO_DEEP = Symbol('too deep');
/** A number JSON.parse made Infinity (`1e400`): sent on, it would be `null`, the caller's bound gone. */
class NotFinite {
  constructor(readonly field: string) {}
}

/**
 * A 400 for a body that names a host anywhere (any depth, any letter case, inside arrays)
 * or nests deeper than MAX_BODY_DEPTH; before routing, so no upstream call is made.
 */
export function refuseHostFields(body: Record<string, unknown>): void {
  const found = findHostField(body, 1, false, '');
  if (found === TOO_DEEP)
    throw new GatewayError(
      'invalid_request',
      `the request body is nested deeper than ${MAX_BODY_DEPTH} levels`,
    );
  if (found instanceof NotFinite)
    throw new GatewayError(
      'invalid_request',
      `the field ${found.field} is a number out of range (beyond ±1.8e308): give a finite number`,
      { param: found.field },
    );
  if (found !== undefined)
    throw new GatewayError(
      'invalid_request',
      `the field ${found} is not allowed: Kordon chooses the provider`,
      {
        param: found,
      },
    );
}

/**
 * The first host field in `object` (under the key `parent`), TOO_DEEP, or the first number out
 * of range (NotFinite, in free-form objects too). Free-form objects are walked for their depth
 * and numbers only.
 */
function findHostField(
  object: object,
  depth: number,
  freeForm: boolean,
  parent: string,
): string | typeof TOO_DEEP | NotFinite | undefined {
  if (depth > MAX_BODY_DEPTH) return TOO_DEEP;
  // for-in and a length test before lower-casing: this walks every request body's keys.
  const fields = object as Record<string, unknown>;
  const array = Array.isArray(object);
  for (const key in fields) {
    if (!freeForm && HOST_FIELD_LENGTHS.has(key.length) && HOST_FIELDS.has(key.toLowerCase())) return key;
    const item = fields[key];
    if (item === null || typeof item !== 'object') {
      // Infinity - Infinity is NaN: one subtraction tells a number out of range.
      if (typeof item === 'number' && item - item !== 0) return new NotFinite(array ? parent : key);
      continue;
    }
    // An array's items are under its key (a tool in `tools`), not under their index.
    const found = array
      ? findHostField(item, depth + 1, freeForm, parent)
      : findHostField(item, depth + 1, freeForm || isFreeForm(key, fields, depth, parent), key);
    if (found !== undefined) return found;
  }
  return undefined;
}
