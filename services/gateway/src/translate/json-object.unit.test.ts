import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_JSON_DEPTH, nestsDeeperThan, parseToolCallArguments } from './json-object.js';
import { TranslationError } from './translation-error.js';

/** JSON text of an object `levels` deep (the arguments object itself is level 1). */
const nestedText = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`;

describe('parseToolCallArguments', () => {
  const path = 'messages[1].tool_calls[0].function.arguments';

  it('parses an object, an empty string as {}, and gives undefined for anything else', () => {
    assert.deepEqual(parseToolCallArguments('{"city":"Paris"}', path), { city: 'Paris' });
    assert.deepEqual(parseToolCallArguments('  ', path), {});
    assert.equal(parseToolCallArguments('[1]', path), undefined);
    assert.equal(parseToolCallArguments('{oops', path), undefined);
  });

  it('takes arguments as deep as a body may be, and refuses one level deeper naming the field', () => {
    assert.ok(parseToolCallArguments(nestedText(MAX_JSON_DEPTH), path));
    for (const levels of [MAX_JSON_DEPTH + 1, 10_000]) {
      assert.throws(
        () => parseToolCallArguments(nestedText(levels), path),
        (error: unknown) =>
          error instanceof TranslationError && error.code === 'invalid_value' && error.param === path,
      );
    }
    // Arrays count as levels too.
    const arrays = `{"a":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`;
    assert.throws(() => parseToolCallArguments(arrays, path), TranslationError);
  });
});

describe('nestsDeeperThan', () => {
  it('counts objects and arrays as levels, the value itself being the first', () => {
    assert.equal(nestsDeeperThan({}, 1), false);
    assert.equal(nestsDeeperThan({ a: 1, b: 'x', c: null }, 1), false);
    assert.equal(nestsDeeperThan({ a: [] }, 1), true);
    assert.equal(nestsDeeperThan({ a: [{ b: 1 }] }, 3), false);
    assert.equal(nestsDeeperThan({ a: [{ b: [] }] }, 3), true);
  });
});
