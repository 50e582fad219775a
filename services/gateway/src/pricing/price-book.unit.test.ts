import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nameCandidates } from './model-match.js';
import { PriceBook, PriceBookError, type PriceLookup } from './price-book.js';
import type { OrgPriceOverrideInput } from './price-schema.js';
import { SHIPPED_PRICE_TABLE } from './price-table.js';

const book = PriceBook.shipped();

function priced(found: PriceLookup): Extract<PriceLookup, { status: 'priced' }> {
  assert.equal(found.status, 'priced', found.status === 'unpriced' ? found.detail : '');
  if (found.status !== 'priced') throw new Error('unreachable');
  return found;
}

describe('PriceBook.lookup: name matching', () => {
  const cases: Array<[requested: string, key: string, by: 'exact' | 'snapshot' | 'prefix']> = [
    ['gpt-4o', 'gpt-4o', 'exact'],
    ['GPT-4o-Mini', 'gpt-4o-mini', 'exact'],
    ['gpt-4o-2024-08-06', 'gpt-4o', 'snapshot'],
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini', 'snapshot'],
    ['o3-2025-04-16', 'o3', 'snapshot'],
    ['gpt-5-2025-08-07', 'gpt-5', 'snapshot'],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5', 'snapshot'],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4', 'snapshot'],
    ['claude-sonnet-4-0', 'claude-sonnet-4', 'exact'],
    ['claude-3-5-haiku-latest', 'claude-3-5-haiku', 'exact'],
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku', 'snapshot'],
    ['claude-opus-4-1@20250805', 'claude-opus-4-1', 'snapshot'],
    ['gemini-2.0-flash-001', 'gemini-2.0-flash', 'snapshot'],
    ['mistral-embed-2312', 'mistral-embed', 'snapshot'],
    ['openai/gpt-4o', 'gpt-4o', 'prefix'],
    ['openai-main/gpt-4.1-mini', 'gpt-4.1-mini', 'prefix'],
    ['OpenAI/gpt-4o-2024-11-20', 'gpt-4o', 'prefix'],
    ['anthropic/claude-haiku-4-5-20251001', 'claude-haiku-4-5', 'prefix'],
    ['models/gemini-2.5-pro', 'gemini-2.5-pro', 'prefix'],
    // OpenRouter spells Claude's versions with a dot.
    ['anthropic/claude-sonnet-4.5', 'claude-sonnet-4-5', 'prefix'],
    ['anthropic/claude-3.7-sonnet', 'claude-3-7-sonnet', 'prefix'],
    ['anthropic/claude-opus-4.6', 'claude-opus-4-6', 'prefix'],
    ['claude-haiku-4.5', 'claude-haiku-4-5', 'exact'],
  ];
  for (const [requested, key, by] of cases) {
    test(`${requested} -> ${key} (${by})`, () => {
      const found = priced(book.lookup(requested));
      assert.equal(found.matchedKey, key);
      assert.equal(found.matchedBy, by);
      assert.equal(found.model, requested);
    });
  }

  test('an exact entry beats the snapshot rule: gpt-4o-2024-05-13 keeps its own price', () => {
    const found = priced(book.lookup('gpt-4o-2024-05-13'));
    assert.equal(found.matchedKey, 'gpt-4o-2024-05-13');
    assert.equal(found.price.input, '5.00');
    assert.equal(found.price.cachedInput, undefined);
  });

  test('no fuzzy matching: variants with other prices stay unpriced', () => {
    for (const model of [
      'gpt-4o-mini-tts',
      // OpenAI's audio models bill audio tokens at many times their text rates: unpriced, never text-priced.
      'gpt-4o-audio-preview',
      'gpt-4o-mini-audio-preview-2024-12-17',
      'gpt-audio',
      'gpt-realtime',
      'gpt-4o-realtime-preview-2024-12-17',
      'ft:gpt-4o-mini-2024-07-18:acme::abc123',
      'mistral-large-latest',
      'gemini-2.5-flash-preview-05-20',
      'gpt-5.4-mini',
      // Gemini 3.x models the table leaves out, and a DeepSeek name it does not know.
      'gemini-3.5-flash',
      'gemini-3-pro-image-preview',
      'deepseek-coder',
      'yandexgpt',
      'GigaChat-2-Max',
      '',
    ]) {
      const found = book.lookup(model);
      assert.equal(found.status, 'unpriced', model);
      if (found.status === 'unpriced') assert.equal(found.reason, 'unknown-model');
    }
  });

  test('the candidate order is exact, snapshot, prefix', () => {
    assert.deepEqual(nameCandidates('OpenAI/GPT-4o-2024-08-06'), [
      { key: 'openai/gpt-4o-2024-08-06', matchedBy: 'exact' },
      { key: 'openai/gpt-4o', matchedBy: 'snapshot' },
      { key: 'gpt-4o-2024-08-06', matchedBy: 'prefix' },
      { key: 'gpt-4o', matchedBy: 'prefix' },
    ]);
    assert.deepEqual(nameCandidates('gpt://b1gabc/yandexgpt-lite/latest'), [
      { key: 'gpt://b1gabc/yandexgpt-lite/latest', matchedBy: 'exact' },
      { key: 'yandexgpt-lite/latest', matchedBy: 'prefix' },
      { key: 'yandexgpt-lite', matchedBy: 'prefix' },
    ]);
  });

  test('a shipped price says where it comes from', () => {
    const found = priced(book.lookup('claude-haiku-4-5'));
    assert.deepEqual(found.source, {
      kind: 'shipped',
      asOf: SHIPPED_PRICE_TABLE.asOf,
      provider: 'anthropic',
      checkedAt: SHIPPED_PRICE_TABLE.providers.anthropic?.checkedAt,
      source: SHIPPED_PRICE_TABLE.providers.anthropic?.source,
    });
    assert.equal(found.provider, 'anthropic');
    assert.equal(book.asOf, '2026-11-30');
  });

  test('prices handed out cannot be changed by a caller', () => {
    const found = priced(book.lookup('gemini-2.5-pro'));
    assert.throws(() => {
      (found.price as { input: string }).input = '0';
    }, TypeError);
    assert.equal(priced(book.lookup('gemini-2.5-pro')).price.input, '1.25');
  });
});

describe('PriceBook: org overrides', () => {
  const at = new Date('2026-12-15T12:00:00Z');
  const overrides: OrgPriceOverrideInput[] = [
    // a negotiated discount on input (and cache reads): the rest is inherited
    {
      id: 'ovr-1',
      orgId: 'acme',
      model: 'gpt-4o',
      effectiveFrom: '2026-12-01',
      input: '2.00',
      cachedInput: '1.00',
    },
    // a later one replaces it from its date on
    { id: 'ovr-2', orgId: 'acme', model: 'gpt-4o', effectiveFrom: '2027-01-01', input: '1.50' },
    // a model the table does not know, priced in RUB per 1000 tokens (test figures)
    {
      id: 'ovr-3',
      orgId: 'acme',
      model: 'yandexgpt',
      effectiveFrom: '2026-11-01T00:00:00+03:00',
      input: '0.40',
      output: '0.40',
      currency: 'RUB',
      unitTokens: 1_000,
    },
    // an incomplete override of an unknown model
    { orgId: 'acme', model: 'gigachat-2-max', effectiveFrom: '2026-01-01', input: '1.00' },
    // an override under an alias applies to the canonical model
    { orgId: 'acme', model: 'claude-sonnet-4-0', effectiveFrom: '2026-01-01', output: '12.00' },
    // another org's override
    { orgId: 'globex', model: 'gpt-4o', effectiveFrom: '2026-01-01', input: '0.01', output: '0.02' },
    // a change of currency does not inherit the shipped rates
    {
      orgId: 'initech',
      model: 'gpt-4o-mini',
      effectiveFrom: '2026-01-01',
      currency: 'EUR',
      input: '0.14',
      output: '0.55',
    },
  ];
  const withOverrides = book.withOverrides(overrides);

  test('an override beats the shipped price and inherits the fields it does not set', () => {
    const found = priced(withOverrides.lookup('gpt-4o-2024-08-06', { orgId: 'acme', at }));
    assert.equal(found.matchedKey, 'gpt-4o');
    assert.equal(found.matchedBy, 'snapshot');
    assert.deepEqual(found.price, {
      input: '2.00',
      output: '10.00',
      cachedInput: '1.00',
      currency: 'USD',
      unitTokens: 1_000_000,
      // The override prices the standard tier; priority processing keeps the table's rates,
      // and tool calls their prices.
      priority: { input: '4.25', cachedInput: '2.125', output: '17.00' },
      webSearch: '10',
      webSearchPreview: '25',
      fileSearch: '2.50',
    });
    assert.deepEqual(found.source, {
      kind: 'org-override',
      orgId: 'acme',
      overrideId: 'ovr-1',
      effectiveFrom: '2026-12-01',
      inheritedFromAsOf: SHIPPED_PRICE_TABLE.asOf,
    });
  });

  test('the override in effect is the latest one not after the request', () => {
    const before = withOverrides.lookup('gpt-4o', { orgId: 'acme', at: new Date('2026-11-30T23:59:59Z') });
    assert.equal(priced(before).source.kind, 'shipped');
    const dec = priced(
      withOverrides.lookup('gpt-4o', { orgId: 'acme', at: new Date('2026-12-01T00:00:00Z') }),
    );
    assert.equal(dec.price.input, '2.00');
    const jan = priced(
      withOverrides.lookup('gpt-4o', { orgId: 'acme', at: new Date('2027-01-02T00:00:00Z') }),
    );
    assert.equal(jan.price.input, '1.50');
    assert.equal(jan.source.kind === 'org-override' && jan.source.overrideId, 'ovr-2');
  });

  test('a name looked up again, even after thousands of made-up ones, resolves as the first time', () => {
    const first = withOverrides.lookup('openai/gpt-4o-2024-08-06', { orgId: 'acme', at });
    for (let i = 0; i < 5000; i++) withOverrides.lookup(`made-up-model-${i}`);
    assert.equal(withOverrides.lookup('made-up-model-1').status, 'unpriced');
    assert.deepEqual(withOverrides.lookup('openai/gpt-4o-2024-08-06', { orgId: 'acme', at }), first);
    const shipped = priced(withOverrides.lookup('openai/gpt-4o-2024-08-06'));
    assert.equal(shipped.source.kind, 'shipped');
    assert.equal(shipped.matchedKey, 'gpt-4o');
    assert.ok(Object.isFrozen(shipped), 'a shared answer cannot be changed by one caller');
  });

  test('overrides are per org', () => {
    assert.equal(priced(withOverrides.lookup('gpt-4o', { at })).source.kind, 'shipped');
    assert.equal(priced(withOverrides.lookup('gpt-4o', { orgId: 'umbrella', at })).source.kind, 'shipped');
    assert.equal(priced(withOverrides.lookup('gpt-4o', { orgId: 'globex', at })).price.input, '0.01');
  });

  test('an override of gpt-4o does not reprice the snapshot the table prices by its own name', () => {
    const found = priced(withOverrides.lookup('gpt-4o-2024-05-13', { orgId: 'acme', at }));
    assert.equal(found.source.kind, 'shipped');
    assert.equal(found.price.input, '5.00');
  });

  test('a model the table lacks is priced by a complete override, in its own currency and unit', () => {
    const result = withOverrides.priceRequest(
      'gpt://b1g2k730lqhu8pc02a/yandexgpt/latest',
      { inputTokens: 1_500, cachedInputTokens: 0, outputTokens: 500 },
      { orgId: 'acme', at },
    );
    assert.equal(result.status, 'priced');
    if (result.status !== 'priced') return;
    assert.equal(result.matchedKey, 'yandexgpt');
    assert.equal(result.matchedBy, 'prefix');
    assert.equal(result.provider, null);
    assert.equal(result.cost.amount, '0.8');
    assert.equal(result.cost.currency, 'RUB');
    assert.equal(result.source.kind === 'org-override' && result.source.inheritedFromAsOf, null);
  });

  test('a YandexGPT model as the adapter names it (`yandexgpt/latest`) takes the price of yandexgpt', () => {
    // The yandexgpt adapter refuses URIs: its routes name `<model>/<branch>`, never gpt://.
    const result = withOverrides.priceRequest(
      'yandexgpt/latest',
      { inputTokens: 1_500, cachedInputTokens: 0, outputTokens: 500 },
      { orgId: 'acme', at },
    );
    assert.equal(result.status, 'priced', result.status === 'unpriced' ? result.detail : '');
    if (result.status !== 'priced') return;
    assert.equal(result.matchedKey, 'yandexgpt');
    assert.equal(result.cost.amount, '0.8');
    assert.deepEqual(
      nameCandidates('yandexgpt-lite/rc').map((c) => c.key),
      ['yandexgpt-lite/rc', 'yandexgpt-lite'],
    );
  });

  test('an incomplete override of an unknown model is unpriced, with the reason', () => {
    const found = withOverrides.lookup('GigaChat-2-Max', { orgId: 'acme', at });
    assert.equal(found.status, 'unpriced');
    if (found.status !== 'unpriced') return;
    assert.equal(found.reason, 'incomplete-override');
    assert.match(found.detail, /lacks currency, output/);
  });

  test('an override under an alias prices the canonical model and its snapshots', () => {
    const found = priced(withOverrides.lookup('claude-sonnet-4-20250514', { orgId: 'acme', at }));
    assert.equal(found.price.output, '12.00');
    assert.equal(found.price.input, '3');
    // The org's output rate is the price of every prompt length: no table tier replaces it.
    assert.equal(found.price.tiers, undefined);
  });

  test("an org's input rate is the price of cache reads and writes it does not price apart", () => {
    const b = book.withOverrides([
      { orgId: 'a', model: 'gpt-4o-mini', effectiveFrom: '2026-01-01', input: '0', output: '0' },
      { orgId: 'b', model: 'claude-sonnet-4-5', effectiveFrom: '2026-01-01', input: '2' },
      // An override of the output rate alone keeps the table's input and cache rates.
      { orgId: 'c', model: 'gpt-4o-mini', effectiveFrom: '2026-01-01', output: '1' },
    ]);
    const zero = b.priceRequest(
      'gpt-4o-mini',
      { inputTokens: 1_000_000, cachedInputTokens: 1_000_000, outputTokens: 0 },
      { orgId: 'a', at },
    );
    assert.equal(zero.status === 'priced' && zero.cost.amount, '0');
    const claude = priced(b.lookup('claude-sonnet-4-5', { orgId: 'b', at }));
    assert.equal(claude.price.cachedInput, undefined);
    assert.equal(claude.price.cacheWrite, undefined);
    assert.equal(claude.price.cacheWrite1h, undefined);
    const outputOnly = priced(b.lookup('gpt-4o-mini', { orgId: 'c', at }));
    assert.equal(outputOnly.price.cachedInput, SHIPPED_PRICE_TABLE.models['gpt-4o-mini']?.cachedInput);
  });

  test("an org's own cache-write rates price its Claude cache writes", () => {
    const b = book.withOverrides([
      {
        orgId: 'a',
        model: 'claude-sonnet-4-5',
        effectiveFrom: '2026-01-01',
        input: '2',
        cacheWrite: '2.5',
        cacheWrite1h: '4',
        output: '10',
      },
    ]);
    // 1M uncached input at 2, 1M 5-minute writes at 2.5, 1M 1-hour writes at 4: 8.5.
    const written = b.priceRequest(
      'claude-sonnet-4-5',
      {
        inputTokens: 3_000_000,
        cachedInputTokens: 0,
        cacheWriteTokens: 1_000_000,
        cacheWrite1hTokens: 1_000_000,
        outputTokens: 0,
      },
      { orgId: 'a', at },
    );
    assert.equal(written.status === 'priced' && written.cost.amount, '8.5');
  });

  test("an org's own rates are not replaced by the table's long-context tier on a long prompt", () => {
    const b = book.withOverrides([
      { orgId: 'a', model: 'gpt-5.4', effectiveFrom: '2026-01-01', input: '10', output: '60' },
      // An override of the cache-read rate alone keeps the table's input, output and tiers.
      { orgId: 'b', model: 'gpt-5.4', effectiveFrom: '2026-01-01', cachedInput: '0.1' },
    ]);
    const usage = { inputTokens: 300_000, cachedInputTokens: 0, outputTokens: 1_000 };
    const a = b.priceRequest('gpt-5.4', usage, { orgId: 'a', at });
    // 300,000 x $10/1M + 1,000 x $60/1M, not the table's >272K $5 / $22.50.
    assert.equal(a.status === 'priced' && a.cost.amount, '3.06');
    const bb = b.priceRequest('gpt-5.4', usage, { orgId: 'b', at });
    assert.equal(bb.status === 'priced' && bb.cost.amount, '1.5225');
  });

  test('changing the currency inherits nothing from the table', () => {
    const found = priced(withOverrides.lookup('gpt-4o-mini', { orgId: 'initech', at }));
    assert.deepEqual(found.price, { input: '0.14', output: '0.55', currency: 'EUR', unitTokens: 1_000_000 });
  });

  test('tiers: [] removes the shipped tiers; given tiers replace them', () => {
    const b = book.withOverrides([
      { orgId: 'a', model: 'gemini-2.5-pro', effectiveFrom: '2026-01-01', tiers: [] },
      {
        orgId: 'b',
        model: 'gemini-2.5-pro',
        effectiveFrom: '2026-01-01',
        tiers: [{ aboveInputTokens: 100_000, input: '2', output: '12' }],
      },
    ]);
    const usage = { inputTokens: 150_000, cachedInputTokens: 0, outputTokens: 0 };
    const a = b.priceRequest('gemini-2.5-pro', usage, { orgId: 'a', at });
    const bb = b.priceRequest('gemini-2.5-pro', usage, { orgId: 'b', at });
    assert.equal(a.status === 'priced' && a.cost.amount, '0.1875');
    assert.equal(bb.status === 'priced' && bb.cost.amount, '0.3');
  });

  test('invalid overrides are refused with every problem listed', () => {
    assert.throws(
      () =>
        book.withOverrides([
          { orgId: 'acme', model: 'gpt-4o', effectiveFrom: '2026-01-01', input: '1e-3' },
          { orgId: 'acme', model: 'gpt-4o', effectiveFrom: '2026-01-01', output: '-1' },
          { orgId: 'acme', model: 'gpt-4o', effectiveFrom: 'next tuesday', input: '1' },
          { orgId: 'acme', model: 'gpt-4o', effectiveFrom: '2026-01-01' },
          { orgId: 'acme', model: 'gpt-4o', effectiveFrom: '2026-01-01', currency: 'usd', input: '1' },
          { orgId: 'acme', model: 'has space', effectiveFrom: '2026-01-01', input: '1' },
        ]),
      (error: unknown) => {
        assert.ok(error instanceof PriceBookError);
        assert.equal(error.issues.length, 6, error.issues.join('\n'));
        return true;
      },
    );
  });

  test('two overrides of one model by one org from the same moment are refused', () => {
    assert.throws(
      () =>
        book.withOverrides([
          { orgId: 'acme', model: 'gpt-4o', effectiveFrom: '2026-01-01', input: '1' },
          { orgId: 'acme', model: 'GPT-4o', effectiveFrom: '2026-01-01T00:00:00Z', input: '2' },
        ]),
      PriceBookError,
    );
  });

  test('priceRequest of an unknown model is a typed result, not an exception and not zero', () => {
    const result = withOverrides.priceRequest('some-new-model', {
      inputTokens: 10,
      cachedInputTokens: 0,
      outputTokens: 10,
    });
    assert.deepEqual(result, {
      status: 'unpriced',
      model: 'some-new-model',
      reason: 'unknown-model',
      detail: 'no price for some-new-model in the table of 2026-11-30',
    });
  });
});

describe('PriceBook.priceRequest: the service tier that billed the tokens', () => {
  const usage = { inputTokens: 1_000_000, outputTokens: 1_000_000, cachedInputTokens: 200_000 };
  const cost = (model: string, serviceTier?: 'priority' | 'flex', inputTokens = usage.inputTokens) => {
    const found = book.priceRequest(model, { ...usage, inputTokens, ...(serviceTier && { serviceTier }) });
    return found.status === 'priced' ? found.cost.amount : `unpriced: ${found.reason}`;
  };

  test('priority at its published rates, flex at half of every rate, standard unchanged', () => {
    // gpt-4.1: 0.8M uncached at 2.00, 0.2M cached at 0.50, 1M out at 8.00 (priority 3.50 / 0.875 / 14.00).
    assert.equal(cost('gpt-4.1'), '9.7');
    assert.equal(cost('gpt-4.1', 'priority'), '16.975');
    assert.equal(cost('gpt-4.1', 'flex'), '4.85');
    // A snapshot name finds its model's priority rates too.
    assert.equal(cost('gpt-4.1-2025-04-14', 'priority'), '16.975');
  });

  test("Claude's US-only inference: every token rate 1.1x, long-context ones too; web searches as listed", () => {
    const geo = (model: string, inputTokens: number, extra: object = {}) => {
      const found = book.priceRequest(model, { ...usage, inputTokens, inferenceGeo: 'us', ...extra });
      return found.status === 'priced' ? found.cost.amount : found.reason;
    };
    // claude-opus-4-6: 0.8M at 5, 0.2M cached at 0.50, 1M out at 25 = 29.1; in the US 32.01.
    assert.equal(cost('claude-opus-4-6'), '29.1');
    assert.equal(geo('claude-opus-4-6', 1_000_000), '32.01');
    // Sonnet 4.5 past 200K: the long-context rates (6 / 0.60 / 22.50) make 23.22, 1.1x.
    assert.equal(geo('claude-sonnet-4-5', 300_000), '25.542');
    // Ten searches at 10 USD per 1,000 stay 0.1.
    assert.equal(geo('claude-opus-4-6', 1_000_000, { webSearches: 10 }), '32.11');
  });

  test("Claude's fast mode: its model's multiple of every rate, US-only inference stacking on it", () => {
    const at = (model: string, extra: object) => {
      const found = book.priceRequest(model, { ...usage, ...extra });
      return found.status === 'priced' ? found.cost.amount : found.reason;
    };
    // claude-opus-5 (the same rates as 4.6): 29.1 standard, 2x fast, and 1.1x of that in the US.
    assert.equal(at('claude-opus-5', { speed: 'fast' }), '58.2');
    assert.equal(at('claude-opus-5', { speed: 'fast', inferenceGeo: 'us' }), '64.02');
    assert.equal(at('claude-opus-4-6', { speed: 'fast' }), '174.6');
    // A model without a fast-mode price: unpriced, never the standard price.
    assert.equal(at('claude-sonnet-4-5', { speed: 'fast' }), 'service-tier');
  });

  test('no priority rates, or a prompt past the long-context threshold: unpriced, never the standard price', () => {
    assert.equal(cost('gpt-5-nano', 'priority'), 'unpriced: service-tier');
    assert.equal(cost('claude-sonnet-4-5', 'priority'), 'unpriced: service-tier');
    assert.equal(cost('gpt-5.4', 'priority', 200_000), '30.1');
    assert.equal(cost('gpt-5.4', 'priority', 300_000), 'unpriced: service-tier');
    // Flex halves the long-context rates as well: 0.1M at 5.00, 0.2M at 0.50, 1M at 22.50, halved.
    assert.equal(cost('gpt-5.4', 'flex', 300_000), '11.55');
  });
});

describe('PriceBook.priceRequest: tool calls billed apiece', () => {
  const usage = { inputTokens: 1_000, outputTokens: 100, cachedInputTokens: 0 };
  const at = (model: string, extra: object, options = {}) => {
    const found = book.priceRequest(model, { ...usage, ...extra }, options);
    return found.status === 'priced' ? found.cost.amount : `unpriced: ${found.reason}`;
  };

  test("OpenAI's searches at the table's prices, at any tier and under an org's token prices", () => {
    // gpt-4.1: 1000 x 2.00 + 100 x 8.00 = 0.0028; 2 web searches 0.02, 1 file search 0.0025.
    assert.equal(at('gpt-4.1', {}), '0.0028');
    assert.equal(at('gpt-4.1', { webSearches: 2, fileSearches: 1 }), '0.0253');
    // web_search_preview on a non-reasoning model: 25 a thousand.
    assert.equal(at('gpt-4.1', { webSearches: 2, webSearchPreviews: 2 }), '0.0528');
    // Priority processing bills tokens at its rates (0.0049), the calls as listed.
    assert.equal(at('gpt-4.1', { webSearches: 2, serviceTier: 'priority' }), '0.0249');
    const overridden = book.withOverrides([
      { orgId: 'acme', model: 'gpt-4.1', effectiveFrom: '2026-01-01', input: '1.00' },
    ]);
    const found = overridden.priceRequest('gpt-4.1', { ...usage, fileSearches: 2 }, { orgId: 'acme' });
    assert.equal(found.status === 'priced' && found.cost.amount, '0.0068');
  });

  test('searches a model has no price for are unpriced, never free', () => {
    assert.equal(at('gemini-2.5-flash', { webSearches: 1 }), 'unpriced: tool-fee');
    assert.equal(at('claude-sonnet-4-5', { fileSearches: 1 }), 'unpriced: tool-fee');
    // An org's own model: its prices are for tokens.
    const own = book.withOverrides([
      {
        orgId: 'acme',
        model: 'gpt-oss-120b',
        effectiveFrom: '2026-01-01',
        input: '0',
        output: '0',
        currency: 'USD',
      },
    ]);
    const found = own.priceRequest('gpt-oss-120b', { ...usage, webSearches: 1 }, { orgId: 'acme' });
    assert.equal(found.status === 'unpriced' && found.reason, 'tool-fee');
    assert.equal(own.priceRequest('gpt-oss-120b', usage, { orgId: 'acme' }).status, 'priced');
  });
});

describe('PriceBook.priceRequest: a provider that does not bill cache reads', () => {
  const own = book.withOverrides([
    // GigaChat's models are priced by the org (test figures, RUB per 1M tokens).
    {
      orgId: 'acme',
      model: 'GigaChat',
      effectiveFrom: '2026-01-01',
      input: '1000',
      output: '2000',
      currency: 'RUB',
    },
    {
      orgId: 'acme',
      model: 'GigaChat-Pro',
      effectiveFrom: '2026-01-01',
      input: '1000',
      cachedInput: '100',
      output: '2000',
      currency: 'RUB',
    },
  ]);
  const usage = { inputTokens: 59, cachedInputTokens: 4, outputTokens: 30 };
  const cost = (model: string, cacheReadsUnbilled?: boolean) => {
    const found = own.priceRequest(model, usage, { orgId: 'acme', cacheReadsUnbilled });
    return found.status === 'priced' ? found.cost.amount : `unpriced: ${found.reason}`;
  };

  test('cache reads cost nothing where the price names no cachedInput', () => {
    // 55 x 1000 + 30 x 2000 per 1M = 0.115; elsewhere the 4 cache reads go at the input rate.
    assert.equal(cost('GigaChat', true), '0.115');
    assert.equal(cost('GigaChat'), '0.119');
    assert.equal(cost('GigaChat', true), '0.115', 'the price itself is left as it was');
  });

  test("a price's own cachedInput is still what it says", () => {
    // 55 x 1000 + 4 x 100 + 30 x 2000 per 1M = 0.1154.
    assert.equal(cost('GigaChat-Pro', true), '0.1154');
    assert.equal(cost('GigaChat-Pro'), '0.1154');
  });

  test('nor under a long-context tier that names no cachedInput', () => {
    const tiered = book.withOverrides([
      {
        orgId: 'acme',
        model: 'GigaChat',
        effectiveFrom: '2026-01-01',
        input: '1000',
        output: '2000',
        currency: 'RUB',
        tiers: [{ aboveInputTokens: 100, input: '3000', output: '4000' }],
      },
    ]);
    const long = { inputTokens: 159, cachedInputTokens: 4, outputTokens: 30 };
    const found = tiered.priceRequest('GigaChat', long, { orgId: 'acme', cacheReadsUnbilled: true });
    assert.equal(found.status, 'priced');
    // 155 x 3000 + 30 x 4000 per 1M = 0.585: the 4 cache reads are not billed at the tier either.
    if (found.status === 'priced') {
      assert.equal(found.cost.tierAboveInputTokens, 100);
      assert.equal(found.cost.amount, '0.585');
    }
  });
});

describe('PriceBook.listProblems: an org price list checked before it is stored', () => {
  const from = '2026-01-01';
  test('a list whose every entry prices its model has none', () => {
    assert.deepEqual(
      PriceBook.listProblems([
        { model: 'gpt-4o-mini', effectiveFrom: from, input: '0.1' },
        { model: 'my-vllm-model', effectiveFrom: from, input: '0.5', output: '1', currency: 'USD' },
        {
          model: 'yandexgpt-lite',
          effectiveFrom: from,
          input: '0.2',
          output: '0.2',
          currency: 'RUB',
          unitTokens: 1000,
        },
      ]),
      [],
    );
  });

  test('a model the table lacks, or a new currency, needs every price; each problem names its entry', () => {
    const problems = PriceBook.listProblems([
      { model: 'gpt-4o-mini', effectiveFrom: from, output: '0.5' },
      { model: 'my-vllm-model', effectiveFrom: from, input: '0.5', output: '1' },
      { model: 'gpt-4o', effectiveFrom: from, input: '200', currency: 'RUB' },
    ]);
    assert.deepEqual(
      problems.map((p) => p.index),
      [1, 2],
    );
    assert.match(problems[0]!.message, /no my-vllm-model .*: give currency \(USD/);
    assert.match(problems[1]!.message, /another currency .*: give output$/);
  });

  test('entries the book refuses outright are named by their index', () => {
    const problems = PriceBook.listProblems([
      { model: 'gpt-4o', effectiveFrom: from, input: '1' },
      { model: 'gpt-4o', effectiveFrom: from, input: '2' },
      { model: 'gpt-4o-mini', effectiveFrom: 'soon', input: '1' },
    ]);
    assert.deepEqual(
      problems.map((p) => p.index),
      [1, 2],
      JSON.stringify(problems),
    );
    assert.match(problems[0]!.message, /already overrides gpt-4o from 2026-01-01/);
  });
});

describe('PriceBook: a custom table is validated', () => {
  test('a table with a float price or an unknown provider is refused', () => {
    const table = {
      asOf: '2026-11-30',
      providers: { openai: { source: 'x', checkedAt: '2026-11-30' } },
      models: {
        a: { provider: 'openai', input: 0.15, output: '1', currency: 'USD', unitTokens: 1_000_000 },
        b: { provider: 'nobody', input: '1', output: '1', currency: 'USD', unitTokens: 1_000_000 },
      },
    };
    assert.throws(() => new PriceBook({ table }), PriceBookError);
    const fixed = { ...table, models: { ...table.models, a: { ...table.models.a, input: '0.15' } } };
    assert.throws(
      () => new PriceBook({ table: fixed }),
      (e: unknown) => e instanceof PriceBookError && e.issues.some((i) => i.includes('provider nobody')),
    );
  });
});

describe("Claude's cache writes through the usage the gateway records", () => {
  test('cost their surcharge: 1.25x the input price for 5-minute writes, 2x for 1-hour ones', async () => {
    const { usageFromAnthropic } = await import('../translate/usage.js');
    // claude-sonnet-4-5: input 3, 5-minute writes 3.75, 1-hour writes 6, reads 0.30, output 15 (USD per million).
    const usage = usageFromAnthropic({
      input_tokens: 10_000,
      cache_creation_input_tokens: 30_000,
      cache_creation: { ephemeral_5m_input_tokens: 10_000, ephemeral_1h_input_tokens: 20_000 },
      cache_read_input_tokens: 10_000,
      output_tokens: 10_000,
    });
    const result = priced(book.lookup('claude-sonnet-4-5'));
    const cost = book.priceRequest('claude-sonnet-4-5', usage!);
    assert.equal(cost.status, 'priced');
    if (cost.status !== 'priced') return;
    assert.equal(result.price.currency, 'USD');
    // (3 + 3.75 + 2 x 6 + 0.30 + 15) / 100, under the 200K long-context tier: every write at
    // its own rate, none at the plain input price.
    assert.equal(cost.cost.amount, '0.3405');
    // Without the split (older answers), every write is a 5-minute one.
    const unsplit = book.priceRequest(
      'claude-sonnet-4-5',
      usageFromAnthropic({ input_tokens: 0, cache_creation_input_tokens: 100_000, output_tokens: 0 })!,
    );
    assert.equal(unsplit.status === 'priced' && unsplit.cost.amount, '0.375');
  });
});

describe("Gemini's audio input through the usage the gateway records", () => {
  /*
   * Google's Gemini Developer API pricing (ai.google.dev/gemini-api/docs/pricing, paid tier,
   * standard) bills AUDIO input above text, image and video, per 1M tokens:
   *   gemini-2.5-flash       text $0.30, audio $1.00 (cached $0.03 / $0.10)
   *   gemini-2.5-flash-lite  text $0.10, audio $0.30 (cached $0.01 / $0.03)
   *   gemini-2.0-flash       text $0.10, audio $0.70 (cached $0.025 / $0.175)
   * and its usageMetadata splits the prompt by modality (promptTokensDetails). An OpenAI
   * caller's input_audio part reaches Gemini as inlineData, so such prompts are real.
   */
  const priceGemini = async (model: string, usageMetadata: unknown, options = {}) => {
    const { geminiUsageMetadata } = await import('../translate/gemini-types.js');
    const { usageFromGemini } = await import('../translate/usage.js');
    const usage = usageFromGemini(geminiUsageMetadata.parse(usageMetadata));
    assert.ok(usage);
    const found = book.priceRequest(model, usage, options);
    assert.equal(found.status, 'priced');
    return found.status === 'priced' ? found.cost.amount : '';
  };
  const audioPrompt = (audio: number, text = 0) => ({
    promptTokenCount: audio + text,
    candidatesTokenCount: 0,
    totalTokenCount: audio + text,
    promptTokensDetails: [
      ...(text > 0 ? [{ modality: 'TEXT', tokenCount: text }] : []),
      { modality: 'AUDIO', tokenCount: audio },
    ],
  });

  test('gemini-2.5-flash: 1,000,000 audio prompt tokens cost $1.00, not the text rate $0.30', async () => {
    assert.equal(await priceGemini('gemini-2.5-flash', audioPrompt(1_000_000)), '1');
  });

  test('gemini-2.0-flash (a snapshot name): 1,000,000 audio prompt tokens cost $0.70, not $0.10', async () => {
    assert.equal(await priceGemini('gemini-2.0-flash-001', audioPrompt(1_000_000)), '0.7');
  });

  test('gemini-2.5-flash-lite: 200,000 audio + 800,000 text tokens cost 0.2 x 0.30 + 0.8 x 0.10 = $0.14', async () => {
    assert.equal(await priceGemini('gemini-2.5-flash-lite', audioPrompt(200_000, 800_000)), '0.14');
  });

  test('cached audio at the cached audio rate: 2.5 Flash, 400,000 of 1,000,000 audio tokens from the cache', async () => {
    const usageMetadata = {
      ...audioPrompt(1_000_000),
      cachedContentTokenCount: 400_000,
      cacheTokensDetails: [{ modality: 'AUDIO', tokenCount: 400_000 }],
    };
    // 0.6 x 1.00 + 0.4 x 0.10
    assert.equal(await priceGemini('gemini-2.5-flash', usageMetadata), '0.64');
  });

  test("scaled rates (flex, say) scale the audio rates too; an org's override keeps the table's audio rates", async () => {
    const { usageFromGemini } = await import('../translate/usage.js');
    const usage = usageFromGemini(audioPrompt(1_000_000))!;
    const flex = book.priceRequest('gemini-2.5-flash', { ...usage, serviceTier: 'flex' });
    assert.equal(flex.status === 'priced' && flex.cost.amount, '0.5');
    const overridden = book
      .withOverrides([
        { orgId: 'acme', model: 'gemini-2.5-flash', effectiveFrom: '2026-01-01', input: '0.25' },
      ])
      .priceRequest('gemini-2.5-flash', usageFromGemini(audioPrompt(500_000, 500_000))!, { orgId: 'acme' });
    // 0.5 x 0.25 (the org's text rate) + 0.5 x 1.00 (the table's audio rate)
    assert.equal(overridden.status === 'priced' && overridden.cost.amount, '0.625');
  });
});
