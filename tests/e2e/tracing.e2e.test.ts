import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startAnthropicMock, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './support/otlp-receiver.js';

const PRIMARY_KEY = 'sk-proj-tracingprimaryabcdefghijklmnopqrstuvwx';
const SECONDARY_KEY = 'sk-proj-tracingsecondaryabcdefghijklmnopqrstu';
const ANTHROPIC_KEY = 'sk-ant-api03-tracingabcdefghijklmnopqrstuvwxyz';
const ANTHROPIC_KEY_2 = 'sk-ant-api03-tracingsecondabcdefghijklmnopqrs';
/** Text of every prompt: it must reach no span. */
const PROMPT_MARK = 'confidential-prompt-7f3a';

const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

const newTraceId = () => randomBytes(16).toString('hex');
const newSpanId = () => randomBytes(8).toString('hex');

/**
 * Kordon started in this process with tracing on (OTLP/HTTP to a real receiver on
 * 127.0.0.1, in protobuf (Kordon's own batching of serialised requests) and in JSON (the
 * SDK's batch processor and exporter)), called with the official OpenAI SDK and a W3C `traceparent`: the spans that
 * arrive form one tree under the caller's span, carry the GenAI conventions and the tenant
 * ids, and the provider receives the attempt span as its parent. Nothing secret is exported.
 */
for (const protocol of ['http/protobuf', 'http/json'] as const) {
  describe(`tracing: spans exported over OTLP ${protocol}`, () => {
    let receiver: OtlpReceiver;
    let openaiMock: MockServer;
    let anthropicMock: MockServer;
    let kordon: KordonUnderTest;
    let aliceKey: string;
    let bobKey: string;

    before(async () => {
      receiver = await startOtlpReceiver();
      openaiMock = await startOpenAIMock({ keys: [PRIMARY_KEY, SECONDARY_KEY] });
      anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY, ANTHROPIC_KEY_2] });
      kordon = await startKordonUnderTest(
        `
  orgs:
    - slug: acme
      name: Acme
      prices:
        gpt-4o-mini: { input: 1, output: 2 }
      providers:
        - name: primary
          type: openai
          baseUrl: ${openaiMock.url}/v1
          models: [gpt-4o-mini]
          keys: [{ name: p1, secret: "\${PRIMARY_KEY}" }]
        - name: secondary
          type: openai
          baseUrl: ${openaiMock.url}/v1
          models: [gpt-4o-mini]
          keys: [{ name: s1, secret: "\${SECONDARY_KEY}" }]
        - name: claude
          type: anthropic
          baseUrl: ${anthropicMock.url}
          models: [claude-sonnet-4-5]
          keys: [{ name: c1, secret: "\${ANTHROPIC_KEY}" }, { name: c2, secret: "\${ANTHROPIC_KEY_2}" }]
      users:
        - email: alice@acme.test
          proxyKeys: [{ name: laptop }]
        - email: bob@acme.test
          proxyKeys: [{ name: ci, limits: { models: [gpt-4o-mini] } }]
  `,
        {
          PRIMARY_KEY,
          SECONDARY_KEY,
          ANTHROPIC_KEY,
          ANTHROPIC_KEY_2,
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol,
          OTEL_SERVICE_NAME: 'kordon-under-test',
          OTEL_BSP_SCHEDULE_DELAY: '20',
        },
      );
      aliceKey = kordon.proxyKeys.get('alice@acme.test--laptop')!;
      bobKey = kordon.proxyKeys.get('bob@acme.test--ci')!;
    });
    after(async () => {
      await kordon?.stop();
      await openaiMock?.close();
      await anthropicMock?.close();
      await receiver?.close();
    });

    const openai = (apiKey = aliceKey) => new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey, maxRetries: 0 });

    /** The spans of one trace, once its root has arrived (children end before it). */
    const traceOf = async (traceId: string, rootName = 'POST /v1/chat/completions') => {
      const spans = await receiver.waitFor((all) =>
        all.some((s) => s.traceId === traceId && s.name === rootName && s.kind === SERVER),
      );
      return spans.filter((s) => s.traceId === traceId);
    };
    const named = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);
    const one = (spans: ReceivedSpan[], name: string) => {
      const found = named(spans, name);
      assert.equal(found.length, 1, `one ${name} span, got ${found.map((s) => s.name).join(', ')}`);
      return found[0]!;
    };
    const eventOf = async (requestId: unknown) => {
      const event = (await kordon.requestEvents()).find(
        (e: KordonEvent) => (e.data as { requestId?: unknown }).requestId === requestId,
      );
      assert.ok(event, `an event for request ${String(requestId)}`);
      return event;
    };

    it('a chat completion is one trace under the caller span: the tree, GenAI attributes, tenant ids, the provider sees the attempt span', async () => {
      const traceId = newTraceId();
      const callerSpanId = newSpanId();
      openaiMock.clearRequests();
      const completion = await openai().chat.completions.create(
        {
          model: 'gpt-4o-mini',
          max_tokens: 64,
          messages: [{ role: 'user', content: `hello ${PROMPT_MARK}` }],
        },
        { headers: { traceparent: `00-${traceId}-${callerSpanId}-01` } },
      );
      const spans = await traceOf(traceId);

      const root = one(spans, 'POST /v1/chat/completions');
      assert.equal(root.kind, SERVER);
      assert.equal(root.parentSpanId, callerSpanId, "the caller's span is the root's parent");
      assert.equal(root.resource['service.name'], 'kordon-under-test');
      assert.equal(root.scope, 'kordon');
      for (const name of ['gateway.auth', 'gateway.admission', 'gateway.route', 'provider.openai.chat']) {
        const child = one(spans, name);
        assert.equal(child.parentSpanId, root.spanId, `${name} is a child of the root`);
        assert.ok(child.startTimeUnixNano >= root.startTimeUnixNano, `${name} starts within the root`);
        assert.ok(child.endTimeUnixNano <= root.endTimeUnixNano, `${name} ends within the root`);
      }
      assert.equal(named(spans, 'gateway.stream').length, 0, 'no stream span for a plain answer');

      const event = await eventOf(root.attributes['kordon.request_id']);
      assert.equal(event.type, 'RequestCompleted');
      if (event.type !== 'RequestCompleted') return;
      assert.equal(event.traceId, traceId, 'the request event carries the trace id');
      assert.equal(root.attributes['kordon.org_id'], kordon.orgId);
      assert.equal(root.attributes['kordon.proxy_key_id'], event.data.proxyKeyId);
      assert.equal(root.attributes['kordon.user_id'], event.data.userId);
      assert.equal(root.attributes['http.request.method'], 'POST');
      assert.equal(root.attributes['http.route'], '/v1/chat/completions');
      // Required on an HTTP server span (stable); Kordon listens on plain HTTP.
      assert.equal(root.attributes['url.scheme'], 'http');
      assert.equal(root.attributes['http.response.status_code'], 200);
      assert.equal(root.attributes['gen_ai.operation.name'], 'chat');
      assert.equal(root.attributes['gen_ai.request.model'], 'gpt-4o-mini');
      assert.equal(root.attributes['gen_ai.request.max_tokens'], 64);
      assert.equal(root.attributes['gen_ai.usage.input_tokens'], completion.usage!.prompt_tokens);
      assert.equal(root.attributes['gen_ai.usage.output_tokens'], completion.usage!.completion_tokens);
      assert.equal(root.attributes['kordon.outcome'], 'completed');
      assert.equal(root.attributes['kordon.cost'], event.data.cost);
      assert.equal(root.attributes['kordon.currency'], 'USD');

      const auth = one(spans, 'gateway.auth');
      assert.equal(auth.attributes['kordon.org_id'], kordon.orgId);

      const route = one(spans, 'gateway.route');
      assert.equal(route.attributes['kordon.provider_key_id'], event.data.providerKeyId);
      assert.equal(route.attributes['kordon.attempt'], 1);
      assert.equal(route.attributes['kordon.balancer.strategy'], 'adaptive');

      const call = one(spans, 'provider.openai.chat');
      assert.equal(call.kind, CLIENT);
      assert.deepEqual(
        {
          provider: call.attributes['gen_ai.provider.name'],
          system: call.attributes['gen_ai.system'],
          operation: call.attributes['gen_ai.operation.name'],
          requestModel: call.attributes['gen_ai.request.model'],
          responseModel: call.attributes['gen_ai.response.model'],
          responseId: call.attributes['gen_ai.response.id'],
          maxTokens: call.attributes['gen_ai.request.max_tokens'],
          input: call.attributes['gen_ai.usage.input_tokens'],
          output: call.attributes['gen_ai.usage.output_tokens'],
          finish: call.attributes['gen_ai.response.finish_reasons'],
          status: call.attributes['http.response.status_code'],
          key: call.attributes['kordon.provider_key_id'],
          connection: call.attributes['kordon.provider'],
          attempt: call.attributes['kordon.attempt'],
          server: call.attributes['server.address'],
        },
        {
          provider: 'openai',
          system: 'openai',
          operation: 'chat',
          requestModel: 'gpt-4o-mini',
          responseModel: completion.model,
          responseId: completion.id,
          maxTokens: 64,
          input: completion.usage!.prompt_tokens,
          output: completion.usage!.completion_tokens,
          finish: [completion.choices[0]!.finish_reason],
          status: 200,
          key: event.data.providerKeyId,
          connection: 'primary',
          attempt: 1,
          server: '127.0.0.1',
        },
      );
      assert.equal(call.attributes['server.port'], openaiMock.port);
      assert.equal(call.attributes['gen_ai.request.stream'], undefined, 'unset: not streaming');

      const upstream = openaiMock.requests.at(-1)!;
      assert.equal(
        upstream.headers.traceparent,
        `00-${traceId}-${call.spanId}-01`,
        'the provider request carries the attempt span as its parent',
      );
    });

    it('a streamed chat: gateway.stream with its first-token event, usage on the attempt span', async () => {
      const traceId = newTraceId();
      const stream = await openai().chat.completions.create(
        {
          model: 'gpt-4o-mini',
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: 'user', content: `stream ${PROMPT_MARK}` }],
        },
        { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } },
      );
      let usage: OpenAI.CompletionUsage | null | undefined;
      let id: string | undefined;
      let model: string | undefined;
      const finishReasons: string[] = [];
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        id ??= chunk.id;
        model ??= chunk.model;
        for (const choice of chunk.choices)
          if (choice.finish_reason) finishReasons.push(choice.finish_reason);
      }
      assert.ok(usage);
      assert.deepEqual(finishReasons, ['stop']);
      const spans = await traceOf(traceId);
      const root = one(spans, 'POST /v1/chat/completions');
      assert.equal(root.attributes['gen_ai.request.stream'], true);
      const streamSpan = one(spans, 'gateway.stream');
      assert.equal(streamSpan.parentSpanId, root.spanId);
      assert.equal(streamSpan.attributes['kordon.stream.end'], 'complete');
      const [firstToken] = streamSpan.events;
      assert.equal(firstToken?.name, 'kordon.first_token');
      assert.ok(
        firstToken.timeUnixNano >= root.startTimeUnixNano && firstToken.timeUnixNano <= root.endTimeUnixNano,
      );
      const event = await eventOf(root.attributes['kordon.request_id']);
      assert.ok(event.type === 'RequestCompleted' && event.data.timeToFirstTokenMs !== null);
      assert.equal(firstToken.attributes['kordon.time_to_first_token_ms'], event.data.timeToFirstTokenMs);

      const call = one(spans, 'provider.openai.chat');
      // Conditionally Required on the inference span "if and only if the request is streaming".
      assert.equal(call.attributes['gen_ai.request.stream'], true);
      assert.equal(call.attributes['gen_ai.usage.output_tokens'], usage.completion_tokens);
      // What the stream said of its answer, as a plain answer's span has it.
      assert.deepEqual(call.attributes['gen_ai.response.finish_reasons'], finishReasons);
      assert.equal(call.attributes['gen_ai.response.id'], id);
      assert.equal(call.attributes['gen_ai.response.model'], model);
      assert.ok(
        call.endTimeUnixNano >= streamSpan.startTimeUnixNano,
        'the attempt lasts as long as its body',
      );
    });

    it('the OpenAI SDK calling Claude: provider.anthropic.chat with the Anthropic provider name', async () => {
      const traceId = newTraceId();
      await openai().chat.completions.create(
        { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: `hi ${PROMPT_MARK}` }] },
        { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } },
      );
      const spans = await traceOf(traceId);
      const call = one(spans, 'provider.anthropic.chat');
      assert.equal(call.attributes['gen_ai.provider.name'], 'anthropic');
      assert.equal(call.attributes['gen_ai.operation.name'], 'chat');
      assert.deepEqual(call.attributes['gen_ai.response.finish_reasons'], ['end_turn']);
      assert.match(
        String(anthropicMock.requests.at(-1)!.headers.traceparent),
        new RegExp(`^00-${traceId}-${call.spanId}-01$`),
      );
    });

    it('a limit refusal ends in gateway.admission with its reason and scope; no provider span', async () => {
      const traceId = newTraceId();
      await assert.rejects(
        openai(bobKey).chat.completions.create(
          { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: PROMPT_MARK }] },
          { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } },
        ),
        (error: unknown) => error instanceof OpenAI.APIError && error.status === 403,
      );
      const spans = await traceOf(traceId);
      const admission = one(spans, 'gateway.admission');
      assert.equal(admission.attributes['error.type'], 'model_forbidden');
      assert.equal(admission.attributes['kordon.limit.scope'], 'proxy-key');
      assert.equal(admission.status.code, 0, 'an expected refusal is not an error');
      const root = one(spans, 'POST /v1/chat/completions');
      assert.equal(root.attributes['kordon.outcome'], 'rejected');
      assert.equal(root.attributes['http.response.status_code'], 403);
      assert.equal(named(spans, 'gateway.route').length + named(spans, 'provider.openai.chat').length, 0);
    });

    it('a key that is not valid: the trace ends in gateway.auth with 401', async () => {
      const traceId = newTraceId();
      await assert.rejects(
        openai('kdn_notavalidkey').chat.completions.create(
          { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
          { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } },
        ),
        (error: unknown) => error instanceof OpenAI.APIError && error.status === 401,
      );
      const spans = await traceOf(traceId);
      const auth = one(spans, 'gateway.auth');
      assert.equal(auth.status.code, ERROR);
      const root = one(spans, 'POST /v1/chat/completions');
      assert.equal(root.attributes['http.response.status_code'], 401);
      assert.equal(root.attributes['kordon.org_id'], undefined);
    });

    it('without a traceparent a request starts its own trace', async () => {
      const before = new Set(receiver.spans().map((s) => s.traceId));
      openaiMock.clearRequests();
      await openai().chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'no parent' }],
      });
      const spans = await receiver.waitFor((all) =>
        all.some((s) => !before.has(s.traceId) && s.name === 'POST /v1/chat/completions'),
      );
      const root = spans.find((s) => !before.has(s.traceId) && s.name === 'POST /v1/chat/completions')!;
      assert.equal(root.parentSpanId, '');
      assert.match(root.traceId, /^[0-9a-f]{32}$/);
      assert.match(
        String(openaiMock.requests.at(-1)!.headers.traceparent),
        new RegExp(`^00-${root.traceId}-`),
      );
    });

    it('a caller that does not sample: nothing exported, the provider still gets the trace id, unsampled', async () => {
      const traceId = newTraceId();
      openaiMock.clearRequests();
      await openai().chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'not sampled' }] },
        { headers: { traceparent: `00-${traceId}-${newSpanId()}-00` } },
      );
      assert.match(
        String(openaiMock.requests.at(-1)!.headers.traceparent),
        new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`),
      );
      // A sampled request after it: once its spans are in, the unsampled one would have been too.
      const later = newTraceId();
      await openai().chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'sampled' }] },
        { headers: { traceparent: `00-${later}-${newSpanId()}-01` } },
      );
      await traceOf(later);
      assert.equal(receiver.spans().filter((s) => s.traceId === traceId).length, 0);
    });

    it('a failover: one span per attempt, the failed one with its status, error type and retry', async () => {
      const traceId = newTraceId();
      openaiMock.enqueueScenario('server-error', { key: PRIMARY_KEY });
      openaiMock.clearRequests();
      await openai().chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `failover ${PROMPT_MARK}` }] },
        { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } },
      );
      const spans = await traceOf(traceId);
      const routes = named(spans, 'gateway.route').sort(
        (a, b) => Number(a.attributes['kordon.attempt']) - Number(b.attributes['kordon.attempt']),
      );
      const calls = named(spans, 'provider.openai.chat').sort(
        (a, b) => Number(a.attributes['kordon.attempt']) - Number(b.attributes['kordon.attempt']),
      );
      assert.deepEqual(
        routes.map((s) => s.attributes['kordon.attempt']),
        [1, 2],
      );
      assert.deepEqual(
        calls.map((s) => [s.attributes['kordon.attempt'], s.attributes['kordon.provider']]),
        [
          [1, 'primary'],
          [2, 'secondary'],
        ],
      );
      assert.deepEqual(
        routes.map((s) => s.attributes['kordon.provider_key_id']),
        calls.map((s) => s.attributes['kordon.provider_key_id']),
      );
      const [failed, served] = calls;
      assert.ok(failed && served);
      assert.equal(failed.attributes['http.response.status_code'], 500);
      assert.equal(failed.attributes['error.type'], 'upstream_http_error');
      assert.equal(failed.attributes['kordon.failure_kind'], 'server_error');
      assert.equal(failed.attributes['kordon.retry'], true);
      assert.equal(failed.status.code, ERROR);
      assert.equal(served.attributes['http.response.status_code'], 200);
      assert.equal(served.status.code, 0);
      assert.deepEqual(
        openaiMock.requests.map((r) => r.headers.traceparent),
        [`00-${traceId}-${failed.spanId}-01`, `00-${traceId}-${served.spanId}-01`],
        'each attempt sends its own span as the parent',
      );
      const root = one(spans, 'POST /v1/chat/completions');
      assert.equal(root.attributes['kordon.attempts'], 2);
      assert.equal(root.status.code, 0);
    });

    it('a count that fails over: a route and an attempt span per key asked, numbered in turn', async () => {
      const traceId = newTraceId();
      anthropicMock.enqueueScenario('overloaded'); // whichever key is asked first
      anthropicMock.clearRequests();
      const counted = await new Anthropic({
        baseURL: kordon.url,
        apiKey: aliceKey,
        maxRetries: 0,
      }).messages.countTokens(
        { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: `count ${PROMPT_MARK}` }] },
        { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } },
      );
      assert.ok(counted.input_tokens > 0);
      const spans = await traceOf(traceId, 'POST /v1/messages/count_tokens');
      const byAttempt = (a: ReceivedSpan, b: ReceivedSpan) =>
        Number(a.attributes['kordon.attempt']) - Number(b.attributes['kordon.attempt']);
      const routes = named(spans, 'gateway.route').sort(byAttempt);
      const calls = named(spans, 'provider.anthropic.count_tokens').sort(byAttempt);
      assert.deepEqual(
        routes.map((s) => s.attributes['kordon.attempt']),
        [1, 2],
      );
      assert.deepEqual(
        calls.map((s) => s.attributes['kordon.attempt']),
        [1, 2],
      );
      assert.deepEqual(
        routes.map((s) => s.attributes['kordon.provider_key_id']),
        calls.map((s) => s.attributes['kordon.provider_key_id']),
      );
      const [failed, served] = calls;
      assert.ok(failed && served);
      assert.notEqual(
        failed.attributes['kordon.provider_key_id'],
        served.attributes['kordon.provider_key_id'],
      );
      assert.equal(failed.attributes['http.response.status_code'], 529);
      assert.equal(failed.attributes['kordon.failure_kind'], 'server_error');
      assert.equal(failed.attributes['kordon.retry'], true);
      assert.equal(failed.status.code, ERROR);
      assert.equal(served.attributes['http.response.status_code'], 200);
      assert.deepEqual(
        anthropicMock.requests.map((r) => r.headers.traceparent),
        [`00-${traceId}-${failed.spanId}-01`, `00-${traceId}-${served.spanId}-01`],
        'each attempt sends its own span as the parent',
      );
    });

    it("a streamed Claude answer's attempt span has Claude's finish reason, as the plain answer's span and the caller have it", async () => {
      const anthropic = new Anthropic({ baseURL: kordon.url, apiKey: aliceKey, maxRetries: 0 });
      const plainTrace = newTraceId();
      const plain = await anthropic.messages.create(
        { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { traceparent: `00-${plainTrace}-${newSpanId()}-01` } },
      );
      const plainSpan = one(await traceOf(plainTrace, 'POST /v1/messages'), 'provider.anthropic.chat');
      assert.deepEqual(plainSpan.attributes['gen_ai.response.finish_reasons'], [plain.stop_reason]);

      const streamTrace = newTraceId();
      const stream = await anthropic.messages.create(
        {
          model: 'claude-sonnet-4-5',
          max_tokens: 64,
          stream: true,
          messages: [{ role: 'user', content: 'hi' }],
        },
        { headers: { traceparent: `00-${streamTrace}-${newSpanId()}-01` } },
      );
      let stopReason: string | null | undefined;
      for await (const event of stream)
        if (event.type === 'message_delta') stopReason = event.delta.stop_reason;
      assert.equal(stopReason, 'end_turn');
      const streamSpan = one(await traceOf(streamTrace, 'POST /v1/messages'), 'provider.anthropic.chat');
      // Not ['stop'], Kordon's neutral (OpenAI-worded) reason.
      assert.deepEqual(streamSpan.attributes['gen_ai.response.finish_reasons'], [stopReason]);
    });

    it("a streamed Responses answer's attempt span has its response model and finish reason, as a plain one's has", async () => {
      const plainTrace = newTraceId();
      const plain = await openai().responses.create(
        { model: 'gpt-4o-mini', input: 'hi' },
        { headers: { traceparent: `00-${plainTrace}-${newSpanId()}-01` } },
      );
      const plainSpan = one(await traceOf(plainTrace, 'POST /v1/responses'), 'provider.openai.chat');
      assert.equal(plainSpan.attributes['gen_ai.response.model'], plain.model);
      assert.deepEqual(plainSpan.attributes['gen_ai.response.finish_reasons'], [plain.status]);

      const streamTrace = newTraceId();
      const stream = await openai().responses.create(
        { model: 'gpt-4o-mini', input: 'hi', stream: true },
        { headers: { traceparent: `00-${streamTrace}-${newSpanId()}-01` } },
      );
      let completed: OpenAI.Responses.Response | undefined;
      for await (const event of stream) if (event.type === 'response.completed') completed = event.response;
      assert.ok(completed);
      const streamSpan = one(await traceOf(streamTrace, 'POST /v1/responses'), 'provider.openai.chat');
      assert.deepEqual(
        {
          model: streamSpan.attributes['gen_ai.response.model'],
          finish: streamSpan.attributes['gen_ai.response.finish_reasons'],
        },
        { model: completed.model, finish: [completed.status] },
      );
    });

    // Recording errors: a failed operation SHOULD set status Error AND `error.type` (Conditionally
    // Required on the GenAI inference span "if the operation ended in an error").
    it('a stream the provider broke mid-way: the attempt span has the error.type of the break', async () => {
      const traceId = newTraceId();
      openaiMock.enqueueScenario('reset-mid-stream=3', { key: PRIMARY_KEY });
      const stream = await openai().chat.completions.create(
        {
          model: 'gpt-4o-mini',
          stream: true,
          messages: [{ role: 'user', content: `a long answer please ${PROMPT_MARK}` }],
        },
        { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } },
      );
      await assert.rejects(async () => {
        for await (const _ of stream) {
          // read until the break
        }
      });
      const spans = await traceOf(traceId);
      const call = one(spans, 'provider.openai.chat');
      assert.equal(call.attributes['error.type'], 'upstream_reset');
      assert.equal(call.status.code, ERROR);
      const streamSpan = one(spans, 'gateway.stream');
      assert.equal(streamSpan.attributes['kordon.stream.end'], 'interrupted');
      assert.equal(streamSpan.attributes['error.type'], 'stream_interrupted');
      assert.equal(streamSpan.status.code, ERROR);
      const root = one(spans, 'POST /v1/chat/completions');
      assert.equal(root.attributes['error.type'], 'stream_interrupted');
    });

    // Conditionally Required on the inference span: the seed "if the request includes a seed",
    // the choice count "if available, in the request, and !=1".
    it('a chat that sets a seed and asks for two choices: the attempt span tells both', async () => {
      const traceId = newTraceId();
      await openai().chat.completions.create(
        { model: 'gpt-4o-mini', seed: 42, n: 2, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } },
      );
      const call = one(await traceOf(traceId), 'provider.openai.chat');
      assert.equal(call.attributes['gen_ai.request.seed'], 42);
      assert.equal(call.attributes['gen_ai.request.choice.count'], 2);
    });

    it('nothing secret reaches the exporter: no provider key, no proxy key, no prompt or answer text', () => {
      const exported = receiver.bodies.join('\n');
      assert.ok(exported.length > 0);
      for (const secret of [PRIMARY_KEY, SECONDARY_KEY, ANTHROPIC_KEY, ANTHROPIC_KEY_2, aliceKey, bobKey]) {
        assert.equal(exported.includes(secret), false, 'a secret was exported');
        assert.equal(exported.includes(secret.slice(-12)), false, 'a part of a secret was exported');
      }
      assert.equal(exported.includes('kdn_'), false, 'a proxy key prefix was exported');
      assert.equal(exported.includes(PROMPT_MARK), false, 'prompt (or echoed answer) text was exported');
      assert.equal(/authorization|x-api-key|bearer/i.test(exported), false, 'an auth header was exported');
    });
  });
}
