import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openAIErrorInfo } from '../providers/openai/openai-error.js';
import { UpstreamError } from '../upstream/upstream-error.js';
import { conversationNotFound, conversationSession, namedConversation } from './stored-conversations.js';

const answered = (status: number, message: string, param: string | null) =>
  new UpstreamError('upstream_http_error', `provider answered ${status}`, {
    phase: 'headers',
    status,
    provider: openAIErrorInfo({
      status,
      headers: {},
      text: '',
      json: { error: { message, type: 'invalid_request_error', param, code: null } },
    }),
  });

describe('stored conversations', () => {
  it('reads the conversation a body names, as an id or an object, and nothing else', () => {
    assert.equal(namedConversation({ conversation: 'conv_1' }), 'conv_1');
    assert.equal(namedConversation({ conversation: { id: 'conv_2' } }), 'conv_2');
    for (const conversation of [null, '', 42, {}, { id: 7 }, 'c'.repeat(257)])
      assert.equal(namedConversation({ conversation }), undefined, JSON.stringify(conversation));
  });

  it("keys a conversation's pin by org", () => {
    assert.notEqual(conversationSession('org-a', 'conv_1'), conversationSession('org-b', 'conv_1'));
  });

  it("tells a project's 404 for the conversation from the other refusals naming it", () => {
    assert.ok(
      conversationNotFound(answered(404, "Conversation with id 'conv_1' not found.", 'conversation')),
    );
    assert.ok(!conversationNotFound(answered(400, "Previous response with id 'resp_1' not found.", null)));
    const pair =
      "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.";
    assert.ok(!conversationNotFound(answered(400, pair, 'conversation')));
    assert.ok(!conversationNotFound(answered(500, "Conversation with id 'conv_1' not found.", null)));
  });
});
