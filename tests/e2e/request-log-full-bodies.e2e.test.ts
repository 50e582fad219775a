import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const UPSTREAM_KEY = 'sk-proj-fullbodies-abcdefghijklmnopqrstuvwxyz01234';
// A secret the user pastes on its own line (an .env value, a key copied from a console).
const PASTED_KEY = `sk-proj-${'Pa5tEd'.repeat(12)}`;

describe('request log with bodies: full: a secret on its own line', () => {
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
      { UPSTREAM_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  it('an OpenAI key after a newline in the prompt is redacted in the request log', async () => {
    const apiKey = gateway.proxyKeys.get('dev@acme.test--laptop')!;
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 });
    await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 200,
      messages: [{ role: 'user', content: `Why does this key fail?\n${PASTED_KEY}` }],
    });
    const completed = (await gateway.requestEvents()).filter((e) => e.type === 'RequestCompleted');
    assert.equal(completed.length, 1);
    const requestId = (completed[0]!.data as { requestId: string }).requestId;
    const read = () =>
      gateway.kordon.storage.store.sql.query<{ prompt: string | null; response: string | null }>(
        'SELECT prompt, response FROM kordon_request_log WHERE request_id = $1',
        [requestId],
      );
    let logged = await read();
    for (let i = 0; i < 100 && logged.rows.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      logged = await read();
    }
    assert.equal(logged.rows.length, 1);
    const row = logged.rows[0]!;
    assert.ok(row.prompt, 'the prompt is logged');
    assert.ok(!row.prompt.includes(PASTED_KEY.slice(8)), `request log prompt: ${row.prompt}`);
  });
});
