import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelMatches } from './route-model.js';

describe('modelMatches', () => {
  it('matches a listed name exactly, and a pattern by its prefix', () => {
    assert.equal(modelMatches(['gpt-4o'], 'gpt-4o'), true);
    assert.equal(modelMatches(['gpt-4o'], 'gpt-4o-mini'), false);
    assert.equal(modelMatches(['gpt-4.1*'], 'gpt-4.1-mini'), true);
    assert.equal(modelMatches(['gpt-4.1*'], 'gpt-4o'), false);
  });

  it('never takes a pattern asked for as a model: it is not a name a provider serves', () => {
    assert.equal(modelMatches(['gpt-4.1*'], 'gpt-4.1*'), false);
    assert.equal(modelMatches(['gpt-4.1*'], 'gpt-4.1-*'), false);
    assert.equal(modelMatches(['*'], '*'), false);
  });
});
