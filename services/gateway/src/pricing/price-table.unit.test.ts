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

  test('audio rates: on Gemini 2.x Flash only, on every tier of their model, never with priority rates (which have none)', () => {
    const withAudio = entries.filter(([, e]) => e.audioInput !== undefined).map(([key]) => key);
    assert.deepEqual(withAudio.sort(), ['gemini-2.0-flash', 'gemini-2.5-flash', 'gemini-2.5-flash-lite']);
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
