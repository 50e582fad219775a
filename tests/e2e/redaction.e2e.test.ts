import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { CORPUS_PROMPT, SAMPLES } from '@kordon/redaction/testing';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const UPSTREAM_KEY = 'sk-proj-redaction-abcdefghijklmnopqrstuvwxyz01234';

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/**
 * The corpus test of issue 7: a prompt stuffed with one secret or personal value of each kind,
 * sent through the real path with full-body logging on, leaves none of them on disk: not in
 * the log file, not in the event log or the request log, not in the spool.
 */
describe('redaction before anything is written', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;

  before(async () => {
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    logging:
      bodies: full
      redact:
        - { name: employee_id, pattern: '\\bEMP-\\d{6}\\b', action: hash }
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${UPSTREAM_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { UPSTREAM_KEY, KORDON_LOG_LEVEL: 'debug' },
      { logFileInDataDir: 'kordon.log' },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  it('a corpus prompt, plain and streamed, in both dialects, leaves no secret on disk', async () => {
    const apiKey = gateway.proxyKeys.get('dev@acme.test--laptop')!;
    const prompt = `${CORPUS_PROMPT}\nAnd my badge is EMP-123456.`;
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 });
    const plain = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 4000,
      messages: [{ role: 'user', content: prompt }],
    });
    assert.ok(
      plain.choices[0]!.message.content!.includes(SAMPLES[0]!.secret),
      'the caller gets its answer as is',
    );
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 4000,
      stream: true,
      messages: [{ role: 'user', content: prompt }],
    });
    for await (const _ of stream) {
      // read to the end
    }
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey, maxRetries: 0 });
    await anthropic.messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 4000,
      messages: [{ role: 'user', content: prompt }],
    });

    // The events carry the bodies sealed (ciphertext under the org's key of the day, so that
    // retention can delete them); the request log holds them opened, redacted (so the test
    // would see the secrets there if redaction failed).
    const completed = (await gateway.requestEvents()).filter((e) => e.type === 'RequestCompleted');
    assert.equal(completed.length, 3);
    const requestIds: string[] = [];
    for (const event of completed) {
      const data = event.data as {
        requestId: string;
        redactedPrompt: string | null;
        sealedBodies: { keyId: string; prompt: string | null; response: string | null } | null;
      };
      assert.equal(data.redactedPrompt, null, 'no text in the clear in the event');
      assert.ok(data.sealedBodies?.prompt && data.sealedBodies.prompt.length > 500, 'the prompt is logged');
      assert.ok(
        data.sealedBodies.response && data.sealedBodies.response.length > 100,
        'the answer is logged',
      );
      requestIds.push(data.requestId);
    }
    const readLog = () =>
      gateway.kordon.storage.store.sql.query<{ prompt: string; response: string }>(
        'SELECT prompt, response FROM kordon_request_log WHERE request_id = ANY($1::text[])',
        [requestIds],
      );
    let logged = await readLog();
    for (let i = 0; i < 100 && logged.rows.length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      logged = await readLog();
    }
    assert.equal(logged.rows.length, 3);
    for (const row of logged.rows) {
      assert.ok(row.prompt.length > 500 && row.response.length > 50, 'the request log has both texts');
      assert.match(row.prompt, /\[REDACTED:openai_key/);
      assert.match(row.prompt, /employee_id/);
    }

    // The database, read through SQL (pages may be compressed on disk): events and request log.
    const sql = gateway.kordon.storage.store.sql;
    const { rows: eventRows } = await sql.query<{ text: string }>(
      'SELECT data::text AS text FROM kordon_events',
    );
    const { rows: logRows } = await sql.query<{ text: string }>(
      "SELECT coalesce(prompt, '') || coalesce(response, '') AS text FROM kordon_request_log",
    );
    const database = [...eventRows, ...logRows].map((row) => row.text).join('\n');
    assert.ok(database.includes('[REDACTED:'), 'the redacted text is in the database');

    await gateway.stop({ keepData: true });
    const onDisk = files(gateway.dataDir)
      .filter((path) => !path.includes(`${join(gateway.dataDir, 'pglite')}`))
      .map((path) => ({ path, text: readFileSync(path).toString('latin1') }));
    // pino-roll numbers its files: kordon.1.log, kordon.2.log...
    const logFile = onDisk.find((file) => /kordon\.\d+\.log$/.test(file.path));
    assert.ok(logFile && logFile.text.length > 0, 'the log file was written');

    for (const sample of [...SAMPLES, { detector: 'employee_id', secret: 'EMP-123456' }]) {
      assert.ok(!database.includes(sample.secret), `${sample.detector} is not in the database`);
      for (const file of onDisk)
        assert.ok(!file.text.includes(sample.secret), `${sample.detector} is not in ${file.path}`);
    }
  });
});
