/** Reads the recorded and hand-written provider answers in this folder. */
import { readFileSync } from 'node:fs';

const here = new URL('./', import.meta.url);

/** The `data:` payload of each SSE frame of a fixture, JSON-parsed (OpenAI's `[DONE]` kept as a string). */
export function sseEvents(name: string): unknown[] {
  const text = readFileSync(new URL(name, here), 'utf8');
  return text
    .split(/\r?\n\r?\n/)
    .map((frame) =>
      frame
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice('data:'.length).trimStart())
        .join('\n'),
    )
    .filter((data) => data !== '')
    .map((data) => (data === '[DONE]' ? data : (JSON.parse(data) as unknown)));
}

export function jsonFixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(name, here), 'utf8')) as unknown;
}
