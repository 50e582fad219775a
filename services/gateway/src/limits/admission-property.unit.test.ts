import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type KordonEvent,
  type KordonEventData,
  kordonCatalogue,
  type NewEvent,
  streams,
} from '@kordon/events';
import fc from 'fast-check';
import { type PolicyEntry, type RegistryState, registryProjection } from '../registry/registry.js';
import { type AdmissionEstimate, type AdmissionSubject, LimitsEnforcer, type Ticket } from './admission.js';
import { formatUsd } from './amount.js';
import { parseIp } from './ip-address.js';

/*
 * Random lives of one replica's budgets ("not a cent lost"): requests admitted with random
 * estimates at the key, user, team and org at once, ended by a settle (usage at, below or above
 * the estimate, or none) or a release, across period boundaries, with rollover or without.
 * Checked against a model kept by the test: what is held is what the requests in flight hold,
 * what is spent is the sum of the costs settled in the period, a refusal's numbers are the
 * ledger's, and the log the replica wrote rebuilds the same counters, from the start or from a
 * snapshot taken anywhere along it.
 */

const ORG = 'org_p';
type Limits = KordonEventData<'PolicySet'>['limits'];
type Scope = PolicyEntry['scope'];
const T0 = Date.parse('2026-01-30T22:00:00Z');
const HOUR = 3_600_000;

const SCOPES: ReadonlyArray<{ scope: Scope; scopeId: string }> = [
  { scope: 'proxy-key', scopeId: 'pxk_p' },
  { scope: 'user', scopeId: 'usr_p' },
  { scope: 'team', scopeId: 'tm_p' },
  { scope: 'org', scopeId: ORG },
];

interface ScopePolicy {
  readonly usdCents: number;
  readonly usdPeriod: string;
  readonly tokenKind: 'input' | 'output' | 'total';
  readonly tokens: number;
  readonly tokenPeriod: string;
  readonly rollover: boolean;
  readonly rolloverMaxPercent: number | null;
  readonly timeZone: string;
  readonly ipCap: { count: number; period: string } | null;
  readonly concurrency: number | null;
}

const PERIODS = ['6h', '1d', '1w', '1mo', '2d', 'lifetime'];
const ZONES = ['UTC', 'Europe/Berlin', 'America/Santiago', 'Australia/Lord_Howe', 'Asia/Kathmandu'];

const scopePolicy: fc.Arbitrary<ScopePolicy> = fc.record({
  usdCents: fc.integer({ min: 1, max: 2000 }),
  usdPeriod: fc.constantFrom(...PERIODS),
  tokenKind: fc.constantFrom('input' as const, 'output' as const, 'total' as const),
  tokens: fc.integer({ min: 1, max: 100_000 }),
  tokenPeriod: fc.constantFrom(...PERIODS),
  rollover: fc.boolean(),
  rolloverMaxPercent: fc.option(fc.integer({ min: 0, max: 300 }), { nil: null }),
  timeZone: fc.constantFrom(...ZONES),
  concurrency: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
  ipCap: fc.option(
    fc.record({ count: fc.integer({ min: 1, max: 4 }), period: fc.constantFrom(...PERIODS) }),
    {
      nil: null,
    },
  ),
});

function policySet(index: number, p: ScopePolicy, at: number, position: number): KordonEvent {
  const { scope, scopeId } = SCOPES[index]!;
  const limits: Limits = {
    budget: { usd: formatUsd(BigInt(p.usdCents) * 10_000_000_000n), period: p.usdPeriod },
    tokens: { kind: p.tokenKind, count: p.tokens, period: p.tokenPeriod },
    ...(p.ipCap ? { maxDistinctIps: p.ipCap } : {}),
    ...(p.concurrency !== null ? { concurrency: p.concurrency } : {}),
  };
  const renewal: PolicyEntry['renewal'] =
    p.rolloverMaxPercent === null
      ? { rollover: p.rollover, timeZone: p.timeZone }
      : { rollover: p.rollover, rolloverMaxPercent: p.rolloverMaxPercent, timeZone: p.timeZone };
  const event = kordonCatalogue.create(
    'PolicySet',
    streams.policy(ORG, scope, scopeId),
    { scope, scopeId, limits, renewal },
    { orgId: ORG, actor: { kind: 'user', id: 'usr_admin' }, time: new Date(at) },
  );
  return stored(event, position);
}

/** The registry as the log builds it, PolicySet by PolicySet. */
function registryFrom(events: readonly KordonEvent[]): RegistryState {
  const state = registryProjection.initialState();
  for (const event of events) if (event.type === 'PolicySet') registryProjection.evolve(state, event);
  return state;
}

type Step =
  | { kind: 'admit'; usdMicro: number; input: number; output: number; ip: number; advanceMin: number }
  | { kind: 'end'; pick: number; how: 'settle' | 'release'; ratio: number; advanceMin: number }
  | { kind: 'policy'; index: number; policy: ScopePolicy; advanceMin: number }
  | { kind: 'snapshot' }
  | { kind: 'catchUp' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('admit' as const),
    usdMicro: fc.integer({ min: 0, max: 300_000 }),
    input: fc.integer({ min: 0, max: 2000 }),
    output: fc.integer({ min: 0, max: 2000 }),
    ip: fc.nat({ max: 5 }),
    advanceMin: fc.constantFrom(0, 0, 1, 7, 59, 61, 600, 1440, 4000),
  }),
  fc.record({
    kind: fc.constant('end' as const),
    pick: fc.nat(),
    how: fc.constantFrom('settle' as const, 'settle' as const, 'release' as const),
    // Usage as a share of the estimate, in percent: none, below, all of it, above.
    ratio: fc.constantFrom(0, 13, 50, 100, 100, 150, 333),
    advanceMin: fc.constantFrom(0, 0, 1, 59, 600, 1440),
  }),
  fc.record({
    kind: fc.constant('policy' as const),
    index: fc.integer({ min: 0, max: 3 }),
    policy: scopePolicy,
    advanceMin: fc.constantFrom(0, 1, 600, 1440),
  }),
  fc.constant({ kind: 'snapshot' as const }),
  fc.constant({ kind: 'catchUp' as const }),
);

/** A stored RequestCompleted of the test's subject, as the log delivers it. */
function completedEvent(
  requestId: string,
  cost: string,
  input: number,
  output: number,
  at: number,
  position: number,
  clientIp: string,
): KordonEvent {
  const event = kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(ORG),
    {
      requestId,
      proxyKeyId: 'pxk_p',
      userId: 'usr_p',
      teamId: 'tm_p',
      provider: 'openai',
      providerKeyId: 'prk_1',
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      stream: false,
      usage: { inputTokens: input, outputTokens: output, cachedInputTokens: 0 },
      cost,
      currency: 'USD',
      latencyMs: 10,
      timeToFirstTokenMs: null,
      status: 200,
      clientIp,
      attempts: 1,
      redactedPrompt: null,
      redactedResponse: null,
    },
    { orgId: ORG, actor: { kind: 'proxy-key', id: 'pxk_p' }, time: new Date(at) },
  );
  return { ...event, position, streamVersion: position } as unknown as KordonEvent;
}

function stored(event: NewEvent, position: number): KordonEvent {
  return { ...event, position, streamVersion: position } as unknown as KordonEvent;
}

interface Live {
  readonly ticket: Ticket;
  readonly usd: bigint;
  readonly input: number;
  readonly output: number;
}

function tokenCount(kind: ScopePolicy['tokenKind'], input: number, output: number): bigint {
  return BigInt(kind === 'input' ? input : kind === 'output' ? output : input + output);
}

/**
 * The ledgers' counters, in a form two enforcers can be compared by: holds and pending left out,
 * and the allowance, which comes from the policy at the next admission, not from the log; a
 * counter that never counted or renewed anything is as good as none.
 */
function counters(limits: LimitsEnforcer) {
  const { usd, tokens, ips } = limits.snapshot();
  const sorted = (scopes: typeof usd.scopes) =>
    scopes
      .map(({ allowance: _, ...counter }) => counter)
      .filter((c) => c.used !== '0' || c.rolledOver !== '0' || c.baseline !== '0' || c.periodStart !== null)
      .sort((a, b) => a.scopeKey.localeCompare(b.scopeKey));
  // Each distinct-address set of its period, as every replica learns it from usage events.
  const addresses = ips
    .filter((set) => set.ips.length > 0)
    .map((set) => ({ key: set.key, periodStart: set.periodStart, ips: [...set.ips].sort() }))
    .sort((a, b) => a.key.localeCompare(b.key));
  return { usd: sorted(usd.scopes), tokens: sorted(tokens.scopes), addresses };
}

function live(initial: readonly ScopePolicy[], steps: readonly Step[]): void {
  const log: KordonEvent[] = initial.map((p, index) => policySet(index, p, T0 - HOUR, index + 1));
  const policies = [...initial];
  const periodChanged = [false, false, false, false];
  const registry = registryFrom(log);
  const append = (event: NewEvent) => log.push(stored(event, log.length + 1));
  // Holds expire after a day (documented); these lives run for weeks, with requests that never end.
  const limits = new LimitsEnforcer({ registry: () => registry, emit: append, reservationTtlMs: 1e13 });
  const inFlight: Live[] = [];
  /** Every settled request: when, and what it cost. */
  const settled: Array<{ at: number; usd: bigint; input: number; output: number }> = [];
  const snapshots: Array<{ position: number; snapshot: ReturnType<LimitsEnforcer['snapshot']> }> = [];
  let observed = 0;
  // Its own events come back through the log, as the subscription delivers them.
  const catchUp = () => {
    for (; observed < log.length; observed++) {
      const event = log[observed]!;
      if (event.type === 'RequestCompleted' && limits.admittedHere(event.data.requestId))
        limits.observeOwn(event.data.requestId);
      else limits.observe(event);
    }
  };
  let now = T0;
  let sequence = 0;

  // Spend stays within the budget while no request costs more than its estimate and no budget
  // was lowered (lowering one below what was spent is what lowering means: docs/limits.md).
  let overran = false;
  const checkHeldAndSpent = () => {
    for (const { scope, scopeId } of SCOPES) {
      const view = limits.usdView(scope, scopeId);
      if (!overran && view.allowance !== null)
        assert.ok(
          view.used - view.baseline <= view.allowance + view.rolledOver,
          `${scope}: spent past its budget`,
        );
      const held = inFlight.reduce((sum, r) => sum + r.usd, 0n);
      assert.equal(view.reserved, held, `${scope}: held`);
      const spent = settled.filter((s) => s.at >= view.periodStart).reduce((sum, s) => sum + s.usd, 0n);
      assert.equal(
        view.used - view.baseline,
        spent,
        `${scope}: spent in the period from ${view.periodStart}`,
      );
    }
  };

  for (const s of steps) {
    if (s.kind === 'snapshot') {
      // Taken as the log stands here: its own events not yet back are pending in it.
      snapshots.push({ position: observed, snapshot: limits.snapshot() });
      continue;
    }
    if (s.kind === 'catchUp') {
      catchUp();
      continue;
    }
    now += s.advanceMin * 60_000;
    if (s.kind === 'policy') {
      // Another token kind is another budget, with a counter of its own: kept, to follow one.
      // A period (or zone) changes at most once a scope, never to lifetime, and nothing is set
      // on that scope after it: see the report of this audit (a later PolicySet dates the change
      // differently on a replica that saw it and on one rebuilding from the log).
      if (periodChanged[s.index]) continue;
      const before = policies[s.index]!;
      const keep = (next: string, was: string) => (next === 'lifetime' && was !== 'lifetime' ? was : next);
      const policy = {
        ...s.policy,
        tokenKind: before.tokenKind,
        // A cap removed while a request holds an address: see the report of this audit.
        ipCap: before.ipCap,
        // A concurrency limit set while requests are in flight counts from then: kept, to follow it.
        concurrency: before.concurrency,
        // So is a zone change under a cap: held in the old zone's period, it reads another.
        timeZone: before.ipCap ? before.timeZone : s.policy.timeZone,
        usdPeriod: keep(s.policy.usdPeriod, before.usdPeriod),
        tokenPeriod: keep(s.policy.tokenPeriod, before.tokenPeriod),
      };
      periodChanged[s.index] =
        policy.usdPeriod !== before.usdPeriod ||
        policy.tokenPeriod !== before.tokenPeriod ||
        policy.timeZone !== before.timeZone;
      policies[s.index] = policy;
      overran = true;
      const event = policySet(s.index, policy, now, log.length + 1);
      log.push(event);
      registryProjection.evolve(registry, event);
    } else if (s.kind === 'admit') {
      sequence++;
      const requestId = `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`;
      const subject: AdmissionSubject = {
        orgId: ORG,
        proxyKeyId: 'pxk_p',
        userId: 'usr_p',
        teamId: 'tm_p',
        requestId,
        clientAddress: parseIp(`10.1.2.${s.ip}`),
        model: 'gpt-4o-mini',
      };
      const usd = BigInt(s.usdMicro) * 1_000_000n;
      const expected: AdmissionEstimate = { bound: false, usd, inputTokens: s.input, outputTokens: s.output };
      const admission = limits.admit(subject, () => expected, now);
      // Every request is under all four scopes: the tightest concurrency limit is full or not.
      const slots = Math.min(...policies.map((p) => p.concurrency ?? Number.POSITIVE_INFINITY));
      const full = inFlight.length >= slots;
      if (!admission.ok && admission.reason !== 'ip_cap')
        assert.equal(
          admission.reason === 'concurrency',
          full,
          `refused ${admission.reason}, ${inFlight.length} in flight of ${slots}`,
        );
      if (admission.ok) assert.ok(!full, `admitted with ${inFlight.length} in flight of ${slots}`);
      if (admission.ok) {
        inFlight.push({ ticket: admission, usd, input: s.input, output: s.output });
        // Admitted: it fitted every USD budget (as it stood after any renewal).
        for (const { scope, scopeId } of SCOPES) {
          const view = limits.usdView(scope, scopeId);
          assert.ok(view.available !== null && view.available >= 0n, `${scope}: admitted past its budget`);
        }
      } else {
        assert.ok(
          admission.reason === 'budget_usd' ||
            admission.reason === 'budget_tokens' ||
            admission.reason === 'ip_cap' ||
            admission.reason === 'concurrency',
          `refused by ${admission.reason}`,
        );
        if (admission.reason === 'budget_usd') {
          const { scope, scopeId } = admission.limitScope;
          const view = limits.usdView(scope, scopeId);
          assert.ok(view.available !== null && usd > view.available, `${scope}: refused though it fitted`);
        }
      }
    } else if (inFlight.length > 0) {
      const [request] = inFlight.splice(s.pick % inFlight.length, 1);
      const { ticket } = request!;
      if (s.how === 'release') limits.release(ticket);
      else {
        const cost = (request!.usd * BigInt(s.ratio)) / 100n;
        if (s.ratio > 100) overran = true;
        const input = Math.floor((request!.input * s.ratio) / 100);
        const output = Math.floor((request!.output * s.ratio) / 100);
        limits.settle(ticket, { usd: formatUsd(cost), inputTokens: input, outputTokens: output }, now);
        // Written after settle, which logs any LimitReset first.
        log.push(
          completedEvent(
            ticket.subject.requestId,
            formatUsd(cost),
            input,
            output,
            now,
            log.length + 1,
            ticket.subject.clientAddress!.text,
          ),
        );
        settled.push({ at: now, usd: cost, input, output });
      }
    }
    checkHeldAndSpent();
  }

  // Every request ends: nothing is held any more.
  for (const request of inFlight.splice(0)) limits.release(request.ticket);
  catchUp();
  checkHeldAndSpent();
  for (const { scope, scopeId } of SCOPES) assert.equal(limits.usdView(scope, scopeId).reserved, 0n);

  // The token budgets: each kind's counter is the sum of its kind's settled usage in the period.
  const { tokens } = limits.snapshot();
  for (const [index, { scope, scopeId }] of SCOPES.entries()) {
    const policy = policies[index]!;
    const tag = { 'proxy-key': 'k', user: 'u', team: 't', org: 'o' }[scope];
    const entry = tokens.scopes.find((e) => e.scopeKey === `${tag}:${scopeId}:tok-${policy.tokenKind}`);
    if (entry === undefined) {
      assert.equal(settled.length, 0, `${scope}: no token counter, yet requests were settled`);
      continue;
    }
    const start = entry.periodStart ?? Number.NEGATIVE_INFINITY;
    const spent = settled
      .filter((x) => x.at >= start)
      .reduce((sum, x) => sum + tokenCount(policy.tokenKind, x.input, x.output), 0n);
    assert.equal(BigInt(entry.used) - BigInt(entry.baseline), spent, `${scope}: tokens spent`);
  }

  // The log rebuilds the same counters: all of it, and from each snapshot plus what follows.
  const expected = counters(limits);
  // A rebuilding replica's registry follows the same log.
  const rebuild = (from: number, restore?: (limits: LimitsEnforcer) => void) => {
    const state = registryFrom(log.slice(0, from));
    const rebuilt = new LimitsEnforcer({ registry: () => state, emit: () => {} });
    restore?.(rebuilt);
    for (const event of log.slice(from)) {
      if (event.type === 'PolicySet') registryProjection.evolve(state, event);
      rebuilt.observe(event);
    }
    return rebuilt;
  };
  assert.deepEqual(counters(rebuild(0)), expected, 'replayed from the start');
  for (const { position, snapshot } of snapshots) {
    const restored = rebuild(position, (limits) => limits.restore(JSON.parse(JSON.stringify(snapshot)), now));
    assert.deepEqual(counters(restored), expected, `restored from the snapshot at ${position}`);
  }
}

describe('LimitsEnforcer, random lives of four scopes budgets', () => {
  it('holds return to 0, spend is the settled costs, the log rebuilds the counters', () => {
    fc.assert(
      fc.property(
        fc.array(scopePolicy, { minLength: 4, maxLength: 4 }),
        fc.array(step, { minLength: 5, maxLength: 80, size: 'max' }),
        live,
      ),
      { seed: 20261206, numRuns: 400, includeErrorInReport: true },
    );
  });
});

type ReplicaStep =
  | {
      kind: 'admit';
      replica: 0 | 1;
      usdMicro: number;
      input: number;
      output: number;
      ip: number;
      advanceMin: number;
    }
  | { kind: 'end'; replica: 0 | 1; pick: number; ratio: number; release: boolean; advanceMin: number }
  | { kind: 'catchUp'; replica: 0 | 1 };

const replicaStep: fc.Arbitrary<ReplicaStep> = fc.oneof(
  fc.record({
    kind: fc.constant('admit' as const),
    replica: fc.constantFrom(0 as const, 1 as const),
    usdMicro: fc.integer({ min: 0, max: 300_000 }),
    input: fc.integer({ min: 0, max: 2000 }),
    output: fc.integer({ min: 0, max: 2000 }),
    ip: fc.nat({ max: 5 }),
    advanceMin: fc.constantFrom(0, 0, 1, 59, 61, 600, 1440),
  }),
  fc.record({
    kind: fc.constant('end' as const),
    replica: fc.constantFrom(0 as const, 1 as const),
    pick: fc.nat(),
    ratio: fc.constantFrom(0, 50, 100, 150),
    release: fc.boolean(),
    advanceMin: fc.constantFrom(0, 0, 1, 59, 600, 1440),
  }),
  fc.record({ kind: fc.constant('catchUp' as const), replica: fc.constantFrom(0 as const, 1 as const) }),
);

/** Two replicas on one log: each learns the other's usage and resets from it. */
function twoReplicas(initial: readonly ScopePolicy[], steps: readonly ReplicaStep[]): void {
  const log: KordonEvent[] = initial.map((p, index) => policySet(index, p, T0 - HOUR, index + 1));
  const registry = registryFrom(log);
  const ids = new Set<string>();
  // The store keeps one copy of an id (two replicas renewing one period write the same LimitReset).
  const append = (event: NewEvent) => {
    if (ids.has(event.id)) return;
    ids.add(event.id);
    log.push(stored(event, log.length + 1));
  };
  const replicas = [0, 1].map(() => ({
    limits: new LimitsEnforcer({ registry: () => registry, emit: append, reservationTtlMs: 1e13 }),
    inFlight: [] as Live[],
    observed: 0,
  }));
  const catchUp = (replica: (typeof replicas)[number]) => {
    for (; replica.observed < log.length; replica.observed++) {
      const event = log[replica.observed]!;
      if (event.type === 'RequestCompleted' && replica.limits.admittedHere(event.data.requestId))
        replica.limits.observeOwn(event.data.requestId);
      else replica.limits.observe(event);
    }
  };
  const settled: Array<{ at: number; usd: bigint; input: number; output: number }> = [];
  let now = T0;
  let sequence = 0;
  for (const s of steps) {
    const replica = replicas[s.replica]!;
    if (s.kind === 'catchUp') {
      catchUp(replica);
      continue;
    }
    now += s.advanceMin * 60_000;
    if (s.kind === 'admit') {
      sequence++;
      const admission = replica.limits.admit(
        {
          orgId: ORG,
          proxyKeyId: 'pxk_p',
          userId: 'usr_p',
          teamId: 'tm_p',
          requestId: `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`,
          clientAddress: parseIp(`10.1.2.${s.ip}`),
          model: 'gpt-4o-mini',
        },
        () => ({
          bound: false,
          usd: BigInt(s.usdMicro) * 1_000_000n,
          inputTokens: s.input,
          outputTokens: s.output,
        }),
        now,
      );
      if (admission.ok)
        replica.inFlight.push({
          ticket: admission,
          usd: BigInt(s.usdMicro) * 1_000_000n,
          input: s.input,
          output: s.output,
        });
    } else if (replica.inFlight.length > 0) {
      const [request] = replica.inFlight.splice(s.pick % replica.inFlight.length, 1);
      const { ticket, usd, input, output } = request!;
      if (s.release) replica.limits.release(ticket);
      else {
        const cost = (usd * BigInt(s.ratio)) / 100n;
        const used = {
          input: Math.floor((input * s.ratio) / 100),
          output: Math.floor((output * s.ratio) / 100),
        };
        replica.limits.settle(
          ticket,
          { usd: formatUsd(cost), inputTokens: used.input, outputTokens: used.output },
          now,
        );
        append({
          ...completedEvent(
            ticket.subject.requestId,
            formatUsd(cost),
            used.input,
            used.output,
            now,
            0,
            ticket.subject.clientAddress!.text,
          ),
        } as unknown as NewEvent);
        settled.push({ at: now, usd: cost, ...used });
      }
    }
    // A replica's holds are its own requests in flight.
    for (const { limits, inFlight } of replicas) {
      const held = inFlight.reduce((sum, r) => sum + r.usd, 0n);
      for (const { scope, scopeId } of SCOPES) assert.equal(limits.usdView(scope, scopeId).reserved, held);
    }
  }
  for (const replica of replicas)
    for (const request of replica.inFlight.splice(0)) replica.limits.release(request.ticket);
  // Both caught up (twice: a renewal one writes while catching up reaches the other).
  for (const _ of [0, 1]) for (const replica of replicas) catchUp(replica);
  for (const [index, { limits }] of replicas.entries())
    for (const { scope, scopeId } of SCOPES) {
      const view = limits.usdView(scope, scopeId);
      assert.equal(view.reserved, 0n);
      const spent = settled.filter((x) => x.at >= view.periodStart).reduce((sum, x) => sum + x.usd, 0n);
      assert.equal(
        view.used - view.baseline,
        spent,
        `replica ${index}, ${scope}: spent from ${view.periodStart}`,
      );
    }
  // Budgets agree; address sets need not: before either learns the other's, each replica may fill
  // a cap on its own, and each keeps at most cap + 1 of the addresses (see the audit's report).
  const budgets = (limits: LimitsEnforcer) => {
    const { usd, tokens } = counters(limits);
    return { usd, tokens };
  };
  assert.deepEqual(budgets(replicas[0]!.limits), budgets(replicas[1]!.limits), 'the replicas agree');
}

describe('LimitsEnforcer, two replicas on one log', () => {
  it('each replica holds its own requests, and both count every settled cost once, in its period', () => {
    fc.assert(
      fc.property(
        fc.array(scopePolicy, { minLength: 4, maxLength: 4 }),
        fc.array(replicaStep, { minLength: 5, maxLength: 80, size: 'max' }),
        twoReplicas,
      ),
      { seed: 20261207, numRuns: 300, includeErrorInReport: true },
    );
  });
});
