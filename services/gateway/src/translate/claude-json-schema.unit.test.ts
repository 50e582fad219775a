import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claudeJsonSchema } from './claude-json-schema.js';

describe('claudeJsonSchema: a schema as Claude structured outputs take it', () => {
  const cases: { name: string; schema: Record<string, unknown>; expected: Record<string, unknown> }[] = [
    {
      name: 'numeric bounds move into the description, after the one written',
      schema: {
        type: 'object',
        properties: {
          age: { type: 'integer', description: 'Age in years', minimum: 0, maximum: 150 },
          score: { type: 'number', exclusiveMinimum: 0, multipleOf: 0.5 },
        },
        required: ['age', 'score'],
        additionalProperties: false,
      },
      expected: {
        type: 'object',
        properties: {
          age: { type: 'integer', description: 'Age in years\n\n{minimum: 0, maximum: 150}' },
          score: { type: 'number', description: '{exclusiveMinimum: 0, multipleOf: 0.5}' },
        },
        additionalProperties: false,
        required: ['age', 'score'],
      },
    },
    {
      name: 'string lengths and patterns are described; a format Claude takes stays, another is described',
      schema: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid', minLength: 36 },
          site: { type: 'string', format: 'idn-hostname', pattern: '^[a-z]+$' },
        },
      },
      expected: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid', description: '{minLength: 36}' },
          site: { type: 'string', description: '{pattern: "^[a-z]+$", format: "idn-hostname"}' },
        },
        additionalProperties: false,
      },
    },
    {
      name: 'every object is closed, nested ones and open ones too',
      schema: {
        type: 'object',
        properties: { address: { type: 'object', properties: { city: { type: 'string' } } } },
        additionalProperties: true,
      },
      expected: {
        type: 'object',
        properties: {
          address: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false },
        },
        additionalProperties: false,
      },
    },
    {
      name: 'arrays keep items and minItems 0 or 1; larger bounds are described',
      schema: {
        type: 'array',
        items: { type: 'integer', maximum: 9 },
        minItems: 2,
        maxItems: 5,
        uniqueItems: true,
      },
      expected: {
        type: 'array',
        items: { type: 'integer', description: '{maximum: 9}' },
        description: '{maxItems: 5, uniqueItems: true, minItems: 2}',
      },
    },
    {
      name: 'oneOf becomes anyOf; enum and const replace the type; $schema is left out',
      schema: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        oneOf: [
          { type: 'string', enum: ['a', 'b'] },
          { type: 'integer', const: 3 },
        ],
      },
      expected: { anyOf: [{ enum: ['a', 'b'] }, { const: 3 }] },
    },
    {
      name: '$defs (and draft-07 definitions) are transformed; a $ref stands alone but for its description',
      schema: {
        type: 'object',
        properties: {
          // Kept from @anthropic-ai/sdk 1.17 (dropped before); any other keyword there is not.
          at: { $ref: '#/$defs/when', description: 'When it starts', title: 'dropped', maxLength: 3 },
          to: { $ref: '#/$defs/when' },
        },
        $defs: { when: { type: 'string', format: 'date', maxLength: 10 } },
        definitions: { count: { type: 'integer', minimum: 1 } },
      },
      expected: {
        $defs: { when: { type: 'string', format: 'date', description: '{maxLength: 10}' } },
        definitions: { count: { type: 'integer', description: '{minimum: 1}' } },
        type: 'object',
        properties: {
          at: { $ref: '#/$defs/when', description: 'When it starts' },
          to: { $ref: '#/$defs/when' },
        },
        additionalProperties: false,
      },
    },
    {
      name: "a type list (OpenAI strict's nullable) gets each type's rules",
      schema: {
        type: ['object', 'null'],
        properties: { name: { type: ['string', 'null'], maxLength: 20 } },
        required: ['name'],
      },
      expected: {
        type: ['object', 'null'],
        properties: { name: { type: ['string', 'null'], description: '{maxLength: 20}' } },
        additionalProperties: false,
        required: ['name'],
      },
    },
    {
      name: 'a node without a type (the SDK throws) and a boolean schema go as written',
      schema: {
        type: 'object',
        properties: { anything: { description: 'any value', minimum: 1 }, flag: true },
      },
      expected: {
        type: 'object',
        properties: { anything: { description: 'any value', minimum: 1 }, flag: true },
        additionalProperties: false,
      },
    },
  ];
  for (const { name, schema, expected } of cases)
    it(name, () => {
      const before = structuredClone(schema);
      assert.deepEqual(claudeJsonSchema(schema), expected);
      assert.deepEqual(schema, before, "the caller's schema is left whole");
    });

  it('a property named __proto__ stays a property', () => {
    const schema = JSON.parse(
      '{"type":"object","properties":{"__proto__":{"type":"string","maxLength":3}},"$defs":{"__proto__":{"type":"integer"}}}',
    ) as Record<string, unknown>;
    const out = claudeJsonSchema(schema);
    const properties = out.properties as Record<string, unknown>;
    assert.ok(Object.hasOwn(properties, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(properties, '__proto__')?.value, {
      type: 'string',
      description: '{maxLength: 3}',
    });
    assert.ok(Object.hasOwn(out.$defs as object, '__proto__'));
    assert.equal(Object.getPrototypeOf(properties), Object.prototype);
  });
});
