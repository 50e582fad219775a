import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '@kordon/server';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const METRICS_TOKEN = 'metrics-scraper-7f3c9a1e5b2d8c4f6a0e9b3d';

/** /metrics names orgs, keys and spend: KORDON_METRICS_TOKEN keeps it to the scraper holding it. */
describe('metrics: KORDON_METRICS_TOKEN', () => {
  let kordon: KordonUnderTest;

  before(async () => {
    kordon = await startKordonUnderTest('orgs:\n  - slug: acme\n    name: Acme\n', {
      KORDON_METRICS_TOKEN: METRICS_TOKEN,
    });
  });
  after(async () => {
    await kordon.stop();
  });

  it('answers 401 without the token, or with another, and the figures with it', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${METRICS_TOKEN}`, METRICS_TOKEN]) {
      const response = await fetch(`${kordon.url}/metrics`, {
        headers: authorization ? { authorization } : {},
      });
      assert.equal(response.status, 401, `Authorization: ${authorization}`);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer /);
      const text = await response.text();
      assert.doesNotMatch(text, /kordon_/, 'no figure leaks in the refusal');
      assert.ok(!text.includes(METRICS_TOKEN), 'the token is not echoed');
    }
    const response = await fetch(`${kordon.url}/metrics`, {
      headers: { authorization: `bearer ${METRICS_TOKEN}` },
    });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /kordon_events_written_total/);
  });

  it('leaves the probes open', async () => {
    assert.equal((await fetch(`${kordon.url}/healthz`)).status, 200);
  });

  it('refuses a weak token at start, as it refuses a weak admin token', () => {
    assert.throws(() => loadConfig({ KORDON_DEV_MODE: 'true', KORDON_METRICS_TOKEN: 'changeme' }));
  });
});
