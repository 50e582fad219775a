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
  const { chunks, size } = await readAll(req, limitBytes);
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

/**
 * The body's chunks, by listeners rather than `for await` (no async iterator and promise per
 * chunk on every request). Past the limit the request is destroyed, as breaking out of an
 * iteration would; a request closed before its end rejects.
 */
function readAll(req: IncomingMessage, limitBytes: number): Promise<{ chunks: Buffer[]; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        req.destroy();
        reject(tooLarge(limitBytes));
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

function tooLarge(limit: number): GatewayError {
  return new GatewayError('body_too_large', `the request body is larger than ${limit} bytes`);
}
