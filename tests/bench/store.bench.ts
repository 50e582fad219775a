/**
 * bench:store — the event store through the group-commit appender, on PGlite (data
 * folder on disk) and PostgreSQL (fsync on). Prints, per store:
 *  - throughput: request-sized events handed over as fast as possible, until all durable;
 *  - latency: append-to-durable p50/p99 at a steady offered rate (the target rate);
 *  - catch-up: a subscription reading the whole log from position zero;
 *  - PostgreSQL only, replicas: several store instances, each with its own pool as a gateway
 *    replica has, appending 50-event batches back to back: what the one append lock allows.
 * PostgreSQL: KORDON_BENCH_DATABASE_URL, else KORDON_TEST_DATABASE_URL, else a
 * throwaway cluster when PostgreSQL is installed.
 *   npm run bench:store [-- --events 100000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createPgliteEventStore,
  createPostgresEventStore,
  type EventStore,
  GroupCommitAppender,
  type NewEvent,
  newEventId,
  Spool,
} from '@kordon/events';
import { createTestDatabase, requestCompletedEvent } from '@kordon/events/testing';
import { postgresAvailable, startPostgresCluster } from '@kordon/infra';
import { argNumber } from './bench-args.js';

const EVENTS = argNumber('events', 100_000);
const LATENCY_SECONDS = argNumber('seconds', 5);

interface Result {
  store: string;
  throughput: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
  catchUp: number;
  bytesPerEvent: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function measure(name: string, store: EventStore, targetRate: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'kordon-bench-spool-'));
  const appender = new GroupCommitAppender({
    store,
    spool: new Spool({ dir, maxBytes: 1 << 30 }),
    deadLetterDir: dir,
    maxBatch: 1000,
    maxDelayMs: 5,
  });
  const events: NewEvent[] = Array.from({ length: EVENTS }, (_, i) => requestCompletedEvent('org_bench', i));
  const bytesPerEvent = Math.round(JSON.stringify(events[0]).length);

  // Warm-up, so the first batch's JIT and connection setup are not measured.
  await Promise.all(
    Array.from({ length: 2000 }, (_, i) => appender.append(requestCompletedEvent('org_warm', i))),
  );

  // 1. Throughput: everything at once, wait until durable.
  const started = performance.now();
  for (let i = 0; i < events.length; i++) {
    appender.enqueue(events[i]!);
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r)); // let flushes run, as a server would
  }
  await appender.flush();
  const throughput = events.length / ((performance.now() - started) / 1000);

  // 2. Latency at a steady offered rate: each millisecond tick hands over rate/1000 events.
  const latencies: number[] = [];
  const perTick = targetRate / 1000;
  const total = targetRate * LATENCY_SECONDS;
  const pending: Promise<void>[] = [];
  const begin = performance.now();
  let handed = 0;
  let sequence = 0;
  while (handed < total) {
    const due = Math.min(total, Math.floor((performance.now() - begin) * perTick));
    for (; handed < due; handed++) {
      const t0 = performance.now();
      pending.push(
        appender.append(requestCompletedEvent('org_latency', sequence++)).then(() => {
          latencies.push(performance.now() - t0);
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  const achievedRate = total / ((performance.now() - begin) / 1000);
  latencies.sort((a, b) => a - b);

  // 3. Catch-up: a subscription reading the whole log.
  const head = await store.headPosition();
  const readStart = performance.now();
  let read = 0;
  const subscription = store.subscribe({
    after: 0,
    batchSize: 5000,
    onEvents: (batch) => {
      read += batch.length;
    },
  });
  await subscription.waitFor(head, 600_000);
  const catchUp = read / ((performance.now() - readStart) / 1000);
  await subscription.stop();
  await appender.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    store: name,
    throughput,
    rate: achievedRate,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? 0,
    catchUp,
    bytesPerEvent,
  };
}

const REPLICAS = argNumber('replicas', 4);
const REPLICA_BATCH = 50;

interface ReplicasResult {
  throughput: number;
  p50: number;
  p99: number;
}

async function measureReplicas(url: string): Promise<ReplicasResult> {
  const stores = await Promise.all(
    Array.from({ length: REPLICAS }, () => createPostgresEventStore({ connectionString: url })),
  );
  const latencies: number[] = [];
  let written = 0;
  const template = requestCompletedEvent('org_replicas', 0);
  const begin = performance.now();
  const until = begin + LATENCY_SECONDS * 1000;
  await Promise.all(
    stores.map(async (store) => {
      while (performance.now() < until) {
        // Copies of one event with fresh ids: making events is not what is measured here.
        const batch = Array.from({ length: REPLICA_BATCH }, () => ({ ...template, id: newEventId() }));
        const t0 = performance.now();
        const result = await store.appendMany(batch); // awaited first: `written +=` reads before an await
        written += result.written;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const throughput = written / ((performance.now() - begin) / 1000);
  for (const store of stores) await store.close();
  latencies.sort((a, b) => a - b);
  return { throughput, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function main() {
  const results: Result[] = [];
  let replicas: ReplicasResult | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];

  const pgliteDir = mkdtempSync(join(tmpdir(), 'kordon-bench-pglite-'));
  cleanups.push(() => rmSync(pgliteDir, { recursive: true, force: true }));
  const pglite = await createPgliteEventStore(pgliteDir);
  results.push(await measure('PGlite (data folder)', pglite, 10_000));
  await pglite.close();

  let url = process.env.KORDON_BENCH_DATABASE_URL;
  if (!url) {
    const database = await createTestDatabase().catch(() => undefined);
    if (database) {
      url = database.url;
      cleanups.push(database.drop);
    } else if (postgresAvailable()) {
      const cluster = startPostgresCluster();
      cleanups.push(cluster.destroy);
      url = cluster.url;
    }
  }
  if (url) {
    const postgres = await createPostgresEventStore({ connectionString: url });
    results.push(await measure('PostgreSQL (fsync on)', postgres, 20_000));
    await postgres.close();
    replicas = await measureReplicas(url);
  } else {
    console.log('PostgreSQL: skipped (no KORDON_BENCH_DATABASE_URL and no PostgreSQL installed)');
  }
  for (const cleanup of cleanups.reverse()) await cleanup();

  const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
  console.log(
    `\nbench:store — ${EVENTS.toLocaleString('en-US')} RequestCompleted events (~${results[0]?.bytesPerEvent} B JSON each), group commit (batch ≤ 1000, ≤ 5 ms)`,
  );
  console.log(
    '| store | throughput (events/s) | offered rate (events/s) | append→durable p50 (ms) | p99 (ms) | max (ms) | catch-up read (events/s) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(
      `| ${r.store} | ${fmt(r.throughput)} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.max, 1)} | ${fmt(r.catchUp)} |`,
    );
  }
  if (replicas) {
    console.log(
      `\nPostgreSQL, ${REPLICAS} replicas (a store and pool each) appending ${REPLICA_BATCH}-event batches back to back for ${LATENCY_SECONDS} s`,
    );
    console.log('| throughput (events/s) | append p50 (ms) | append p99 (ms) |');
    console.log('| ---: | ---: | ---: |');
    console.log(`| ${fmt(replicas.throughput)} | ${fmt(replicas.p50, 2)} | ${fmt(replicas.p99, 2)} |`);
  }
}

await main();
