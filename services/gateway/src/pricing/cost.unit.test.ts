import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '@kordon/mock-providers';
import { Decimal } from 'decimal.js';
import {
  addAmounts,
  amountOfNumber,
  COST_SCALE,
  compareAmounts,
  computeCost,
  computeCostWithBigints,
  InvalidUsageError,
  type TokenUsage,
} from './cost.js';
import { PriceBook } from './price-book.js';
import type { ModelPrice } from './price-schema.js';
import { SHIPPED_PRICE_TABLE } from './price-table.js';

const book = PriceBook.shipped();

function priceOf(model: string): ModelPrice {
  const found = book.lookup(model);
  assert.equal(found.status, 'priced', `${model} should be priced`);
  if (found.status !== 'priced') throw new Error('unreachable');
  return found.price;
}

const zero: TokenUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

describe('computeCost: hand-computed examples', () => {
  test('gpt-4o-mini: 1,234 input of which 1,000 cached, 567 output', () => {
    // 234 x 0.15/1M = 0.0000351; 1000 x 0.075/1M = 0.000075; 567 x 0.60/1M = 0.0003402
    const cost = computeCost(priceOf('gpt-4o-mini'), {
      inputTokens: 1234,
      cachedInputTokens: 1000,
      outputTokens: 567,
    });
    assert.deepEqual(cost, {
      amount: '0.0004503',
      currency: 'USD',
      breakdown: {
        input: '0.0000351',
        cachedInput: '0.000075',
        cacheWrite: '0',
        output: '0.0003402',
        webSearch: '0',
        fileSearch: '0',
      },
      tierAboveInputTokens: null,
    });
  });

  test('claude-sonnet-4-5: uncached, cache reads, 5m and 1h writes, output with reasoning', () => {
    // prompt 10,000 = 2,000 uncached + 5,000 read + 2,000 5m write + 1,000 1h write
    // 2000 x 3 = 0.006; 5000 x 0.30 = 0.0015; 2000 x 3.75 = 0.0075; 1000 x 6 = 0.006; 500 x 15 = 0.0075
    const cost = computeCost(priceOf('claude-sonnet-4-5-20250929'), {
      inputTokens: 10_000,
      cachedInputTokens: 5_000,
      cacheWriteTokens: 2_000,
      cacheWrite1hTokens: 1_000,
      outputTokens: 500,
      reasoningTokens: 300,
    });
    assert.equal(cost.amount, '0.0285');
    assert.deepEqual(cost.breakdown, {
      input: '0.006',
      cachedInput: '0.0015',
      cacheWrite: '0.0135',
      output: '0.0075',
      webSearch: '0',
      fileSearch: '0',
    });
  });

  test("Claude's web searches: 10 USD a thousand, on top of the tokens", () => {
    const cost = computeCost(priceOf('claude-sonnet-4-5-20250929'), {
      inputTokens: 1_000,
      cachedInputTokens: 0,
      outputTokens: 100,
      webSearches: 3,
    });
    // 1000 x 3 = 0.003; 100 x 15 = 0.0015; 3 x 10 / 1000 = 0.03
    assert.equal(cost.amount, '0.0345');
    assert.equal(cost.breakdown.webSearch, '0.03');
    assert.equal(
      computeCostWithBigints(priceOf('claude-sonnet-4-5'), {
        inputTokens: 1_000,
        cachedInputTokens: 0,
        outputTokens: 100,
        webSearches: 3,
      }).amount,
      '0.0345',
    );
    // A price without a search rate charges none for them (the price book calls that unpriced).
    assert.equal(
      computeCost(priceOf('gemini-2.5-flash'), {
        inputTokens: 0,
        cachedInputTokens: 0,
        outputTokens: 0,
        webSearches: 3,
      }).amount,
      '0',
    );
  });

  test("OpenAI's built-in tools: web_search 10 USD a thousand calls, web_search_preview 25 on non-reasoning models, file_search 2.50", () => {
    // 1000 x 0.15 = 0.00015; 100 x 0.60 = 0.00006; searches 2 x 10 + 1 x 25 = 0.045; files 4 x 2.50 = 0.01
    const usage: TokenUsage = {
      inputTokens: 1_000,
      cachedInputTokens: 0,
      outputTokens: 100,
      webSearches: 3,
      webSearchPreviews: 1,
      fileSearches: 4,
    };
    const cost = computeCost(priceOf('gpt-4o-mini'), usage);
    assert.equal(cost.amount, '0.05521');
    assert.equal(cost.breakdown.webSearch, '0.045');
    assert.equal(cost.breakdown.fileSearch, '0.01');
    assert.deepEqual(computeCostWithBigints(priceOf('gpt-4o-mini'), usage), cost);
    // A reasoning model's preview searches cost what its web searches do: 3 x 10 = 0.03.
    assert.equal(
      computeCost(priceOf('o4-mini'), { ...usage, inputTokens: 0, outputTokens: 0 }).breakdown.webSearch,
      '0.03',
    );
    assert.throws(
      () => computeCost(priceOf('gpt-4o-mini'), { ...usage, webSearchPreviews: 4 }),
      /webSearchPreviews \(4\) are part of webSearches \(3\)/,
    );
  });

  test('gemini-2.5-flash: audio at the audio rates, the rest of the prompt at the text rates', () => {
    // prompt 10,000 = 2,000 text + 4,000 audio uncached, 1,000 text + 3,000 audio cached
    // 2000 x 0.30 + 4000 x 1.00 = 0.0046; 1000 x 0.03 + 3000 x 0.10 = 0.00033; 500 x 2.50 = 0.00125
    const usage: TokenUsage = {
      inputTokens: 10_000,
      cachedInputTokens: 4_000,
      audioInputTokens: 7_000,
      cachedAudioInputTokens: 3_000,
      outputTokens: 500,
    };
    const cost = computeCost(priceOf('gemini-2.5-flash'), usage);
    assert.equal(cost.amount, '0.00618');
    assert.deepEqual(cost.breakdown, {
      input: '0.0046',
      cachedInput: '0.00033',
      cacheWrite: '0',
      output: '0.00125',
      webSearch: '0',
      fileSearch: '0',
    });
    assert.deepEqual(computeCostWithBigints(priceOf('gemini-2.5-flash'), usage), cost);
  });

  test('a model without audio rates bills audio as text; an audio rate without a cached one, cached audio at it', () => {
    const usage: TokenUsage = {
      inputTokens: 1_000,
      cachedInputTokens: 400,
      audioInputTokens: 600,
      cachedAudioInputTokens: 200,
      outputTokens: 0,
    };
    const text = { inputTokens: 1_000, cachedInputTokens: 400, outputTokens: 0 };
    const pro = priceOf('gemini-2.5-pro');
    assert.equal(computeCost(pro, usage).amount, computeCost(pro, text).amount);
    const audioOnly: ModelPrice = {
      input: '1',
      cachedInput: '0.1',
      audioInput: '3',
      output: '0',
      currency: 'USD',
      unitTokens: 1_000_000,
    };
    // 200 text x 1 + 400 audio x 3 = 0.0014; 200 cached text x 0.1 + 200 cached audio x 3 = 0.00062
    assert.equal(computeCost(audioOnly, usage).amount, '0.00202');
  });

  test('reasoning tokens are part of output: they do not change the cost', () => {
    const price = priceOf('o4-mini');
    const a = computeCost(price, { inputTokens: 100, cachedInputTokens: 0, outputTokens: 1000 });
    const b = computeCost(price, {
      inputTokens: 100,
      cachedInputTokens: 0,
      outputTokens: 1000,
      reasoningTokens: 900,
    });
    assert.equal(a.amount, b.amount);
    assert.equal(a.amount, '0.00451'); // 100 x 1.10 + 1000 x 4.40 per 1M
  });

  test('gemini-2.5-pro tiers: the whole request moves to the long-context rates above 200K prompt tokens', () => {
    const price = priceOf('gemini-2.5-pro');
    const atLimit = computeCost(price, { inputTokens: 200_000, cachedInputTokens: 0, outputTokens: 1_000 });
    // 200000 x 1.25 + 1000 x 10 per 1M
    assert.equal(atLimit.amount, '0.26');
    assert.equal(atLimit.tierAboveInputTokens, null);

    const above = computeCost(price, {
      inputTokens: 250_000,
      cachedInputTokens: 50_000,
      outputTokens: 1_000,
    });
    // 200000 x 2.50 = 0.5; 50000 x 0.25 = 0.0125; 1000 x 15 = 0.015
    assert.equal(above.amount, '0.5275');
    assert.equal(above.tierAboveInputTokens, 200_000);
  });

  test('cached tokens count toward the tier threshold (the prompt is the whole input)', () => {
    const cost = computeCost(priceOf('claude-sonnet-4'), {
      inputTokens: 200_001,
      cachedInputTokens: 200_000,
      outputTokens: 0,
    });
    // 1 x 6 + 200000 x 0.60 per 1M
    assert.equal(cost.amount, '0.120006');
    assert.equal(cost.tierAboveInputTokens, 200_000);
  });

  test('gpt-5.4 long-context rule above 272K input tokens', () => {
    const price = priceOf('gpt-5.4-2026-03-05');
    assert.equal(
      computeCost(price, { inputTokens: 272_000, cachedInputTokens: 0, outputTokens: 0 }).amount,
      '0.68',
    );
    assert.equal(
      computeCost(price, { inputTokens: 272_001, cachedInputTokens: 0, outputTokens: 0 }).amount,
      '1.360005',
    );
  });

  test('gpt-5.5 long-context rule above 272K input tokens, cached input included', () => {
    const price = priceOf('gpt-5.5');
    const usage = (inputTokens: number) => ({
      inputTokens,
      cachedInputTokens: 100_000,
      outputTokens: 10_000,
    });
    // 172,000 x 5 + 100,000 x 0.50 + 10,000 x 30, per million
    assert.equal(computeCost(price, usage(272_000)).amount, '1.21');
    // 172,001 x 10 + 100,000 x 1 + 10,000 x 45, per million
    assert.equal(computeCost(price, usage(272_001)).amount, '2.27001');
  });

  test('a price in RUB per 1000 tokens keeps its currency', () => {
    const rub: ModelPrice = { input: '0.40', output: '0.80', currency: 'RUB', unitTokens: 1_000 };
    const cost = computeCost(rub, { inputTokens: 1_500, cachedInputTokens: 0, outputTokens: 500 });
    assert.equal(cost.amount, '1'); // 1.5 x 0.40 + 0.5 x 0.80
    assert.equal(cost.currency, 'RUB');
  });

  test('a missing cached rate charges cached tokens at the input rate', () => {
    const cost = computeCost(priceOf('mistral-small-2506'), {
      inputTokens: 1_000,
      cachedInputTokens: 600,
      outputTokens: 0,
    });
    assert.equal(cost.amount, '0.0001');
    assert.deepEqual(cost.breakdown, {
      input: '0.00004',
      cachedInput: '0.00006',
      cacheWrite: '0',
      output: '0',
      webSearch: '0',
      fileSearch: '0',
    });
  });

  test('amounts are rounded half-up at 10 decimals, per part, and the parts add up to the total', () => {
    const fine: ModelPrice = {
      input: '0.0000000003',
      output: '0.0000000001',
      currency: 'USD',
      unitTokens: 1_000_000,
    };
    // 1 token x 3e-10 / 1e6 = 3e-16 -> 0; 500000 x 1e-10 / 1e6 = 5e-11 -> 1e-10 (half up)
    assert.equal(computeCost(fine, { inputTokens: 1, cachedInputTokens: 0, outputTokens: 0 }).amount, '0');
    const cost = computeCost(fine, { inputTokens: 0, cachedInputTokens: 0, outputTokens: 500_000 });
    assert.equal(cost.amount, '0.0000000001');
    const big = computeCost(priceOf('claude-opus-4-1'), {
      inputTokens: 9_007_199,
      cachedInputTokens: 1_234_567,
      cacheWriteTokens: 7_654,
      outputTokens: 3_333_333,
    });
    const b = big.breakdown;
    assert.equal(addAmounts([b.input, b.cachedInput, b.cacheWrite, b.output]), big.amount);
    assert.match(big.amount, /^(0|[1-9]\d*)(\.\d{1,10})?$/);
  });

  test('zero usage costs exactly "0" for every shipped model', () => {
    for (const model of book.shippedModels()) {
      const cost = computeCost(priceOf(model), zero);
      assert.equal(cost.amount, '0', model);
      assert.deepEqual(
        cost.breakdown,
        { input: '0', cachedInput: '0', cacheWrite: '0', output: '0', webSearch: '0', fileSearch: '0' },
        model,
      );
    }
  });
});

describe('computeCost: impossible usage is refused, not guessed', () => {
  const price = { input: '1', output: '1', currency: 'USD', unitTokens: 1_000_000 } satisfies ModelPrice;
  const cases: Array<[string, TokenUsage]> = [
    ['cached above input', { inputTokens: 10, cachedInputTokens: 11, outputTokens: 0 }],
    [
      'a fraction of a web search',
      { inputTokens: 10, cachedInputTokens: 0, outputTokens: 0, webSearches: 0.5 },
    ],
    [
      'reads + writes above input',
      { inputTokens: 10, cachedInputTokens: 6, cacheWriteTokens: 5, outputTokens: 0 },
    ],
    ['reasoning above output', { inputTokens: 0, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 2 }],
    [
      'cached audio above the cache reads',
      {
        inputTokens: 10,
        cachedInputTokens: 2,
        audioInputTokens: 5,
        cachedAudioInputTokens: 3,
        outputTokens: 0,
      },
    ],
    [
      'cached audio above the audio',
      {
        inputTokens: 10,
        cachedInputTokens: 5,
        audioInputTokens: 2,
        cachedAudioInputTokens: 3,
        outputTokens: 0,
      },
    ],
    [
      'uncached audio above the uncached prompt',
      { inputTokens: 10, cachedInputTokens: 6, audioInputTokens: 5, outputTokens: 0 },
    ],
    ['fractional audio', { inputTokens: 10, cachedInputTokens: 0, audioInputTokens: 0.5, outputTokens: 0 }],
    ['negative', { inputTokens: -1, cachedInputTokens: 0, outputTokens: 0 }],
    ['fractional', { inputTokens: 1.5, cachedInputTokens: 0, outputTokens: 0 }],
    ['NaN', { inputTokens: Number.NaN, cachedInputTokens: 0, outputTokens: 0 }],
  ];
  for (const [name, usage] of cases) {
    test(name, () => assert.throws(() => computeCost(price, usage), InvalidUsageError));
  }
});

describe('computeCost: monotonicity (property loop over every shipped model)', () => {
  const random = seededRandom(20261130);
  const int = (max: number) => Math.floor(random() * (max + 1));
  // Large enough to cross every tier threshold (200K, 272K).
  const randomUsage = (): Required<Omit<TokenUsage, 'serviceTier' | 'inferenceGeo' | 'speed'>> => {
    const inputTokens = int(600_000);
    const cachedInputTokens = int(inputTokens);
    const cacheWriteTokens = int(inputTokens - cachedInputTokens);
    const cacheWrite1hTokens = int(inputTokens - cachedInputTokens - cacheWriteTokens);
    const cachedAudioInputTokens = int(cachedInputTokens);
    const uncached = inputTokens - cachedInputTokens - cacheWriteTokens - cacheWrite1hTokens;
    const audioInputTokens = cachedAudioInputTokens + int(uncached);
    const outputTokens = int(100_000);
    const webSearches = int(20);
    return {
      inputTokens,
      cachedInputTokens,
      cacheWriteTokens,
      cacheWrite1hTokens,
      audioInputTokens,
      cachedAudioInputTokens,
      outputTokens,
      reasoningTokens: int(outputTokens),
      webSearches,
      webSearchPreviews: int(webSearches),
      fileSearches: int(20),
    };
  };
  const ROUNDS = 150;

  test('more input or more output never costs less; more reasoning costs the same', () => {
    for (const model of book.shippedModels()) {
      const price = priceOf(model);
      for (let i = 0; i < ROUNDS; i++) {
        const u = randomUsage();
        const base = computeCost(price, u).amount;
        const d = 1 + int(300_000);
        const moreInput = computeCost(price, { ...u, inputTokens: u.inputTokens + d }).amount;
        const moreOutput = computeCost(price, {
          ...u,
          outputTokens: u.outputTokens + d,
          reasoningTokens: u.reasoningTokens,
        }).amount;
        const moreReasoning = computeCost(price, {
          ...u,
          reasoningTokens: Math.min(u.outputTokens, u.reasoningTokens + d),
        }).amount;
        assert.ok(compareAmounts(moreInput, base) >= 0, `${model} input +${d}: ${moreInput} < ${base}`);
        assert.ok(compareAmounts(moreOutput, base) >= 0, `${model} output +${d}: ${moreOutput} < ${base}`);
        assert.equal(moreReasoning, base, `${model} reasoning`);
      }
    }
  });

  test('moving prompt tokens from uncached to cached never costs more; to cache writes never costs less', () => {
    for (const model of book.shippedModels()) {
      const price = priceOf(model);
      for (let i = 0; i < ROUNDS; i++) {
        const u = randomUsage();
        const base = computeCost(price, u).amount;
        // Uncached text tokens (the uncached audio stays where it is).
        const free =
          u.inputTokens -
          u.cachedInputTokens -
          u.cacheWriteTokens -
          u.cacheWrite1hTokens -
          (u.audioInputTokens - u.cachedAudioInputTokens);
        if (free === 0) continue;
        const d = 1 + int(free - 1);
        const moreCached = computeCost(price, { ...u, cachedInputTokens: u.cachedInputTokens + d }).amount;
        const moreWrites = computeCost(price, { ...u, cacheWriteTokens: u.cacheWriteTokens + d }).amount;
        const more1h = computeCost(price, { ...u, cacheWrite1hTokens: u.cacheWrite1hTokens + d }).amount;
        assert.ok(compareAmounts(moreCached, base) <= 0, `${model} cached +${d}: ${moreCached} > ${base}`);
        assert.ok(compareAmounts(moreWrites, base) >= 0, `${model} writes +${d}: ${moreWrites} < ${base}`);
        assert.ok(compareAmounts(more1h, base) >= 0, `${model} 1h writes +${d}: ${more1h} < ${base}`);
      }
    }
  });

  test('audio never costs less than text, and cached audio never more than uncached audio', () => {
    for (const model of book.shippedModels()) {
      const price = priceOf(model);
      for (let i = 0; i < ROUNDS; i++) {
        const u = randomUsage();
        const base = computeCost(price, u).amount;
        const uncachedAudio = u.audioInputTokens - u.cachedAudioInputTokens;
        const uncachedText =
          u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens - u.cacheWrite1hTokens - uncachedAudio;
        if (uncachedText > 0) {
          const d = 1 + int(uncachedText - 1);
          const moreAudio = computeCost(price, { ...u, audioInputTokens: u.audioInputTokens + d }).amount;
          assert.ok(compareAmounts(moreAudio, base) >= 0, `${model} audio +${d}: ${moreAudio} < ${base}`);
        }
        if (uncachedAudio > 0) {
          const d = 1 + int(uncachedAudio - 1);
          const cachedAudio = computeCost(price, {
            ...u,
            cachedInputTokens: u.cachedInputTokens + d,
            cachedAudioInputTokens: u.cachedAudioInputTokens + d,
          }).amount;
          assert.ok(
            compareAmounts(cachedAudio, base) <= 0,
            `${model} cached audio +${d}: ${cachedAudio} > ${base}`,
          );
        }
      }
    }
  });

  test('the shipped table has every model the loop covered', () => {
    assert.equal(book.shippedModels().length, Object.keys(SHIPPED_PRICE_TABLE.models).length);
  });
});

describe('computeCost: integer arithmetic against decimal.js as the reference', () => {
  const random = seededRandom(7);
  const RefD = Decimal.clone({
    precision: 80,
    rounding: Decimal.ROUND_HALF_UP,
    toExpNeg: -100,
    toExpPos: 100,
  });
  const reference = (tokens: number, rate: string, unit: number) =>
    new RefD(rate).times(tokens).dividedBy(unit).toDecimalPlaces(COST_SCALE, Decimal.ROUND_HALF_UP);
  const randomPrice = () => {
    const whole = Math.floor(random() * 1000);
    const decimals = Math.floor(random() * 11);
    const fraction = Array.from({ length: decimals }, () => Math.floor(random() * 10)).join('');
    return decimals === 0 ? String(whole) : `${whole}.${fraction}`;
  };

  /** 5,000 random prices and usages up to these token counts, each part and the total against decimal.js. */
  const againstDecimal = (maxInputTokens: number, maxOutputTokens: number) => {
    for (let i = 0; i < 5000; i++) {
      const unitTokens = random() < 0.5 ? 1_000_000 : 1_000;
      const price: ModelPrice = { input: randomPrice(), output: randomPrice(), currency: 'USD', unitTokens };
      const inputTokens = Math.floor(random() * maxInputTokens);
      const outputTokens = Math.floor(random() * maxOutputTokens);
      const cost = computeCost(price, { inputTokens, outputTokens, cachedInputTokens: 0 });
      const input = reference(inputTokens, price.input, unitTokens);
      const output = reference(outputTokens, price.output, unitTokens);
      assert.equal(
        cost.breakdown.input,
        input.toFixed(),
        `input ${inputTokens} x ${price.input}/${unitTokens}`,
      );
      assert.equal(cost.breakdown.output, output.toFixed());
      assert.equal(cost.amount, input.plus(output).toFixed());
    }
  };

  test('equals the decimal computation, rounding halves up, for 5,000 random prices and usages', () => {
    againstDecimal(2_000_000_000, 50_000_000);
  });

  test('equals the decimal computation for request-sized usages too (the doubles path)', () => {
    againstDecimal(200_000, 20_000);
  });

  test('doubles and bigints give the same cost on both sides of 2^53 (every part, cache writes, audio and tiers)', () => {
    const tiered = priceOf('gemini-2.5-pro');
    let nearTheEdge = 0;
    for (let i = 0; i < 20_000; i++) {
      const unitTokens = random() < 0.5 ? 1_000_000 : 1_000;
      const price: ModelPrice =
        i % 10 === 0
          ? tiered
          : {
              input: randomPrice(),
              output: randomPrice(),
              cachedInput: randomPrice(),
              cacheWrite: randomPrice(),
              cacheWrite1h: randomPrice(),
              audioInput: randomPrice(),
              cachedAudioInput: randomPrice(),
              currency: 'USD',
              unitTokens,
            };
      // Token counts from 0 to ~10^8 on a log scale: products from small to well past 2^53.
      const count = () => Math.floor(10 ** (random() * 8));
      const inputTokens = count() + 3;
      const cachedInputTokens = Math.floor(random() * (inputTokens / 3));
      const cacheWriteTokens = Math.floor(random() * (inputTokens / 3));
      const cacheWrite1hTokens = Math.floor(random() * (inputTokens / 3));
      const cachedAudioInputTokens = Math.floor(random() * cachedInputTokens);
      const uncached = inputTokens - cachedInputTokens - cacheWriteTokens - cacheWrite1hTokens;
      const audioInputTokens = cachedAudioInputTokens + Math.floor(random() * uncached);
      const outputTokens = count();
      const usage = {
        inputTokens,
        outputTokens,
        cachedInputTokens,
        cacheWriteTokens,
        cacheWrite1hTokens,
        audioInputTokens,
        cachedAudioInputTokens,
      };
      const rate = Number(price.input) * 10 ** COST_SCALE;
      if (inputTokens * rate > 2 ** 52 && inputTokens * rate < 2 ** 54) nearTheEdge += 1;
      assert.deepEqual(
        computeCost(price, usage),
        computeCostWithBigints(price, usage),
        JSON.stringify({ price, usage }),
      );
    }
    assert.ok(nearTheEdge > 50, `only ${nearTheEdge} cases near 2^53`);
  });

  test('rounds to 10 decimals, an exact half up', () => {
    const price: ModelPrice = { input: '0.0000000005', output: '0', currency: 'USD', unitTokens: 1_000 };
    // 1 * 0.0000000005 / 1000 = 5e-13: below half a unit of 1e-10, rounds to 0.
    assert.equal(computeCost(price, { inputTokens: 1, outputTokens: 0, cachedInputTokens: 0 }).amount, '0');
    // 200 tokens: 1e-10 exactly; 100 tokens: 5e-11, exactly half a unit, rounds up to 1e-10.
    assert.equal(
      computeCost(price, { inputTokens: 100, outputTokens: 0, cachedInputTokens: 0 }).amount,
      '0.0000000001',
    );
  });
});

describe('a provider-reported amount as an event decimal', () => {
  test('fixed notation, at most 12 places, no trailing zeros', () => {
    assert.equal(amountOfNumber(0.0001234), '0.0001234');
    assert.equal(amountOfNumber(1.5e-7), '0.00000015');
    assert.equal(amountOfNumber(10), '10');
    assert.equal(amountOfNumber(0), '0');
    assert.equal(amountOfNumber(2.5), '2.5');
  });
  test('what an event cannot hold is no amount', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 1e15])
      assert.equal(amountOfNumber(bad), undefined);
  });
});
