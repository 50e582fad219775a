/** Server-sent event frames as the providers write them. */
import type { StreamFrame } from './wire.js';

export interface SseOptions {
  /** The `event:` line; OpenAI chat sends none, Anthropic and the Responses API do. */
  readonly event?: string;
  /** Gemini ends its lines with CRLF, OpenAI and Anthropic with LF. */
  readonly eol?: '\n' | '\r\n';
  readonly terminator?: boolean;
}

export const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8';

export function sseFrame(data: unknown, options: SseOptions = {}): StreamFrame {
  const eol = options.eol ?? '\n';
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  const eventLine = options.event === undefined ? '' : `event: ${options.event}${eol}`;
  return { text: `${eventLine}data: ${payload}${eol}${eol}`, terminator: options.terminator ?? false };
}

/** An SSE comment: clients ignore it; proxies send it to keep idle connections open. */
export function sseComment(text: string, eol: '\n' | '\r\n' = '\n'): string {
  return `: ${text}${eol}${eol}`;
}
