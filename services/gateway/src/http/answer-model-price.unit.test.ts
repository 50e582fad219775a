import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PriceBook } from '../pricing/index.js';
import { priceModelOf } from './generate.js';

/** When the test's requests arrived. */
const NOW = Date.parse('2026-12-06T12:00:00Z');

/** The org's prices, from a date before every request of the test. */
const book = (...prices: Array<{ model: string; input: string; output: string }>) =>
  PriceBook.shipped().withOverrides(
    prices.map((price) => ({ orgId: 'acme', effectiveFrom: '2020-01-01', currency: 'USD', ...price })),
  );

describe("the model an Azure deployment's answer is priced by", () => {
  it('the version the answer names, when the price book knows it', () => {
    assert.equal(priceModelOf(book(), 'acme', 'gpt-4o', 'gpt-4o-2024-05-13', NOW), 'gpt-4o-2024-05-13');
    // A deployment configured under its own name, which no price lists.
    assert.equal(priceModelOf(book(), 'acme', 'gpt4o-prod', 'gpt-4o-2024-05-13', NOW), 'gpt-4o-2024-05-13');
    // The org's price of that version, where the routed name has none of the org's.
    const version = book({ model: 'gpt-4o-2024-05-13', input: '4', output: '12' });
    assert.equal(priceModelOf(version, 'acme', 'gpt-4o', 'gpt-4o-2024-05-13', NOW), 'gpt-4o-2024-05-13');
  });

  it("the routed name when the org prices it: its own price wins over any version's", () => {
    const own = book({ model: 'gpt-4o', input: '2', output: '8' });
    assert.equal(priceModelOf(own, 'acme', 'gpt-4o', 'gpt-4o-2024-05-13', NOW), 'gpt-4o');
    const both = book(
      { model: 'gpt-4o', input: '2', output: '8' },
      { model: 'gpt-4o-2024-05-13', input: '4', output: '12' },
    );
    assert.equal(priceModelOf(both, 'acme', 'gpt-4o', 'gpt-4o-2024-05-13', NOW), 'gpt-4o');
    const deployment = book({ model: 'gpt4o-prod', input: '3', output: '9' });
    assert.equal(priceModelOf(deployment, 'acme', 'gpt4o-prod', 'gpt-4o-2024-05-13', NOW), 'gpt4o-prod');
    // Another org's price is not this org's.
    assert.equal(priceModelOf(own, 'globex', 'gpt-4o', 'gpt-4o-2024-05-13', NOW), 'gpt-4o-2024-05-13');
  });

  it('the routed name when the answer names none, the same, one the book does not know, or no model name', () => {
    for (const answer of [undefined, 'gpt-4o', 'my-fine-tune', 'gpt 4o', 'x'.repeat(201)])
      assert.equal(priceModelOf(book(), 'acme', 'gpt-4o', answer, NOW), 'gpt-4o', String(answer));
  });

  it('by the org prices in effect when the request arrived, not when its answer came', () => {
    // The org priced gpt-4o from noon; a request that arrived a second before is priced by the
    // version its answer names, as it would have been with no price of the org's.
    const fromNoon = PriceBook.shipped().withOverrides([
      {
        orgId: 'acme',
        model: 'gpt-4o',
        effectiveFrom: '2026-12-06T12:00:00Z',
        currency: 'USD',
        input: '2',
        output: '8',
      },
    ]);
    assert.equal(
      priceModelOf(fromNoon, 'acme', 'gpt-4o', 'gpt-4o-2024-05-13', NOW - 1000),
      'gpt-4o-2024-05-13',
    );
    assert.equal(priceModelOf(fromNoon, 'acme', 'gpt-4o', 'gpt-4o-2024-05-13', NOW), 'gpt-4o');
  });
});
