import type { IncomingMessage } from 'node:http';
import { GatewayError } from './gateway-error.js';

/** Feature names as Anthropic spells them (`interleaved-thinking-2025-05-14`), comma-separated. */
const FEATURE_LIST = /^[A-Za-z0-9._-]+(?: *, *[A-Za-z0-9._-]+)*$/;

/**
 * The `anthropic-beta` features an Anthropic-SDK caller asked for, to pass on to Claude
 * (Claude Code sends several; the SDK's `betas` option sets it). Undefined when absent or
 * empty; anything but a list of feature names is a 400, never sent upstream.
 */
export function anthropicBetaOf(req: IncomingMessage): string | undefined {
  const value = req.headers['anthropic-beta'];
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value.join(',') : value).trim();
  if (text === '') return undefined;
  if (text.length > 2048 || !FEATURE_LIST.test(text))
    throw new GatewayError('invalid_request', 'anthropic-beta: expected comma-separated feature names', {
      param: 'anthropic-beta',
    });
  return text;
}
