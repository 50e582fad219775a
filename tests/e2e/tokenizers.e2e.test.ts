import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { startKordonUnderTest } from './support/kordon-under-test.js';

const CONFIG = `
orgs:
  - slug: acme
    name: Acme
    users:
      - email: dev@acme.test
`;

/** The log lines of a Kordon started (and stopped) with `env`. */
async function startLog(env: Record<string, string>): Promise<Array<{ msg?: string; encodings?: string[] }>> {
  const gateway = await startKordonUnderTest(
    CONFIG,
    { KORDON_LOG_LEVEL: 'info', ...env },
    { logFileInDataDir: 'kordon.log' },
  );
  await gateway.stop({ keepData: true });
  // pino-roll numbers its files: kordon.1.log, kordon.2.log...
  const files = readdirSync(gateway.dataDir).filter((name) => /^kordon\.\d+\.log$/.test(name));
  const lines = files.flatMap((name) => readFileSync(join(gateway.dataDir, name), 'utf8').trim().split('\n'));
  rmSync(gateway.dataDir, { recursive: true, force: true });
  return lines.map((line) => JSON.parse(line) as { msg?: string; encodings?: string[] });
}

/*
 * Counting tokens loads a tokenizer's tables on first use: ~0.5 s of CPU on the event loop
 * (every request in flight waits) and tens of MB of heap. KORDON_PRELOAD_TOKENIZERS moves that
 * to the start, before the server says it is ready; by default nothing is loaded until needed.
 */
it('the tokenizers load at start when asked, and only then', async () => {
  const preloaded = (await startLog({ KORDON_PRELOAD_TOKENIZERS: 'true' })).find(
    (line) => line.msg === 'tokenizers loaded',
  );
  assert.deepEqual(preloaded?.encodings, ['o200k_base', 'cl100k_base']);
  const ready = await startLog({});
  assert.equal(
    ready.some((line) => line.msg === 'tokenizers loaded'),
    false,
  );
});
