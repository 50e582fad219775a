import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareAmounts, computeCost } from './cost.js';
import { nameCandidates } from './model-match.js';
import { indexPriceTable, PriceBook } from './price-book.js';
import type { PriceTier } from './price-schema.js';
import { SHIPPED_PRICE_TABLE } from './price-table.js';

const entries = Object.entries(SHIPPED_PRICE_TABLE.models);

type Rates = Omit<PriceTier, 'aboveInputTokens'>;
const le = (a: string, b: string) => compareAmounts(a, b) <= 0;

/** The effective rate of each kind, with the fallbacks computeCost applies. */
function effective(r: Rates) {
  const cacheWrite = r.cacheWrite ?? r.input;
  const cachedInput = r.cachedInput ?? r.input;
  return {
    input: r.input,
    cachedInput,
    cacheWrite,
    cacheWrite1h: r.cacheWrite1h ?? cacheWrite,
    audioInput: r.audioInput ?? r.input,
    cachedAudioInput: r.cachedAudioInput ?? (r.audioInput === undefined ? cachedInput : r.audioInput),
    output: r.output,
  };
}

describe('the shipped price table', () => {
  test('parses and indexes (schema, providers, aliases)', () => {
    const index = indexPriceTable(SHIPPED_PRICE_TABLE);
    assert.equal(index.entries.size, entries.length);
  });

  test('covers the models the gateway is expected to price', () => {
    const expected = [
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-4.1',
      'gpt-4.1-mini',
      'gpt-4.1-nano',
      'o3',
      'o4-mini',
      'gpt-5',
      'gpt-5-mini',
      'gpt-5-nano',
      'text-embedding-3-small',
      'text-embedding-3-large',
      'text-embedding-ada-002',
      'claude-opus-4-1',
      'claude-sonnet-4-5',
      'claude-haiku-4-5',
      'claude-3-7-sonnet',
      'claude-3-5-haiku',
      'gemini-2.5-pro',
      'gemini-2.5-flash',
      'gemini-2.5-flash-lite',
      'gemini-2.0-flash',
      'gemini-embedding-001',
      'gemini-3.1-pro-preview',
      'gemini-3-flash-preview',
      'gemini-3.1-flash-lite',
      'deepseek-flash',
      'deepseek-v4-pro',
      'mistral-large-2512',
      'mistral-small-2506',
    ];
    for (const model of expected) assert.ok(SHIPPED_PRICE_TABLE.models[model], model);
  });

  test('text-embedding-ada-002: $0.10 per 1M input tokens, so 1,000 tokens cost $0.0001', () => {
    const found = PriceBook.shipped().lookup('text-embedding-ada-002');
    assert.equal(found.status, 'priced');
    if (found.status !== 'priced') return;
    const cost = computeCost(found.price, { inputTokens: 1000, outputTokens: 0, cachedInputTokens: 0 });
    assert.deepEqual([cost.amount, cost.currency], ['0.0001', 'USD']);
  });

  test('gemini-embedding-001: $0.15 per 1M input tokens, so 1,000 tokens cost $0.00015', () => {
    const found = PriceBook.shipped().lookup('gemini-embedding-001');
    assert.equal(found.status, 'priced');
    if (found.status !== 'priced') return;
    const cost = computeCost(found.price, { inputTokens: 1000, outputTokens: 0, cachedInputTokens: 0 });
    assert.deepEqual([cost.amount, cost.currency], ['0.00015', 'USD']);
  });

  const cost = (model: string, usage: Parameters<typeof computeCost>[1]) => {
    const found = PriceBook.shipped().lookup(model);
    assert.equal(found.status, 'priced', model);
    return found.status === 'priced' ? computeCost(found.price, usage).amount : '';
  };

  test('gemini-3.1-pro-preview: $2 / $0.20 cached / $12, and $4 / $0.40 / $18 for a prompt over 200K', () => {
    // 90,000 x 2 + 10,000 x 0.20 + 1,000 x 12 per million.
    const short = { inputTokens: 100_000, outputTokens: 1_000, cachedInputTokens: 10_000 };
    assert.equal(cost('gemini-3.1-pro-preview', short), '0.194');
    // 200,000 x 4 + 100,000 x 0.40 + 1,000 x 18 per million.
    const long = { inputTokens: 300_000, outputTokens: 1_000, cachedInputTokens: 100_000 };
    assert.equal(cost('gemini-3.1-pro-preview', long), '0.858');
    // Its custom-tools endpoint, and Gemini 3 Pro, which now answers as 3.1 Pro, at the same price.
    assert.equal(cost('gemini-3.1-pro-preview-customtools', long), '0.858');
    assert.equal(cost('gemini-3-pro-preview', short), '0.194');
  });

  test('gemini-3-flash-preview: $0.50 text, $1.00 audio, cache reads $0.05 and $0.10, output $3', () => {
    // 10,000 prompt tokens: 2,000 audio of which 500 cached, 1,000 cached in all; 1,000 out.
    // 7,500 x 0.50 + 1,500 x 1.00 + 500 x 0.05 + 500 x 0.10 + 1,000 x 3 per million.
    const usage = {
      inputTokens: 10_000,
      outputTokens: 1_000,
      cachedInputTokens: 1_000,
      audioInputTokens: 2_000,
      cachedAudioInputTokens: 500,
    };
    assert.equal(cost('gemini-3-flash-preview', usage), '0.008325');
  });

  test('gemini-3.1-flash-lite (and its preview id): $0.25 / $1.50, audio $0.50', () => {
    const million = { inputTokens: 1_000_000, outputTokens: 1_000_000, cachedInputTokens: 0 };
    assert.equal(cost('gemini-3.1-flash-lite', million), '1.75');
    assert.equal(cost('gemini-3.1-flash-lite-preview', million), '1.75');
    assert.equal(cost('gemini-3.1-flash-lite', { ...million, audioInputTokens: 1_000_000 }), '2');
    assert.equal(cost('gemini-3.1-flash-lite', { ...million, cachedInputTokens: 1_000_000 }), '1.525');
  });

  test('peak hours only on DeepSeek, twice every rate, the off-peak rates being the listed ones', () => {
    const peaked = entries.filter(([, e]) => e.peakHours !== undefined).map(([key]) => key);
    assert.deepEqual(peaked.sort(), ['deepseek-flash', 'deepseek-v4-pro']);
    for (const key of peaked) {
      const e = SHIPPED_PRICE_TABLE.models[key];
      assert.equal(e?.peakHours?.multiplier, '2', key);
      assert.equal(e?.provider, 'deepseek', key);
    }
  });

  test('every Anthropic model prices cache writes (5m and 1h); nobody else does', () => {
    for (const [key, e] of entries) {
      const writes = e.cacheWrite !== undefined && e.cacheWrite1h !== undefined;
      assert.equal(writes, e.provider === 'anthropic', key);
    }
  });

  test('rates are ordered: cached input <= input <= cache write <= 1h cache write', () => {
    for (const [key, e] of entries) {
      for (const r of [e, ...(e.tiers ?? [])]) {
        const x = effective(r);
        assert.ok(le(x.cachedInput, x.input), `${key}: cachedInput > input`);
        assert.ok(le(x.input, x.cacheWrite), `${key}: cacheWrite < input`);
        assert.ok(le(x.cacheWrite, x.cacheWrite1h), `${key}: cacheWrite1h < cacheWrite`);
        assert.ok(le(x.cachedAudioInput, x.audioInput), `${key}: cachedAudioInput > audioInput`);
        assert.ok(le(x.input, x.audioInput), `${key}: audioInput < input`);
        assert.ok(le(x.cachedInput, x.cachedAudioInput), `${key}: cachedAudioInput < cachedInput`);
      }
    }
  });

  test('audio rates: on Gemini Flash models only, on every tier of their model, never with priority rates (which have none)', () => {
    const withAudio = entries.filter(([, e]) => e.audioInput !== undefined).map(([key]) => key);
    assert.deepEqual(withAudio.sort(), [
      'gemini-2.0-flash',
      'gemini-2.5-flash',
      'gemini-2.5-flash-lite',
      'gemini-3-flash-preview',
      'gemini-3.1-flash-lite',
    ]);
    for (const [key, e] of entries) {
      if (e.audioInput === undefined && e.cachedAudioInput === undefined) continue;
      assert.ok(e.audioInput !== undefined && e.cachedAudioInput !== undefined, `${key}: both audio rates`);
      for (const tier of e.tiers ?? [])
        assert.ok(tier.audioInput !== undefined, `${key}: tier without audio`);
      assert.equal(e.priority, undefined, `${key}: priority rates would bill audio as text`);
    }
  });

  test('long-context tiers ascend and never price below the rates under them', () => {
    for (const [key, e] of entries) {
      let below = effective(e);
      let threshold = 0;
      for (const tier of e.tiers ?? []) {
        assert.ok(tier.aboveInputTokens > threshold, `${key}: tiers out of order`);
        threshold = tier.aboveInputTokens;
        const x = effective(tier);
        for (const field of [
          'input',
          'cachedInput',
          'cacheWrite',
          'cacheWrite1h',
          'audioInput',
          'cachedAudioInput',
          'output',
        ] as const) {
          assert.ok(le(below[field], x[field]), `${key}: tier ${threshold} ${field} below base`);
        }
        below = x;
      }
    }
  });

  test('keys are their own exact match and no key is another key under the snapshot rule', () => {
    const keys = new Set(entries.map(([k]) => k));
    for (const [key] of entries) {
      const [first, ...rest] = nameCandidates(key);
      assert.deepEqual(first, { key, matchedBy: 'exact' });
      for (const c of rest) {
        // The only intended case: a dated snapshot with its own, different price.
        if (keys.has(c.key)) assert.equal(key, 'gpt-4o-2024-05-13', `${key} shadows ${c.key}`);
      }
    }
  });

  test('every price is USD per million tokens today, and prices are strings, not floats', () => {
    for (const [key, e] of entries) {
      assert.equal(e.currency, 'USD', key);
      assert.equal(e.unitTokens, 1_000_000, key);
      assert.equal(typeof e.input, 'string', key);
    }
  });
});
