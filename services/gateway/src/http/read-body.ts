import type { IncomingMessage } from 'node:http';
import { GatewayError } from './gateway-error.js';

/**
 * Reads a JSON body up to `limitBytes`: past it, 413 without reading the rest (the
 * connection is closed after the answer). Malformed JSON or a non-object is a 400.
 */
export async function readJsonBody(
  req: IncomingMessage,
  limitBytes: number,
): Promise<Record<string, unknown>> {
  return (await readJsonBodyWithSize(req, limitBytes)).body;
}

/** The same, with the body's size in bytes. */
export async function readJsonBodyWithSize(
  req: IncomingMessage,
  limitBytes: number,
): Promise<{ body: Record<string, unknown>; bytes: number }> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw tooLarge(limitBytes);
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
  } catch (error) {
    throw new GatewayError('invalid_json', `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GatewayError('invalid_request', 'the request body must be a JSON object');
  }
  return { body: parsed as Record<string, unknown>, bytes: size };
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError('body_too_large', `the request body is larger than ${limit} bytes`);
}
