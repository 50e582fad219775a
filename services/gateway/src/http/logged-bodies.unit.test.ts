import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DEFAULT_LOGGING_POLICY } from '../registry/registry.js';
import { answerText, LoggedBodies, MAX_LOGGED_CHARS, REDACTION_MARGIN_CHARS } from './logged-bodies.js';

const full = { ...DEFAULT_LOGGING_POLICY, bodies: 'full' as const };
const redactedText = { ...DEFAULT_LOGGING_POLICY, bodies: 'redacted' as const };
// An Anthropic key's shape: one of the built-in detectors.
const SECRET = `sk-ant-api03-${'Q7x'.repeat(30)}`;

describe('LoggedBodies: redacted, then cut to MAX_LOGGED_CHARS', () => {
  const bodies = new LoggedBodies(randomBytes(32), undefined);

  it('a secret the cut splits is redacted whole: no part of it is kept', () => {
    const filler = 'x '.repeat(MAX_LOGGED_CHARS / 2 - 20);
    const text = `${filler}${SECRET} and more ${'y '.repeat(500_000)}`;
    const logged = bodies.prompt(redactedText, 'org-1', { messages: [{ role: 'user', content: text }] });
    assert.equal(logged.length, MAX_LOGGED_CHARS);
    assert.ok(logged.startsWith(filler));
    assert.ok(!logged.includes(SECRET.slice(0, 12)), 'the start of the secret is not in the logged text');
  });

  it("a Responses request's instructions and tool results are logged, and redacted", () => {
    const logged = bodies.prompt(redactedText, 'org-1', {
      model: 'gpt-4.1',
      instructions: `You are terse. Internal key: ${SECRET}`,
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'What is the weather?' }] },
        { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'Sunny, 21 C' },
      ],
    });
    assert.match(logged, /^You are terse\. Internal key: /);
    assert.ok(!logged.includes(SECRET.slice(0, 12)), 'the key in the instructions is redacted');
    assert.match(logged, /What is the weather\?\nSunny, 21 C$/);
  });

  it('a whole body (full) is redacted the same way, however long the rest', () => {
    const body = { model: 'm', note: SECRET, messages: [{ role: 'user', content: 'z'.repeat(2_000_000) }] };
    const logged = bodies.prompt(full, 'org-1', body);
    assert.equal(logged.length, MAX_LOGGED_CHARS);
    assert.ok(!logged.includes(SECRET.slice(8)));
    assert.ok(logged.startsWith('{"model":"m","note":"'));
  });

  it('the margin is what a secret may run past the cut and still be found', () => {
    // A PEM private key of ~3 KiB starting just before the cut ends well within the margin.
    const pem = `-----BEGIN PRIVATE KEY-----\n${'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n'.repeat(100)}-----END PRIVATE KEY-----`;
    assert.ok(pem.length < REDACTION_MARGIN_CHARS);
    const text = `${'w '.repeat(MAX_LOGGED_CHARS / 2 - 10)}${pem}${'v '.repeat(100_000)}`;
    const logged = bodies.response(redactedText, 'org-1', text, () => text);
    assert.ok(!logged.includes('-----BEGIN PRIVATE KEY-----'));
    assert.ok(!logged.includes('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'));
  });
});

const OPENAI_KEY = `sk-proj-${'Ab3dE'.repeat(20)}`;
const JWT = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.${'s1gN'.repeat(10)}`;

describe('LoggedBodies: whole bodies (full) redacted value by value', () => {
  const bodies = new LoggedBodies(randomBytes(32), undefined);

  // Serialised, a newline is `\n`: its `n` stood before the secret, so no detector matched.
  it('an OpenAI key on its own line of the prompt is redacted', () => {
    const body = {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: `Is this key valid?\n${OPENAI_KEY}` }],
    };
    const logged = bodies.prompt(full, 'org-1', body);
    assert.ok(!logged.includes(OPENAI_KEY.slice(8)), `stored: ${logged}`);
    assert.deepEqual(JSON.parse(logged).messages[0].content.split('\n')[0], 'Is this key valid?');
  });

  it('an Anthropic key the model echoes on its own line of the answer is redacted', () => {
    const answer = JSON.stringify({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: `Your key:\n${SECRET}` } }],
    });
    const logged = bodies.response(full, 'org-1', answer, () => '');
    assert.ok(!logged.includes(SECRET.slice(7)), `stored: ${logged}`);
    assert.equal(JSON.parse(logged).object, 'chat.completion');
  });

  it('a JWT after a tab in a system prompt is redacted', () => {
    const body = { model: 'claude', system: `token\t${JWT}`, messages: [{ role: 'user', content: 'hi' }] };
    const logged = bodies.prompt(full, 'org-1', body);
    assert.ok(!logged.includes(JWT), `stored: ${logged}`);
  });

  it("a stream's answer (no body: null) is logged as its text, not re-read as JSON", () => {
    // A streamed structured output: parsed and serialised again, 10.50 became 10.5 and an id
    // past 2^53 another number; the layout was lost.
    const text = '{\n  "amount": 10.50,\n  "order_id": 9007199254740993\n}';
    assert.equal(
      bodies.response(full, 'org-1', null, () => text),
      text,
    );
  });

  it('a field named like a secret is replaced whole', () => {
    const logged = bodies.prompt(full, 'org-1', { model: 'm', metadata: { api_key: 'hunter2-plain' } });
    assert.ok(!logged.includes('hunter2-plain'), `stored: ${logged}`);
  });
});

describe('LoggedBodies: the cut after redaction', () => {
  const bodies = new LoggedBodies(randomBytes(32), undefined);
  // An org that drops base64 blobs from its logged bodies: the blob shrinks to `[DROPPED]`.
  const dropBlobs = {
    ...redactedText,
    rules: [
      {
        name: 'blob',
        pattern: '[A-Za-z0-9+/]{500,}={0,2}',
        action: 'drop' as const,
        caseInsensitive: false,
        group: 0,
        keepLast: 0,
      },
    ],
  };
  const readTo = MAX_LOGGED_CHARS + REDACTION_MARGIN_CHARS;
  const blob = 'QUJD'.repeat(20_000); // 80,000 characters, dropped by the rule

  it('when the rules shrink the text, no part of a secret split by the read limit is stored', () => {
    // The key starts 12 characters before the read limit: only `sk-proj-Ab3d` fell within it.
    const prompt = `${blob} note ${' '.repeat(readTo - blob.length - 6 - 12)}${OPENAI_KEY} end`;
    assert.equal(prompt.indexOf(OPENAI_KEY), readTo - 12);
    const logged = bodies.prompt(dropBlobs, 'org-1', { messages: [{ role: 'user', content: prompt }] });
    assert.ok(logged.length < MAX_LOGGED_CHARS, 'the rule shrank the text below the cut');
    assert.ok(!logged.includes('sk-proj-'), `stored tail: ${JSON.stringify(logged.slice(-40))}`);
  });

  it('the same within a whole body (full)', () => {
    // Masked, not dropped: a field with a `drop` finding is left out of a body whole.
    const maskBlobs = {
      ...dropBlobs,
      bodies: 'full' as const,
      rules: [{ ...dropBlobs.rules[0]!, action: 'mask' as const }],
    };
    const content = `${blob} ${' '.repeat(readTo - blob.length - 1 - 60)}${OPENAI_KEY} ${'e'.repeat(200_000)}`;
    // The body's keys and punctuation take ~45 characters: the read ends 15 into the key.
    const logged = bodies.prompt(maskBlobs, 'org-1', {
      messages: [{ role: 'user', content }],
    });
    assert.ok(logged.length < MAX_LOGGED_CHARS, 'the rule shrank the text below the cut');
    assert.ok(!logged.includes('sk-proj-'), `stored tail: ${JSON.stringify(logged.slice(-40))}`);
  });
});

describe('answerText: the text of a finished answer', () => {
  it('a Responses answer: its messages, refusals and tool calls, not its reasoning', () => {
    // The Responses API's JSON as sent: no `output_text` (the SDKs compute that).
    const answer = {
      id: 'resp_1',
      object: 'response',
      status: 'completed',
      output: [
        { id: 'rs_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'thinking it over' }] },
        {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [
            { type: 'output_text', text: 'Paris is sunny.', annotations: [] },
            { type: 'refusal', refusal: 'I will not share the address.' },
          ],
        },
        {
          id: 'fc_1',
          type: 'function_call',
          call_id: 'call_1',
          name: 'get_weather',
          arguments: '{"city":"Paris"}',
          status: 'completed',
        },
        { id: 'ctc_1', type: 'custom_tool_call', call_id: 'call_2', name: 'run_sql', input: 'select 1' },
      ],
      usage: { input_tokens: 10, output_tokens: 20, total_tokens: 30 },
    };
    assert.equal(
      answerText(JSON.stringify(answer)),
      'Paris is sunny.\nI will not share the address.\nget_weather {"city":"Paris"}\nrun_sql select 1',
    );
  });

  it('a Responses answer is logged by its text, redacted, under the redacted policy', () => {
    const bodies = new LoggedBodies(randomBytes(32), undefined);
    const json = JSON.stringify({
      object: 'response',
      output: [
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: `use ${SECRET}` }] },
      ],
    });
    const logged = bodies.response(redactedText, 'org-1', json, () => answerText(json));
    assert.equal(logged, `use [REDACTED:anthropic_key …${SECRET.slice(-4)}]`);
  });

  it('chat choices and Anthropic content blocks', () => {
    const chat = { choices: [{ message: { content: 'one' } }, { message: { content: 'two' } }] };
    assert.equal(answerText(JSON.stringify(chat)), 'one\ntwo');
    // Mistral's reasoning models: content as chunks, whose text ones are the answer.
    const mistral = {
      choices: [
        {
          message: {
            content: [
              { type: 'thinking', thinking: [{ type: 'text', text: 'hmm' }] },
              { type: 'text', text: 'three' },
            ],
          },
        },
      ],
    };
    assert.equal(answerText(JSON.stringify(mistral)), 'three');
    const anthropic = { content: [{ type: 'text', text: 'hello' }] };
    assert.equal(answerText(JSON.stringify(anthropic)), 'hello');
    assert.equal(answerText('not json'), '');
  });
});
