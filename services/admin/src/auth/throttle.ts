import { createHmac, hkdfSync } from 'node:crypto';
import type { Migration, SqlQueryable } from '@kordon/events';

/**
 * Failed sign-in attempts, per account and per client IP: after `max` failures within
 * `windowMs` the key is refused until the oldest failure leaves the window (429 with
 * Retry-After). Kept in the event store's own database, so every replica counts the same
 * failures and a restart forgets none. Callers count an attempt before its slow check
 * (`attempt`) and forgive it when it passes (`passed`): otherwise guesses sent at once would all
 * pass the check while the first ones are still being verified.
 *
 * A client that signed in to an account lately is remembered (`passed` with `remember`): the
 * account's failures do not hold it back, only its own (`unlessKnown`). Otherwise anyone who
 * knows an e-mail could keep its owner out for good with five wrong guesses every 15 minutes.
 *
 * Keys (`account:<e-mail>`, `ip:<address>`, ...) are stored as HMAC-SHA-256 under a key derived
 * from the server secret, never in the clear: a plain hash of an IPv4 address or of a guessable
 * e-mail is undone by trying them all, a keyed one is not, and it costs no more.
 *
 * One row per key holds its last `max` failures (ms since the epoch): the check and the count of
 * an attempt are one upsert, which locks the key's row across replicas, so attempts racing on
 * different replicas each see the ones before them. Rows whose failures all left the window,
 * and remembered clients older than `knownMs`, are deleted by `prune`; past `maxKeys` rows the
 * least recent go too.
 */
export const loginThrottleMigrations: Migration[] = [
  {
    scope: 'login-throttle',
    version: 1,
    name: 'shared sign-in throttle',
    sql: `CREATE TABLE IF NOT EXISTS kordon_login_failures (
            key      text     PRIMARY KEY,
            failures bigint[] NOT NULL,
            last_at  bigint   NOT NULL
          );
          CREATE INDEX IF NOT EXISTS kordon_login_failures_last_at ON kordon_login_failures (last_at);
          CREATE TABLE IF NOT EXISTS kordon_login_known (
            pair text   PRIMARY KEY,
            at   bigint NOT NULL
          );
          CREATE INDEX IF NOT EXISTS kordon_login_known_at ON kordon_login_known (at)`,
  },
];

/** One key an attempt counts against. */
export interface ThrottledKey {
  key: string;
  /**
   * A client key: when that client signed in to `key` within `knownMs` (`passed` with
   * `remember`), `key`'s failures do not refuse the attempt. It is counted against `key` all
   * the same.
   */
  unlessKnown?: string | undefined;
}

export interface LoginThrottleOptions {
  max?: number;
  windowMs?: number;
  knownMs?: number;
  maxKeys?: number;
}

/**
 * Counts one attempt at `$3` against the keys `$1` (sorted: rows are locked in one order by
 * every replica, so two attempts never wait for each other crosswise), keeping each key's last
 * `$5` failures in the window (after `$4`). A key that has `$5` failures in the window already
 * is not updated, and so not returned, unless its client (`$2`, aligned with `$1`) signed in to
 * it after `$6`. ON CONFLICT reads the row's latest version, committed or not yet visible.
 */
const ATTEMPT_SQL = `
  INSERT INTO kordon_login_failures AS f (key, failures, last_at)
  SELECT k.key, ARRAY[$3::bigint], $3::bigint FROM unnest($1::text[]) AS k(key) ORDER BY k.key
  ON CONFLICT (key) DO UPDATE
     SET failures = ARRAY(SELECT r.a FROM (SELECT a FROM unnest(f.failures || $3::bigint) AS a
                                            WHERE a > $4::bigint ORDER BY a DESC LIMIT $5::int) AS r
                           ORDER BY r.a),
         last_at = greatest(f.last_at, $3::bigint)
   WHERE (SELECT count(*) FROM unnest(f.failures) AS a WHERE a > $4::bigint) < $5::int
      OR EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS k(key, pair)
                   JOIN kordon_login_known AS n ON n.pair = k.pair
                  WHERE k.key = f.key AND n.at > $6::bigint)
  RETURNING f.key`;

/**
 * Empties the keys `$1` and takes one failure counted at `$3` off the keys `$2`, rows locked in
 * key order (as ATTEMPT_SQL locks them); then remembers the pairs `$4` as signed in at `$3`.
 */
const RELEASE_SQL = `
  WITH locked AS (
    SELECT key FROM kordon_login_failures
     WHERE key = ANY($1::text[]) OR key = ANY($2::text[])
     ORDER BY key FOR UPDATE
  ), released AS (
    UPDATE kordon_login_failures AS f
       SET failures = CASE WHEN f.key = ANY($1::text[]) THEN '{}'::bigint[]
                      ELSE f.failures[:array_position(f.failures, $3::bigint) - 1]
                           || f.failures[array_position(f.failures, $3::bigint) + 1:] END
      FROM locked AS l
     WHERE f.key = l.key AND (f.key = ANY($1::text[]) OR $3::bigint = ANY(f.failures))
  )
  INSERT INTO kordon_login_known AS n (pair, at)
  SELECT p, $3::bigint FROM unnest($4::text[]) AS p
  ON CONFLICT (pair) DO UPDATE SET at = greatest(n.at, EXCLUDED.at)`;

/** For each key of `$1`, its `$3`-th most recent failure in the window (after `$2`). */
const OLDEST_SQL = `
  SELECT key, (SELECT a FROM unnest(failures) AS a WHERE a > $2::bigint
                ORDER BY a DESC OFFSET $3::int - 1 LIMIT 1)::float8 AS oldest
    FROM kordon_login_failures WHERE key = ANY($1::text[])`;

/**
 * Deletes the rows of failures all out of the window (at or before `$1`) and the remembered
 * clients from before `$2`, and past the `$3` most recent of each, the rest. A row an attempt
 * holds is skipped (SKIP LOCKED): pruning never waits for a sign-in, nor a sign-in for it.
 */
const PRUNE_SQL = `
  WITH failures AS (
    DELETE FROM kordon_login_failures WHERE key IN (
      SELECT key FROM kordon_login_failures WHERE key IN (
        SELECT r.key FROM (SELECT key, last_at, row_number() OVER (ORDER BY last_at DESC) AS n
                             FROM kordon_login_failures) AS r
         WHERE r.last_at <= $1::bigint OR r.n > $3::int)
      FOR UPDATE SKIP LOCKED)
  )
  DELETE FROM kordon_login_known WHERE pair IN (
    SELECT pair FROM kordon_login_known WHERE pair IN (
      SELECT r.pair FROM (SELECT pair, at, row_number() OVER (ORDER BY at DESC) AS n
                            FROM kordon_login_known) AS r
       WHERE r.at <= $2::bigint OR r.n > $3::int)
    FOR UPDATE SKIP LOCKED)`;

export class LoginThrottle {
  readonly #sql: SqlQueryable;
  readonly #hashKey: Buffer;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #knownMs: number;
  readonly #maxKeys: number;

  /** `serverSecret`: the one every replica shares (the id secret), so all hash keys alike. */
  constructor(sql: SqlQueryable, serverSecret: Buffer, options: LoginThrottleOptions = {}) {
    this.#sql = sql;
    this.#hashKey = Buffer.from(
      hkdfSync('sha256', serverSecret, Buffer.alloc(0), 'kordon admin login-throttle v1', 32),
    );
    this.#max = options.max ?? 5;
    this.#windowMs = options.windowMs ?? 15 * 60_000;
    this.#knownMs = options.knownMs ?? 30 * 86_400_000;
    this.#maxKeys = options.maxKeys ?? 100_000;
    for (const [name, value] of Object.entries({
      max: this.#max,
      windowMs: this.#windowMs,
      knownMs: this.#knownMs,
      maxKeys: this.#maxKeys,
    })) {
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`${name} must be a positive integer`);
    }
  }

  /**
   * Counts an attempt at `now` against every key, unless one of them has had `max` failures
   * within the window (a key whose `unlessKnown` client signed in to it lately excepted): then
   * nothing is counted and the answer is the seconds until the attempt may be made (at least 1).
   * 0: counted, go on. One query; on a refusal, one more to read the wait and one to take the
   * attempt back from the keys that had counted it.
   */
  async attempt(keys: readonly ThrottledKey[], now: number): Promise<number> {
    const byKey = new Map<string, string | null>();
    for (const { key, unlessKnown } of keys) {
      const hashed = this.#hash('key', key);
      if (byKey.has(hashed)) continue;
      byKey.set(hashed, unlessKnown === undefined ? null : this.#pair(key, unlessKnown));
    }
    const hashed = [...byKey.keys()].sort();
    const cutoff = now - this.#windowMs;
    const { rows } = await this.#sql.query<{ key: string }>(ATTEMPT_SQL, [
      hashed,
      hashed.map((key) => byKey.get(key) ?? null),
      now,
      cutoff,
      this.#max,
      now - this.#knownMs,
    ]);
    const counted = new Set(rows.map((row) => row.key));
    const refused = hashed.filter((key) => !counted.has(key));
    if (refused.length === 0) return 0;
    // Refused: the keys that counted it take it back, and the wait is the longest of the others'.
    if (counted.size > 0) await this.#release([], [...counted], [], now);
    const oldest = await this.#sql.query<{ oldest: number | null }>(OLDEST_SQL, [refused, cutoff, this.#max]);
    let wait = 1;
    for (const { oldest: at } of oldest.rows) {
      if (at !== null) wait = Math.max(wait, Math.ceil((Number(at) + this.#windowMs - now) / 1000));
    }
    return wait;
  }

  /**
   * The attempt counted at `at` passed: `clear` keys lose all their failures, `forgive` keys
   * the one counted at `at`, and `remember` notes that its client signed in to its account
   * then. One query.
   */
  async passed(
    at: number,
    outcome: {
      clear?: readonly string[];
      forgive?: readonly string[];
      remember?: { account: string; client: string } | undefined;
    },
  ): Promise<void> {
    const { clear = [], forgive = [], remember } = outcome;
    await this.#release(
      clear.map((key) => this.#hash('key', key)),
      forgive.map((key) => this.#hash('key', key)),
      remember ? [this.#pair(remember.account, remember.client)] : [],
      at,
    );
  }

  /** Deletes what no longer counts (see the class); replicas may prune at the same time. */
  async prune(now: number): Promise<void> {
    await this.#sql.query(PRUNE_SQL, [now - this.#windowMs, now - this.#knownMs, this.#maxKeys]);
  }

  /**
   * Prunes every `intervalMs` (at `now()`) until the returned `stop`, which waits for a prune
   * under way. A failed prune goes to `onError` and the next one tries again.
   */
  pruneEvery(intervalMs: number, now: () => number, onError: (error: unknown) => void): () => Promise<void> {
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      running ??= this.prune(now())
        .catch(onError)
        .finally(() => {
          running = undefined;
        });
    }, intervalMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await running;
    };
  }

  async #release(clear: string[], forgive: string[], pairs: string[], at: number): Promise<void> {
    await this.#sql.query(RELEASE_SQL, [clear, forgive, at, pairs]);
  }

  #pair(account: string, client: string): string {
    return this.#hash('pair', `${account} ${client}`);
  }

  #hash(kind: 'key' | 'pair', value: string): string {
    return createHmac('sha256', this.#hashKey).update(`${kind}\0${value}`).digest('base64url');
  }
}
