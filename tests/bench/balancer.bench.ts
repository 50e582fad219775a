/**
 * bench:balancer — the cost of one provider-key selection, in memory, for each strategy with
 * 10, 100 and 1,000 keys, with and without stickiness. A plain loop timed with
 * process.hrtime.bigint: warm-up, then `--selections` (default 1e6) selections, best of
 * `--runs` (default 3), printed as ns per selection.
 *
 * The clock moves 10 µs per selection (100,000 requests per second), so adaptive's weight
 * recompute (every 100 ms) runs every 10,000 selections and its cost is in the figures. Adaptive
 * keys get spread-out latencies and quotas first, so their effective weights fall into many
 * classes, not one.
 *   node --conditions=development --import tsx tests/bench/balancer.bench.ts [--selections 1000000]
 */

import { seededRandom } from '@kordon/mock-providers';
import { Balancer, type BalancerKey, type Strategy } from '../../services/gateway/src/balancer/index.js';
import { argNumber } from './bench-args.js';

const SELECTIONS = argNumber('selections', 1_000_000);
const RUNS = argNumber('runs', 3);
const WARM_UP = Math.min(200_000, SELECTIONS);
const SIZES = [10, 100, 1_000] as const;
const GROUP = 'org_bench/openai';
const START = 1_700_000_000_000;
const STEP_MS = 0.01;

interface Case {
  name: string;
  strategy: Strategy;
  /** Sessions cycled through; 0: no stickiness. */
  sessions: number;
  /** Report a success after every selection (adaptive's full request cycle). */
  report?: boolean;
}

const CASES: Case[] = [
  { name: 'adaptive', strategy: 'adaptive', sessions: 0 },
  { name: 'weighted', strategy: 'weighted', sessions: 0 },
  { name: 'round-robin', strategy: 'round-robin', sessions: 0 },
  { name: 'adaptive + sticky (1k sessions, hits)', strategy: 'adaptive', sessions: 1_000 },
  { name: 'adaptive + sticky (new sessions, misses)', strategy: 'adaptive', sessions: 50_000 },
  { name: 'adaptive, pick + reportSuccess', strategy: 'adaptive', sessions: 0, report: true },
];

function setUp(c: Case, size: number): { balancer: Balancer; keys: BalancerKey[] } {
  // Seeded: every run benches the same state.
  const random = seededRandom(size);
  const keys: BalancerKey[] = Array.from({ length: size }, (_, i) => ({
    providerKeyId: `pk_${i.toString().padStart(5, '0')}`,
    weight: 1 + (i % 5),
  }));
  // Capacity below the miss case's session count, so that case really misses.
  const balancer = new Balancer({ stickyCapacity: 10_000 });
  balancer.setGroup(GROUP, keys, { strategy: c.strategy });
  for (const key of keys) {
    balancer.reportSuccess(key.providerKeyId, {
      now: START,
      latencyMs: 200 + random() * 1_800,
      rateLimits: { limitRequests: 10_000, remainingRequests: Math.floor(10_000 * (0.2 + 0.8 * random())) },
    });
  }
  return { balancer, keys };
}

function measure(c: Case, size: number): number {
  const { balancer } = setUp(c, size);
  const sessions = Array.from({ length: c.sessions }, (_, i) => `session-${i}`);
  let now = START;
  let sink = 0;
  const loop = (count: number) => {
    for (let i = 0; i < count; i++) {
      now += STEP_MS;
      const session = c.sessions === 0 ? undefined : sessions[i % c.sessions];
      const key = balancer.pick(GROUP, now, session);
      if (key === undefined) throw new Error('no key picked');
      if (c.report) balancer.reportSuccess(key.providerKeyId, { now, latencyMs: 300 });
      sink += key.weight;
    }
  };
  loop(WARM_UP);
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < RUNS; run++) {
    const started = process.hrtime.bigint();
    loop(SELECTIONS);
    const ns = Number(process.hrtime.bigint() - started) / SELECTIONS;
    best = Math.min(best, ns);
  }
  if (sink === 0) throw new Error('unreachable');
  return best;
}

const rows: string[][] = [];
for (const c of CASES) {
  const cells = [c.name];
  for (const size of SIZES) cells.push(measure(c, size).toFixed(0));
  rows.push(cells);
  console.error(`done: ${c.name}`);
}

const header = ['ns per selection', ...SIZES.map((n) => `${n.toLocaleString('en')} keys`)];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
console.log(`node ${process.version}, ${SELECTIONS.toLocaleString('en')} selections, best of ${RUNS}`);
console.log(line(header));
console.log(`| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`);
for (const row of rows) console.log(line(row));
