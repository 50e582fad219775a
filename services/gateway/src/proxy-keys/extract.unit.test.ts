import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ExtractProxyKeyResult, extractProxyKeyCandidate, type RequestHeaders } from './extract.js';

const KEY = 'kdn_Kordon0proxy0key0test0vector00011b5n6i';
const OTHER = 'kdn_0123456789abcdefghijABCDEFGHIJ000000xx';

function ok(candidate: string, source: 'authorization' | 'x-api-key' | 'both'): ExtractProxyKeyResult {
  return { ok: true, candidate, source };
}
function no(reason: string, header?: 'authorization' | 'x-api-key' | 'both'): ExtractProxyKeyResult {
  return (header ? { ok: false, reason, header } : { ok: false, reason }) as ExtractProxyKeyResult;
}

describe('extractProxyKeyCandidate', () => {
  const cases: [string, RequestHeaders, ExtractProxyKeyResult][] = [
    ['Bearer (OpenAI SDKs)', { authorization: `Bearer ${KEY}` }, ok(KEY, 'authorization')],
    ['x-api-key (Anthropic SDKs)', { 'x-api-key': KEY }, ok(KEY, 'x-api-key')],
    ['scheme in any case', { authorization: `bEaReR ${KEY}` }, ok(KEY, 'authorization')],
    ['BEARER', { authorization: `BEARER ${KEY}` }, ok(KEY, 'authorization')],
    [
      'values trimmed',
      { authorization: ` \tBearer \t ${KEY} \t`, 'x-api-key': `  ${KEY}\t` },
      ok(KEY, 'both'),
    ],
    ['both with the same key', { authorization: `Bearer ${KEY}`, 'x-api-key': KEY }, ok(KEY, 'both')],
    [
      'both with different keys',
      { authorization: `Bearer ${KEY}`, 'x-api-key': OTHER },
      no('conflicting', 'both'),
    ],
    ['neither', { 'content-type': 'application/json' }, no('missing')],
    ['empty headers count as absent', { authorization: '  ', 'x-api-key': '' }, no('missing')],
    [
      'empty x-api-key next to a Bearer',
      { authorization: `Bearer ${KEY}`, 'x-api-key': ' ' },
      ok(KEY, 'authorization'),
    ],
    ['Bearer without a key', { authorization: 'Bearer' }, no('malformed_header')],
    ['Bearer and spaces only', { authorization: 'Bearer    ' }, no('malformed_header')],
    [
      'Basic',
      { authorization: `Basic ${Buffer.from(`u:${KEY}`).toString('base64')}` },
      no('unsupported_scheme'),
    ],
    ['no scheme', { authorization: KEY }, no('unsupported_scheme')],
    ['scheme glued to the key', { authorization: `Bearer${KEY}` }, no('unsupported_scheme')],
    [
      'bad Authorization is refused even with a good x-api-key',
      { authorization: 'Basic abc', 'x-api-key': KEY },
      no('unsupported_scheme'),
    ],
    ['two words after Bearer', { authorization: `Bearer ${KEY} ${OTHER}` }, no('malformed_header')],
    ['joined duplicates (Node joins x-api-key)', { 'x-api-key': `${KEY}, ${OTHER}` }, no('malformed_header')],
    ['comma inside', { 'x-api-key': `${KEY},` }, no('malformed_header')],
    ['1 MB value', { authorization: `Bearer ${'a'.repeat(1 << 20)}` }, no('malformed_header')],
    [
      'header names in any case (plain object)',
      { Authorization: `Bearer ${KEY}`, 'X-Api-Key': KEY },
      ok(KEY, 'both'),
    ],
    ['array values, all the same', { 'x-api-key': [KEY, ` ${KEY}`] }, ok(KEY, 'x-api-key')],
    ['array values that differ', { 'x-api-key': [KEY, OTHER] }, no('conflicting', 'x-api-key')],
    [
      'the same header twice in a plain object, differing',
      { authorization: `Bearer ${KEY}`, Authorization: `Bearer ${OTHER}` },
      no('conflicting', 'authorization'),
    ],
    ['rawHeaders: one', ['Host', 'x', 'Authorization', `Bearer ${KEY}`], ok(KEY, 'authorization')],
    [
      'rawHeaders: repeated, differing',
      ['authorization', `Bearer ${KEY}`, 'AUTHORIZATION', `Bearer ${OTHER}`],
      no('conflicting', 'authorization'),
    ],
    ['rawHeaders: both headers', ['x-api-key', KEY, 'authorization', `bearer ${KEY}`], ok(KEY, 'both')],
    ['rawHeaders: odd length', ['x-api-key'], no('missing')],
    ['Fetch Headers', new Headers({ Authorization: `Bearer ${KEY}` }), ok(KEY, 'authorization')],
    [
      'Fetch Headers, both, differing',
      new Headers({ 'X-API-Key': OTHER, authorization: `Bearer ${KEY}` }),
      no('conflicting', 'both'),
    ],
    [
      'a header named "get" is just a header',
      { get: 'x', 'x-api-key': KEY } as RequestHeaders,
      ok(KEY, 'x-api-key'),
    ],
    [
      'the candidate is not validated here',
      { 'x-api-key': 'sk-not-a-kordon-key' },
      ok('sk-not-a-kordon-key', 'x-api-key'),
    ],
    [
      'unicode is passed on as is, for parseProxyKey to refuse',
      { 'x-api-key': 'kdn_\u0430' },
      ok('kdn_\u0430', 'x-api-key'),
    ],
    ['non-string values are ignored', { 'x-api-key': 42 as never, authorization: undefined }, no('missing')],
  ];
  for (const [name, headers, expected] of cases) {
    test(name, () => {
      assert.deepEqual(extractProxyKeyCandidate(headers), expected);
    });
  }

  test('not an object: missing, no throw', () => {
    for (const bad of [null, undefined, 'Bearer x', 42]) {
      assert.deepEqual(extractProxyKeyCandidate(bad as never), no('missing'));
    }
  });
});
