import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_BODY_DEPTH } from './read-body.js';
import {
  OPENAI_IMAGE_TOOL_DEFAULT_MODEL,
  OPENROUTER_IMAGE_TOOL_DEFAULT_MODEL,
  toolModelsOf,
} from './tool-models.js';

describe('toolModelsOf', () => {
  it('finds nothing in a request without tools, or whose tools run no other model', () => {
    assert.equal(toolModelsOf({ model: 'gpt-4o-mini' }), undefined);
    assert.equal(toolModelsOf({ tools: [] }), undefined);
    assert.equal(
      toolModelsOf({
        tools: [
          { type: 'function', function: { name: 'f', parameters: { properties: { model: {} } } } },
          { type: 'web_search' },
          { name: 'get', input_schema: { type: 'object' }, model: 'not-a-tool-field' },
          { type: 'openrouter:web_search', parameters: { max_results: 3 } },
          null,
          'x',
        ],
      }),
      undefined,
    );
  });

  it("names OpenAI's image model (its default when left out) and the SVG author of image_generation", () => {
    assert.deepEqual(
      toolModelsOf({
        tools: [
          { type: 'web_search' },
          { type: 'image_generation', model: 'gpt-image-1', svg: { model: 'gpt-5' } },
          { type: 'image_generation' },
          { type: 'image_generation', model: 42 },
        ],
      }),
      [
        { model: 'gpt-image-1', param: 'tools[1].model' },
        { model: 'gpt-5', param: 'tools[1].svg.model' },
        { model: OPENAI_IMAGE_TOOL_DEFAULT_MODEL, param: 'tools[2].model' },
        { model: null, param: 'tools[3].model' },
      ],
    );
  });

  it("names Claude's advisor, and OpenRouter's server tools' models, into an advisor's own tools", () => {
    assert.deepEqual(
      toolModelsOf({
        tools: [
          { type: 'advisor_20260301', name: 'advisor', model: 'claude-opus-4-6' },
          { type: 'advisor_20260301', name: 'advisor' },
          {
            type: 'openrouter:image_generation',
            parameters: { model: 'google/gemini-image', quality: 'high' },
          },
          { type: 'openrouter:image_generation' },
          {
            type: 'openrouter:advisor',
            parameters: {
              model: 'anthropic/claude-opus-4.6',
              tools: [{ type: 'openrouter:image_generation' }],
            },
          },
          { type: 'openrouter:advisor', parameters: { name: 'reviewer' } },
        ],
      }),
      [
        { model: 'claude-opus-4-6', param: 'tools[0].model' },
        { model: null, param: 'tools[1].model' },
        { model: 'google/gemini-image', param: 'tools[2].parameters.model' },
        { model: OPENROUTER_IMAGE_TOOL_DEFAULT_MODEL, param: 'tools[3].parameters.model' },
        { model: 'anthropic/claude-opus-4.6', param: 'tools[4].parameters.model' },
        {
          model: OPENROUTER_IMAGE_TOOL_DEFAULT_MODEL,
          param: 'tools[4].parameters.tools[0].parameters.model',
        },
        { model: null, param: 'tools[5].parameters.model' },
      ],
    );
  });

  it('walks advisors nested as deep as a body may be without overflowing', () => {
    let tool: Record<string, unknown> = { type: 'openrouter:image_generation' };
    for (let level = 0; level < MAX_BODY_DEPTH; level++)
      tool = { type: 'openrouter:advisor', parameters: { model: 'm', tools: [tool] } };
    assert.equal(toolModelsOf({ tools: [tool] })?.length, MAX_BODY_DEPTH + 1);
  });
});
