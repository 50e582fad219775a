import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const PRIMARY = 'sk-proj-pinned-primary-abcdefghijklmnopqrstuv0';
const BACKUP = 'sk-proj-pinned-backup-abcdefghijklmnopqrstuvw0';

/**
 * A Responses conversation whose answer was stored by the backup key (tier 1) a failover
 * reached: the provider finds that answer only under the backup's project (the mock, as the
 * real API, says `previous_response_not_found` to another key). Kordon pins the stored
 * answer to the backup; the follow-up must go there once the primary is back.
 */
describe('a stored answer made by a failover (tier 1) key: its follow-up', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  let client: OpenAI;

  before(async () => {
    mock = await startOpenAIMock({ keys: [PRIMARY, BACKUP] });
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys:
          - { name: primary, secret: "\${KEY_1}" }
          - { name: backup, secret: "\${KEY_2}", tier: 1 }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { KEY_1: PRIMARY, KEY_2: BACKUP },
    );
    client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--laptop')!,
      maxRetries: 0,
    });
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  it('goes to the backup key that stored it, not back to the primary (which answers "not found")', async () => {
    // The primary is rate limited (Retry-After 1 s): the first turn fails over to the backup.
    mock.setScenario('rate-limit=1', { key: PRIMARY });
    const first = await client.responses.create({ model: 'gpt-4o-mini', input: 'first turn' });
    assert.equal(bearerOf(mock.requests.at(-1)!.headers), BACKUP, 'the first turn was served by the backup');
    mock.setScenario(undefined, { key: PRIMARY });
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    // The follow-up: only the backup has `first`.
    let error: unknown;
    try {
      await client.responses.create({
        model: 'gpt-4o-mini',
        input: 'second turn',
        previous_response_id: first.id,
      });
    } catch (caught) {
      error = caught;
    }
    const used = bearerOf(mock.requests.at(-1)!.headers);
    assert.equal(
      error,
      undefined,
      `the follow-up failed: ${(error as Error | undefined)?.message} (sent with ${used === PRIMARY ? 'primary' : 'backup'})`,
    );
    assert.equal(used, BACKUP);
  });

  it('while the key that stored it rests, is told to wait (429), not that it does not exist', async () => {
    const first = await client.responses.create({ model: 'gpt-4o-mini', input: 'a new conversation' });
    assert.equal(bearerOf(mock.requests.at(-1)!.headers), PRIMARY, 'the primary stored it');
    // The primary is rate limited for 30 s: the backup, of another project, has no such answer.
    mock.enqueueScenario('rate-limit=30', { key: PRIMARY, times: 1 });
    const error = await client.responses
      .create({ model: 'gpt-4o-mini', input: 'the follow-up', previous_response_id: first.id })
      .then(
        () => assert.fail('answered'),
        (caught: unknown) => caught,
      );
    assert.equal(bearerOf(mock.requests.at(-1)!.headers), BACKUP, 'the backup was asked');
    assert.ok(error instanceof OpenAI.RateLimitError, String(error));
    const wait = Number(error.headers?.get('retry-after'));
    assert.ok(wait > 25 && wait <= 30, `Retry-After ${wait}`);
    assert.match(error.message, /resting/);
  });
});
