import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from './gateway-error.js';
import { MAX_BODY_DEPTH, refuseHostFields } from './read-body.js';

/** An object `levels` deep (the body itself is level 1), with `leaf` at the bottom. */
const nested = (levels: number, leaf: Record<string, unknown>): Record<string, unknown> => {
  let body = leaf;
  for (let level = 1; level < levels; level++) body = { wrap: body };
  return body;
};

const refusal = (body: Record<string, unknown>): GatewayError | undefined => {
  try {
    refuseHostFields(body);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof GatewayError, String(error));
    return error;
  }
};

describe('refuseHostFields', () => {
  it('refuses a host field at the top, nested, inside arrays and in any letter case, naming it', () => {
    for (const [body, field] of [
      [{ model: 'm', api_base: 'http://evil.example' }, 'api_base'],
      [{ model: 'm', extra: { BASE_URL: 'http://evil.example' } }, 'BASE_URL'],
      [{ messages: [{ role: 'user', content: [{ Azure_Endpoint: 'x' }] }] }, 'Azure_Endpoint'],
      [{ options: [[[{ endpoint_url: 'x' }]]] }, 'endpoint_url'],
    ] as const) {
      const error = refusal(body);
      assert.equal(error?.kind, 'invalid_request');
      assert.equal(error?.status, 400);
      assert.equal(error?.options.param, field);
      assert.match(error?.message ?? '', new RegExp(field));
    }
  });

  it('finds a host field at the deepest level allowed, and refuses a body one level deeper', () => {
    assert.equal(refusal(nested(MAX_BODY_DEPTH, { model: 'm' })), undefined);
    assert.equal(refusal(nested(MAX_BODY_DEPTH, { api_host: 'x' }))?.options.param, 'api_host');
    const deeper = refusal(nested(MAX_BODY_DEPTH + 1, { model: 'm' }));
    assert.equal(deeper?.kind, 'invalid_request');
    assert.match(deeper?.message ?? '', /nested deeper than 64 levels/);
  });

  it('refuses a body nested thousands deep with a 400, not a stack overflow', () => {
    const text = `{"messages":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const error = refusal(JSON.parse(text) as Record<string, unknown>);
    assert.equal(error?.status, 400);
  });

  it("leaves tool schemas and metadata alone (the caller's data), but not their depth", () => {
    const tool = {
      type: 'function',
      function: {
        name: 'fetch',
        parameters: { type: 'object', properties: { base_url: { type: 'string' } } },
      },
    };
    assert.equal(refusal({ model: 'm', tools: [tool], metadata: { api_base: 'mine' } }), undefined);
    assert.equal(
      refusal({ model: 'm', tools: [{ name: 'x', input_schema: { properties: { Base_URL: {} } } }] }),
      undefined,
    );
    const deepSchema = refusal({ model: 'm', metadata: nested(MAX_BODY_DEPTH, { x: 1 }) });
    assert.match(deepSchema?.message ?? '', /nested deeper/);
  });

  it("leaves a tool call's arguments alone (what the model passed the caller's tool), and nothing else", () => {
    const args = { base_url: 'https://api.github.com', API_HOST: 'x', nested: { endpoint_url: 'y' } };
    for (const type of ['tool_use', 'server_tool_use', 'mcp_tool_use']) {
      const body = {
        model: 'm',
        messages: [{ role: 'assistant', content: [{ type, id: 'toolu_1', name: 'http_get', input: args }] }],
      };
      assert.equal(refusal(body), undefined, type);
    }
    // Beside the arguments, in another block type, or as the Responses API's items: still refused.
    for (const [body, field] of [
      [{ messages: [{ content: [{ type: 'tool_use', input: {}, base_url: 'x' }] }] }, 'base_url'],
      [{ messages: [{ content: [{ type: 'text', input: { api_base: 'x' } }] }] }, 'api_base'],
      [{ model: 'm', input: [{ role: 'user', content: 'hi', api_host: 'x' }] }, 'api_host'],
      [{ model: 'm', input: { base_url: 'x' } }, 'base_url'],
      // The body itself is no tool call's block, whatever `type` it says.
      [{ model: 'm', type: 'tool_use', input: [{ role: 'user', content: 'hi', base_url: 'x' }] }, 'base_url'],
    ] as const) {
      assert.equal(refusal(body)?.options.param, field);
    }
    // Their depth is still bounded.
    const deep = refusal({
      messages: [{ content: [{ type: 'tool_use', input: nested(MAX_BODY_DEPTH, {}) }] }],
    });
    assert.match(deep?.message ?? '', /nested deeper/);
  });
});
