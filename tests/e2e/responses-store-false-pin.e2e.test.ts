import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * A Responses answer asked with `store: false` is kept by nobody (OpenAI answers a follow-up
 * naming it, or a retrieve, "not found"), so the gateway pins it to no key: a caller that never
 * stores (a stateless agent) would otherwise fill the table of the last 65,536 pins (~18 MB of
 * heap when full, in a soak) with answers no follow-up can name, pushing out the pins of
 * answers that are stored. The pins are read from the counters snapshot the stop saves.
 */

const UPSTREAM_KEY = 'sk-proj-store-false-abcdefghijklmnopqrstuvwxyz0123';

const config = (mockUrl: string) => `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${mockUrl}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${UPSTREAM_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`;

describe('Responses answers asked with store: false', () => {
  let mock: MockServer;
  before(async () => {
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
  });
  after(() => mock?.close());

  it('are pinned to no key, plain or streamed; stored answers are', async () => {
    let gateway: KordonUnderTest = await startKordonUnderTest(config(mock.url), { UPSTREAM_KEY });
    const client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const plain = async (store: boolean | undefined) =>
      (
        await client.responses.create({
          model: 'gpt-4o-mini',
          input: 'hi',
          ...(store === undefined ? {} : { store }),
        })
      ).id;
    const streamed = async (store: boolean | undefined) => {
      const stream = await client.responses.create({
        model: 'gpt-4o-mini',
        input: 'hi',
        stream: true,
        ...(store === undefined ? {} : { store }),
      });
      let id: string | undefined;
      for await (const event of stream) if (event.type === 'response.completed') id = event.response.id;
      assert.ok(id, 'the stream completed');
      return id;
    };
    const notStored = [await plain(false), await streamed(false)];
    const stored = [await plain(undefined), await plain(true), await streamed(true)];
    const { orgId, dataDir } = gateway;
    await gateway.stop({ keepData: true });
    gateway = await startKordonUnderTest(config(mock.url), { UPSTREAM_KEY }, { dataDir });
    try {
      const { rows } = await gateway.kordon.storage.store.sql.query<{ data: string }>(
        'SELECT data FROM kordon_limit_counters',
      );
      assert.ok(rows[0], 'the stop saved a snapshot of the counters');
      const pins = (
        (JSON.parse(rows[0].data) as { pins?: [string, string, string, number | null][] }).pins ?? []
      ).map(([session]) => session);
      for (const id of stored)
        assert.ok(pins.includes(`stored:${orgId}:${id}`), `stored answer ${id} is pinned`);
      for (const id of notStored)
        assert.ok(
          !pins.includes(`stored:${orgId}:${id}`),
          `answer ${id} asked with store: false is not pinned`,
        );
      assert.equal(pins.length, stored.length);
    } finally {
      await gateway.stop();
    }
  });
});
