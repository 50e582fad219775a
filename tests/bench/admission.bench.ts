/**
 * bench:admission — what limits add to a request, in memory: `admit` then `settle` for a
 * request whose key, user, team and org all have policies, against none at all; and the
 * budget estimate (the prompt counted with the model's tokenizer), which admission makes only
 * when a budget or a token rate applies. Best of `--runs` (default 3) loops of `--requests`.
 *   node --conditions=development --import tsx tests/bench/admission.bench.ts
 */
import type { KordonEventData } from '@kordon/events';
import {
  type AdmissionSubject,
  LimitsEnforcer,
  parseIp,
  parseUsd,
} from '../../services/gateway/src/limits/index.js';
import { registryProjection } from '../../services/gateway/src/registry/registry.js';
import { estimateRequestTokens } from '../../services/gateway/src/tokens/index.js';
import { argNumber } from './bench-args.js';

const REQUESTS = argNumber('requests', 200_000);
const RUNS = argNumber('runs', 3);
const ORG = 'org_bench';
type Limits = KordonEventData<'PolicySet'>['limits'];

function enforcerWith(policies: Record<string, Limits>) {
  const state = registryProjection.initialState();
  for (const [scopeKey, limits] of Object.entries(policies)) {
    const [scope, scopeId] = scopeKey.split('/') as ['org' | 'team' | 'user' | 'proxy-key', string];
    state.policies.set(`${ORG}/${scope}/${scopeId}`, {
      orgId: ORG,
      scope,
      scopeId,
      limits,
      renewal: { timeZone: 'Europe/Berlin' },
      managedBy: 'config',
    });
  }
  return new LimitsEnforcer({ registry: () => state, emit: () => {} });
}

const FULL: Record<string, Limits> = {
  'proxy-key/pxk_1': {
    rpm: 1_000_000_000,
    tpm: 1_000_000_000,
    concurrency: 1000,
    budget: { usd: '1000000', period: '1d' },
    maxDistinctIps: { count: 3, period: '1d' },
  },
  'user/usr_1': {
    budget: { usd: '1000000', period: '1mo' },
    tokens: { kind: 'total', count: 1e12, period: '1w' },
  },
  'team/tm_1': { rpm: 1_000_000_000, models: ['gpt-4o*'] },
  'org/org_bench': {
    budget: { usd: '10000000', period: '1mo' },
    ipAllow: ['10.0.0.0/8'],
    ipDeny: ['10.66.0.0/16'],
  },
};

const address = parseIp('10.1.2.3');
const estimate = () => ({ bound: true, usd: parseUsd('0.0042'), inputTokens: 600, outputTokens: 400 });
const usage = { usd: '0.0031', inputTokens: 600, outputTokens: 210 };

function measure(policies: Record<string, Limits>): number {
  const limits = enforcerWith(policies);
  const ids = Array.from(
    { length: 1024 },
    (_, i) => `0192f000-0000-7000-8000-${String(i).padStart(12, '0')}`,
  );
  let now = Date.parse('2026-11-30T10:00:00Z');
  let n = 0;
  const loop = (count: number) => {
    for (let i = 0; i < count; i++) {
      now += 0.01;
      const subject: AdmissionSubject = {
        orgId: ORG,
        proxyKeyId: 'pxk_1',
        userId: 'usr_1',
        teamId: 'tm_1',
        requestId: `${ids[n++ % 1024]}-${n}`,
        clientAddress: address,
        model: 'gpt-4o-mini',
      };
      const ticket = limits.admit(subject, estimate, now);
      if (!ticket.ok) throw new Error(`refused: ${ticket.reason}`);
      limits.settle(ticket, usage, now);
    }
  };
  loop(20_000);
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < RUNS; run++) {
    const started = process.hrtime.bigint();
    loop(REQUESTS);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / REQUESTS / 1000);
  }
  return best;
}

function measureEstimate(): number {
  const body = {
    model: 'gpt-4o-mini',
    max_tokens: 400,
    messages: [
      { role: 'system', content: 'You are a careful assistant who answers in short sentences. '.repeat(8) },
      {
        role: 'user',
        content: 'Summarise the following text for a busy reader, in three bullet points. '.repeat(30),
      },
    ],
  };
  const loop = (count: number) => {
    for (let i = 0; i < count; i++) {
      const result = estimateRequestTokens({ dialect: 'openai-chat', body, model: 'gpt-4o-mini' });
      if (!result.ok) throw new Error(result.error);
    }
  };
  loop(2_000);
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < RUNS; run++) {
    const started = process.hrtime.bigint();
    loop(20_000);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 20_000 / 1000);
  }
  return best;
}

const rows = [
  ['admit + settle, no policy on any scope', measure({})],
  ['admit + settle, key/user/team/org policies (every kind of limit)', measure(FULL)],
  ['budget estimate: a ~750-token chat prompt through the tokenizer', measureEstimate()],
] as const;
console.log(`node ${process.version}, best of ${RUNS}`);
console.log('| µs per request | |\n| --- | ---: |');
for (const [name, us] of rows) console.log(`| ${name} | ${us.toFixed(2)} |`);
