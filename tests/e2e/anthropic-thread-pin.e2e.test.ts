/**
 * Claude message threads over several keys. Anthropic keeps a thread (`thread: {type:
 * "create"}`, then `{type: "continue", previous_message_id}`) for the account whose key answered;
 * another account's key answers 404 `not_found_error` with `error.details.error_code`
 * `thread_not_found` (the mock does the same), on which the Anthropic SDK replays the whole
 * conversation: slower, and its input billed again. Kordon balances over two keys (two
 * accounts): a continuation must reach the key that answered the reply it continues, and its
 * budget hold must count the conversation the thread holds, which its body does not carry.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import { type MockServer, type RecordedRequest, startAnthropicMock } from '@kordon/mock-providers';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const ACCOUNT_A = 'sk-ant-api03-threadpin-a-abcdefghijklmnopqrstuv';
const ACCOUNT_B = 'sk-ant-api03-threadpin-b-abcdefghijklmnopqrstuv';
/** $1 per million tokens, in and out: a cost in USD is tokens / 1e6. */
const BUDGET_USD = 0.035;
/** Holds a 200K window (about $0.2), not a 1M one ($1). */
const WINDOW_BUDGET_USD = 0.5;

type Body = { thread?: { type: string; previous_message_id?: string }; messages: unknown[] };

const weather = (onRun?: () => void) =>
  betaTool({
    name: 'get_weather',
    description: 'The weather in a city',
    inputSchema: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
    run: ({ city }) => {
      onRun?.();
      return `sunny in ${city}`;
    },
  });

describe('Claude message threads over two keys (accounts)', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  const anthropic = (proxyKey = 'laptop') =>
    new Anthropic({
      apiKey: gateway.proxyKeys.get(`dev@acme.test--${proxyKey}`)!,
      baseURL: gateway.url,
      maxRetries: 0,
    });
  const sent = (): RecordedRequest[] => mock.requests.filter((r) => r.path === '/v1/messages');
  const account = (request: RecordedRequest) =>
    request.key === ACCOUNT_A ? 'A' : request.key === ACCOUNT_B ? 'B' : '?';
  const threadOf = (request: RecordedRequest) => (request.body as Body).thread?.type ?? 'none';

  before(async () => {
    mock = await startAnthropicMock({ keys: [ACCOUNT_A, ACCOUNT_B] });
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    prices:
      claude-sonnet-4-6: { input: 1, output: 1 }
      claude-haiku-4-5: { input: 1, output: 1 }
      claude-sonnet-4-5: { input: 1, output: 1 }
    providers:
      - name: anthropic
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-sonnet-4-6, claude-opus-4-6]
        balancer: round-robin
        keys:
          - { name: account-a, secret: "\${KEY_A}" }
          - { name: account-b, secret: "\${KEY_B}" }
      # Models of a 200K window (Sonnet 4.5: 1M with the beta context-1m-2025-08-07), one account.
      - name: anthropic-200k
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-haiku-4-5, claude-sonnet-4-5]
        keys:
          - { name: account-a-200k, secret: "\${KEY_A}" }
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: laptop }
          - { name: held, limits: { rpm: 1000, budget: { usd: ${BUDGET_USD}, period: 1d } } }
          - { name: haiku, limits: { budget: { usd: ${WINDOW_BUDGET_USD}, period: 1d } } }
          - { name: sonnet-1m, limits: { budget: { usd: ${WINDOW_BUDGET_USD}, period: 1d } } }
`,
      { KEY_A: ACCOUNT_A, KEY_B: ACCOUNT_B },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });
  beforeEach(() => {
    mock.clearRequests();
    mock.setScenario(undefined, { key: ACCOUNT_A });
    mock.setScenario(undefined, { key: ACCOUNT_B });
  });

  it("the tool runner's continuations reach the account that holds the thread, plain and streamed: no thread is lost", async () => {
    // Round robin alone would send every second call to the other account.
    for (const stream of [false, true, false, true]) {
      const from = sent().length;
      const final = await anthropic()
        .beta.messages.toolRunner({
          model: 'claude-sonnet-4-6',
          max_tokens: 200,
          stream,
          messages: [{ role: 'user', content: 'call get_weather Rome' }],
          tools: [weather()],
        })
        .runUntilDone();
      assert.match(JSON.stringify(final.content), /tool result: sunny in Rome/);
      const turns = sent().slice(from);
      assert.deepEqual(
        turns.map(threadOf),
        ['create', 'continue'],
        `no replay after a thread_not_found (stream: ${stream})`,
      );
      assert.equal(account(turns[1]!), account(turns[0]!), 'the continuation went to the thread`s account');
      assert.equal(
        (turns[1]!.body as Body).messages.length,
        1,
        'the continuation carries only the tool result',
      );
    }
    assert.deepEqual(
      new Set(sent().map(account)),
      new Set(['A', 'B']),
      'both accounts served threads (the balancing goes on for new threads)',
    );
  });

  it('a continuation whose account rests goes to the other, whose thread_not_found the runner answers with a replay', async () => {
    let holder: string | undefined;
    const final = await anthropic()
      .beta.messages.toolRunner({
        model: 'claude-sonnet-4-6',
        max_tokens: 200,
        messages: [{ role: 'user', content: 'call get_weather Oslo' }],
        // Between the turns, the account that created the thread is rate limited (Retry-After 1 s).
        tools: [
          weather(() => {
            holder = sent().at(-1)!.key;
            mock.setScenario('rate-limit=1', { key: holder });
          }),
        ],
      })
      .runUntilDone();
    assert.match(JSON.stringify(final.content), /tool result: sunny in Oslo/);
    const turns = sent();
    const other = holder === ACCOUNT_A ? 'B' : 'A';
    assert.deepEqual(
      turns.map((turn) => `${threadOf(turn)}:${account(turn)}`),
      [
        `create:${account(turns[0]!)}`,
        `continue:${account(turns[0]!)}`, // the pinned account: 429, it rests
        `continue:${other}`, // normal balancing: 404 thread_not_found, passed on
        `create:${other}`, // the runner replays the whole conversation under a new thread
      ],
    );
    assert.equal((turns[3]!.body as Body).messages.length, 3);
  });

  it("a continuation is held at the thread's recorded conversation (concurrent continuations stay under the budget); an unknown thread at the context window", async () => {
    // First turns of about 10,000 tokens, on a proxy key without a budget: ten threads, as Claude
    // continues each reply once (a second continuation is its 400 thread_already_continued).
    const question = `${'lorem ipsum '.repeat(3_400)}end`;
    const firsts = await Promise.all(
      Array.from({ length: 10 }, () =>
        anthropic().beta.messages.create({
          model: 'claude-sonnet-4-6',
          max_tokens: 20,
          messages: [{ role: 'user', content: question }],
          thread: { type: 'create' },
        }),
      ),
    );
    for (const first of firsts) {
      const recorded = first.usage.input_tokens + first.usage.output_tokens;
      assert.ok(recorded > 10_000, String(recorded));
    }
    const events = (await gateway.requestEvents()).length;
    // Each continuation is billed the ~10,000 tokens its thread holds ($0.01): without counting
    // them, its hold is its own few bytes, all 10 are admitted together and spend $0.10.
    const client = anthropic('held');
    const outcomes = await Promise.all(
      firsts.map((first) =>
        client.beta.messages
          .create({
            model: 'claude-sonnet-4-6',
            max_tokens: 20,
            messages: [{ role: 'user', content: 'Continue.' }],
            thread: { type: 'continue', previous_message_id: first.id },
          })
          .catch((error: unknown) => error),
      ),
    );
    const answered = outcomes.filter((outcome) => !(outcome instanceof Error));
    assert.ok(answered.length >= 1, 'the budget serves a continuation held at the recorded conversation');
    for (const outcome of outcomes)
      if (outcome instanceof Error)
        assert.ok(outcome instanceof Anthropic.RateLimitError, `refused by the budget: ${String(outcome)}`);
    let spent = 0;
    for (const event of (await gateway.requestEvents()).slice(events))
      if (event.type === 'RequestCompleted') {
        assert.ok(event.data.usage.inputTokens > 10_000, 'billed the held conversation');
        spent += Number(event.data.cost);
      }
    assert.ok(spent <= BUDGET_USD + 1e-12, `${answered.length} continuations spent $${spent.toFixed(6)}`);

    // A thread this process never saw (made elsewhere, before a restart) may hold up to Claude's
    // largest window (1M tokens, $1 here): more than the budget, refused before any call.
    const calls = sent().length;
    const unknown = await client.beta.messages
      .create({
        model: 'claude-sonnet-4-6',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'Continue.' }],
        thread: { type: 'continue', previous_message_id: 'msg_made_elsewhere' },
      })
      .catch((error: unknown) => error);
    // Told as Claude tells a thread it cannot find (404 `thread_not_found`), the SDK's cue to
    // replay the conversation under a new thread; recorded as the budget's refusal.
    assert.ok(unknown instanceof Anthropic.NotFoundError, String(unknown));
    assert.match(unknown.message, /no record of the thread continued from msg_made_elsewhere/);
    assert.match(unknown.message, /may cost up to \$1\.0/);
    assert.deepEqual((unknown.error as { error: { details?: unknown } }).error.details, {
      error_code: 'thread_not_found',
    });
    // The key's rpm as it stands, as on any refusal after the rates: the refused call not counted.
    assert.equal(unknown.headers?.get('anthropic-ratelimit-requests-limit'), '1000');
    const left = Number(unknown.headers?.get('anthropic-ratelimit-requests-remaining') ?? Number.NaN);
    assert.ok(left >= 1000 - answered.length && left <= 1000, `${left} left`);
    assert.equal(sent().length, calls, 'no call');
    const refused = (await gateway.requestEvents()).at(-1)!;
    assert.equal(refused.type, 'RequestRejected');
    assert.equal(refused.data.reason, 'budget_usd');
    assert.equal(refused.data.status, 404);
  });

  it('a thread this gateway has no record of is replayed by the SDK under a new thread when a budget cannot hold its continuation', async () => {
    // The first turn reaches Claude without Kordon (as from a replica or a process before a
    // restart): Kordon never saw the reply the thread continues from.
    const proxyKey = gateway.proxyKeys.get('dev@acme.test--held')!;
    const client = new Anthropic({
      apiKey: proxyKey,
      baseURL: gateway.url,
      maxRetries: 0,
      fetch: async (url, init) => {
        if (sent().length > 0) return fetch(url, init);
        const headers = new Headers(init?.headers);
        headers.set('x-api-key', ACCOUNT_A);
        return fetch(String(url).replace(gateway.url, mock.url), { ...init, headers });
      },
    });
    const thread = client.beta.messages.thread({ model: 'claude-sonnet-4-6', max_tokens: 20 });
    await thread.send({ role: 'user', content: 'Remember the word "teal".' });
    assert.equal(sent().length, 1);
    const events = (await gateway.requestEvents()).length;
    const reply = await thread.send({ role: 'user', content: 'Which word?' });
    assert.equal(reply.role, 'assistant');
    assert.deepEqual(
      sent().map(threadOf),
      ['create', 'create'],
      'the continuation refused before any call, then the whole conversation under a new thread',
    );
    assert.equal((sent()[1]!.body as Body).messages.length, 3);
    const recorded = (await gateway.requestEvents()).slice(events);
    assert.deepEqual(
      recorded.map((event) => [event.type, (event.data as { status?: number }).status]),
      [
        ['RequestRejected', 404],
        ['RequestCompleted', 200],
      ],
    );
  });

  /** A client whose first request reaches Claude (account A) without Kordon, as from a replica. */
  const firstElsewhere = (proxyKeyName: string) =>
    new Anthropic({
      apiKey: gateway.proxyKeys.get(`dev@acme.test--${proxyKeyName}`)!,
      baseURL: gateway.url,
      maxRetries: 0,
      fetch: async (url, init) => {
        if (sent().length > 0) return fetch(url, init);
        const headers = new Headers(init?.headers);
        headers.set('x-api-key', ACCOUNT_A);
        return fetch(String(url).replace(gateway.url, mock.url), { ...init, headers });
      },
    });
  const statuses = (events: readonly { type: string; data: unknown }[]) =>
    events.map((event) => [event.type, (event.data as { status?: number }).status]);

  it("a thread this gateway has no record of is held at its model's window: 200K on Haiku 4.5, sent on; 1M on Sonnet 4.5 with the 1M beta, refused", async () => {
    // Haiku 4.5's window is 200,000 tokens ($0.20 here): the budget of $0.50 holds it, and the
    // continuation reaches Claude, which holds the thread (account A, the provider's one key).
    const haiku = firstElsewhere('haiku').beta.messages.thread({ model: 'claude-haiku-4-5', max_tokens: 20 });
    await haiku.send({ role: 'user', content: 'Remember the word "teal".' });
    let events = (await gateway.requestEvents()).length;
    assert.equal((await haiku.send({ role: 'user', content: 'Which word?' })).role, 'assistant');
    assert.deepEqual(sent().map(threadOf), ['create', 'continue'], 'continued, not refused and replayed');
    assert.deepEqual(statuses((await gateway.requestEvents()).slice(events)), [['RequestCompleted', 200]]);

    // Sonnet 4.5 with the 1M-context beta may hold 1,000,000 tokens ($1): refused as a lost
    // thread (404 thread_not_found), which the SDK replays in full under a new thread.
    mock.clearRequests();
    const sonnet = firstElsewhere('sonnet-1m').beta.messages.thread({
      model: 'claude-sonnet-4-5',
      max_tokens: 20,
      betas: ['context-1m-2025-08-07'],
    });
    await sonnet.send({ role: 'user', content: 'Remember the word "teal".' });
    events = (await gateway.requestEvents()).length;
    assert.equal((await sonnet.send({ role: 'user', content: 'Which word?' })).role, 'assistant');
    assert.deepEqual(sent().map(threadOf), ['create', 'create']);
    assert.match(String(sent()[1]!.headers['anthropic-beta']), /context-1m-2025-08-07/);
    assert.deepEqual(statuses((await gateway.requestEvents()).slice(events)), [
      ['RequestRejected', 404],
      ['RequestCompleted', 200],
    ]);
  });

  it("Claude's thread refusals reach the SDK with their details, count as the caller's (not the key's), are recorded once: the thread replays, a model change throws", async () => {
    const attempts = async () => {
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      const counts = new Map<string, number>();
      for (const [, result, value] of text.matchAll(
        /^kordon_upstream_attempts_total\{[^}]*provider="anthropic"[^}]*result="([a-z_]+)"[^}]*\} (\d+)/gm,
      ))
        counts.set(result!, (counts.get(result!) ?? 0) + Number(value));
      return counts;
    };
    const allBefore = (await gateway.allEvents()).length;
    const attemptsBefore = await attempts();
    const client = anthropic();
    const thread = client.beta.messages.thread({ model: 'claude-sonnet-4-6', max_tokens: 50 });
    const first = await thread.send({ role: 'user', content: 'Remember the word "teal".' });
    const holder = sent()[0]!.key;

    // Another client continued the reply first: Claude's 400 thread_already_continued, on which the
    // thread replays the whole conversation under a new thread.
    await client.beta.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'An aside.' }],
      thread: { type: 'continue', previous_message_id: first.id },
    });
    let events = (await gateway.requestEvents()).length;
    let from = sent().length;
    const second = await thread.send({ role: 'user', content: 'Which word?' });
    assert.equal(second.role, 'assistant');
    let turns = sent().slice(from);
    assert.deepEqual(turns.map(threadOf), ['continue', 'create']);
    assert.equal(turns[0]!.key, holder, 'the continuation went to the thread`s account');
    assert.equal((turns[1]!.body as Body).messages.length, 3, 'replayed in full');
    assert.deepEqual(statuses((await gateway.requestEvents()).slice(events)), [
      ['RequestFailed', 400],
      ['RequestCompleted', 200],
    ]);

    // A continuation still running (its first byte late) when the thread continues from the
    // same reply: Claude's 400 thread_continue_in_flight; streamed, the thread replays as well.
    const secondHolder = sent().at(-1)!.key;
    mock.enqueueScenario('slow-first-byte=500', { key: secondHolder });
    from = sent().length;
    const running = client.beta.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'Another aside.' }],
      thread: { type: 'continue', previous_message_id: second.id },
    });
    while (sent().length === from) await new Promise((resolve) => setTimeout(resolve, 5));
    events = (await gateway.requestEvents()).length;
    const third = await thread.stream({ role: 'user', content: 'And the colour?' }).finalMessage();
    assert.equal(third.role, 'assistant');
    await running;
    turns = sent().slice(from);
    assert.deepEqual(turns.map(threadOf), ['continue', 'continue', 'create']);
    assert.equal(turns[1]!.key, secondHolder);
    assert.equal((turns[2]!.body as Body).messages.length, 5, 'replayed in full');
    const recorded = statuses((await gateway.requestEvents()).slice(events));
    assert.deepEqual(
      recorded.filter(([, status]) => status === 400),
      [['RequestFailed', 400]],
      'the refused continuation, once',
    );
    assert.equal(recorded.length, 3, 'with the replay and the aside, each once');

    // Another model on the thread: Claude's 400 thread_fingerprint_mismatch, which the SDK does
    // not recover from: the caller gets it as Claude sent it.
    thread.update({ model: 'claude-opus-4-6' });
    events = (await gateway.requestEvents()).length;
    from = sent().length;
    const mismatch = await thread.send({ role: 'user', content: 'Once more.' }).then(
      () => assert.fail('answered'),
      (error: unknown) => error,
    );
    assert.ok(mismatch instanceof Anthropic.ThreadFingerprintMismatchError, String(mismatch));
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.errorCode, 'thread_fingerprint_mismatch');
    const body = mismatch.error as { error: { type: string; message: string; details?: unknown } };
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /`model`/);
    assert.deepEqual(body.error.details, { error_code: 'thread_fingerprint_mismatch' });
    assert.deepEqual(sent().slice(from).map(threadOf), ['continue']);
    assert.equal(sent().at(-1)!.key, sent()[from - 1]!.key, 'asked of the thread`s account');
    assert.deepEqual(statuses((await gateway.requestEvents()).slice(events)), [['RequestFailed', 400]]);

    // Each refusal was the request's (not_the_key): no key failed, rested or was disabled.
    const attemptsAfter = await attempts();
    const grew = (result: string) => (attemptsAfter.get(result) ?? 0) - (attemptsBefore.get(result) ?? 0);
    assert.equal(grew('not_the_key'), 3);
    for (const result of [
      'rate_limited',
      'server_error',
      'timeout',
      'connection_failed',
      'auth_refused',
      'error',
    ])
      assert.equal(grew(result), 0, result);
    const keyEvents = (await gateway.allEvents())
      .slice(allBefore)
      .filter((event) => event.type.startsWith('ProviderKey'));
    assert.deepEqual(
      keyEvents.map((event) => event.type),
      [],
    );
  });
});
