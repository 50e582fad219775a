/**
 * Crypto-shredding of logged bodies. An event log is append-only, yet an org's retention
 * must really delete the prompts and answers it logged. So the (redacted) texts never go
 * into an event in the clear: they are sealed with AES-256-GCM under a data key of the org
 * and the UTC day, and the event carries only the key's id and the ciphertexts. The keys
 * live outside the log, in `kordon_body_keys`, wrapped by the master key ring; retention
 * deletes an org's keys of the days past its retention, and from then on no copy of those
 * texts can be read: not in the event log, its backups, the spool, or a rebuild.
 *
 * Each replica makes its own key per org and day when it first needs one (no coordination
 * on the request path), uses it at once, and stores it in the background, retrying until
 * the store takes it; a reader that meets an event whose key is not stored yet waits a
 * moment (`BodyOpener.prepare`).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { type KordonEventData, type Migration, migrate, newEventId, type SqlExecutor } from '@kordon/events';
import {
  decryptSecret,
  type EncryptedSecret,
  encryptSecret,
  type MasterKeyRing,
  needsRewrap,
  rewrap,
} from '../secrets/index.js';

export type SealedBodies = NonNullable<KordonEventData<'RequestCompleted'>['sealedBodies']>;

export const BODY_KEYS_TABLE = 'kordon_body_keys';

const migrations: Migration[] = [
  {
    scope: 'body-keys',
    version: 1,
    name: 'kordon_body_keys',
    sql: `CREATE TABLE IF NOT EXISTS kordon_body_keys (
            key_id     uuid PRIMARY KEY,
            org_id     text NOT NULL,
            day        date NOT NULL,
            wrapped    json NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
          );
          CREATE INDEX IF NOT EXISTS kordon_body_keys_org_day ON kordon_body_keys (org_id, day)`,
  },
  {
    scope: 'body-keys',
    version: 2,
    name: 'erasure of logged texts',
    // made_at: when the sealer made the key (its clock; a key stored late is still known as
    // old). kordon_body_key_erasures: the org's latest erasure, below which no key is stored
    // again (a replica that stores a key made before it, late, is refused: decision 0021).
    sql: `ALTER TABLE kordon_body_keys ADD COLUMN IF NOT EXISTS made_at timestamptz;
          UPDATE kordon_body_keys SET made_at = created_at WHERE made_at IS NULL;
          CREATE TABLE IF NOT EXISTS kordon_body_key_erasures (
            org_id        text        PRIMARY KEY,
            erased_before timestamptz NOT NULL
          )`,
  },
];

/**
 * Serialises, per org, the storing of its keys with an erasure of its texts (the two-key
 * advisory lock space: this class id and the org's hash), so a key made before an erasure can
 * never be stored after it.
 */
export const BODY_KEY_LOCK_CLASS = 704_121_201;

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The envelope's context of a body key: bound into its wrapping, so a row copied to another org fails. */
function wrapContext(orgId: string, keyId: string) {
  return { orgId, providerKeyId: `logged-bodies.${keyId}` };
}

/** Binds a ciphertext to its request and field: a sealed prompt moved to another event does not open. */
function aad(orgId: string, requestId: string, field: 'prompt' | 'response'): Buffer {
  return Buffer.from(`kordon/logged-body\0${orgId}\0${requestId}\0${field}`, 'utf8');
}

/** `YYYY-MM-DD` of a UTC day. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

interface BodyKey {
  readonly keyId: string;
  readonly orgId: string;
  readonly day: string;
  readonly material: Buffer;
  /** When the sealer made it (ms): an erasure up to a later instant deletes it. */
  readonly madeAt: number;
}

/** The table of body keys: created by `migrate`, written by sealers, read by openers, emptied by retention. */
export class BodyKeyStore {
  constructor(
    private readonly sql: SqlExecutor,
    private readonly masterKeys: MasterKeyRing,
  ) {}

  migrate(): Promise<void> {
    return migrate(this.sql, migrations);
  }

  /**
   * Stores a key; false when the org's texts were erased up to an instant after the key was
   * made (the key would open texts the erasure covers, so it is never stored).
   */
  async insert(key: BodyKey): Promise<boolean> {
    const wrapped = encryptSecret(
      key.material.toString('base64'),
      wrapContext(key.orgId, key.keyId),
      this.masterKeys,
    );
    return this.sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [BODY_KEY_LOCK_CLASS, key.orgId]);
      const { rows } = await tx.query<{ erased: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM kordon_body_key_erasures
                         WHERE org_id = $1 AND erased_before > $2::timestamptz) AS erased`,
        [key.orgId, new Date(key.madeAt).toISOString()],
      );
      if (rows[0]?.erased) return false;
      await tx.query(
        `INSERT INTO kordon_body_keys (key_id, org_id, day, wrapped, made_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key_id) DO NOTHING`,
        [key.keyId, key.orgId, key.day, JSON.stringify(wrapped), new Date(key.madeAt).toISOString()],
      );
      return true;
    });
  }

  /** The keys of these ids that are stored (a deleted or not yet stored one is absent). */
  async load(keyIds: readonly string[]): Promise<Map<string, BodyKey>> {
    const found = new Map<string, BodyKey>();
    if (keyIds.length === 0) return found;
    const { rows } = await this.sql.query<{
      key_id: string;
      org_id: string;
      day: string | Date;
      wrapped: unknown;
    }>('SELECT key_id, org_id, day, wrapped FROM kordon_body_keys WHERE key_id = ANY($1::uuid[])', [keyIds]);
    for (const row of rows) {
      const record = (
        typeof row.wrapped === 'string' ? JSON.parse(row.wrapped) : row.wrapped
      ) as EncryptedSecret;
      const material = Buffer.from(
        decryptSecret(record, wrapContext(row.org_id, row.key_id), this.masterKeys).reveal(),
        'base64',
      );
      const day = row.day instanceof Date ? row.day.toISOString().slice(0, 10) : String(row.day).slice(0, 10);
      // madeAt matters to the sealer only; a reader's key is never sealed with.
      found.set(row.key_id, { keyId: row.key_id, orgId: row.org_id, day, material, madeAt: 0 });
    }
    return found;
  }

  /**
   * Wraps again, under the ring's current master key, every key wrapped under an older one
   * (a master key rotation: the old key can leave `KORDON_MASTER_KEYS_OLD` once no record
   * names it). Runs at each start; the number of keys re-wrapped.
   */
  async rewrapAll(): Promise<number> {
    const { rows } = await this.sql.query<{ key_id: string; org_id: string; wrapped: unknown }>(
      'SELECT key_id, org_id, wrapped FROM kordon_body_keys',
    );
    let rewrapped = 0;
    for (const row of rows) {
      const record = (
        typeof row.wrapped === 'string' ? JSON.parse(row.wrapped) : row.wrapped
      ) as EncryptedSecret;
      if (!needsRewrap(record, this.masterKeys)) continue;
      const fresh = rewrap(record, this.masterKeys);
      await this.sql.query('UPDATE kordon_body_keys SET wrapped = $2 WHERE key_id = $1', [
        row.key_id,
        JSON.stringify(fresh),
      ]);
      rewrapped++;
    }
    return rewrapped;
  }

  /** How many keys each master key id wraps: the start refuses ids its ring lacks. */
  async countByMasterKey(): Promise<Map<string, number>> {
    const { rows } = await this.sql.query<{ master_key_id: string | null; n: string }>(
      `SELECT wrapped->>'keyId' AS master_key_id, count(*)::text AS n FROM kordon_body_keys GROUP BY 1`,
    );
    return new Map(rows.map((row) => [row.master_key_id ?? '(none)', Number(row.n)]));
  }

  /** Deletes the org's keys of days before `day` (YYYY-MM-DD): their texts can no longer be read. */
  async deleteBefore(orgId: string, day: string): Promise<number> {
    const { rows } = await this.sql.query<{ n: string }>(
      `WITH gone AS (DELETE FROM kordon_body_keys WHERE org_id = $1 AND day < $2::date RETURNING 1)
       SELECT count(*)::text AS n FROM gone`,
      [orgId, day],
    );
    return Number(rows[0]?.n ?? 0);
  }
}

export interface BodySealerOptions {
  store: Pick<BodyKeyStore, 'insert'>;
  logger: { warn(object: object, message: string): void };
  now?: () => number;
  /** Between two tries to store a key the store refused (it is down). Default 1 s. */
  retryMs?: number;
}

/** The request path's side: seals an event's texts under today's key of the org. */
export class BodySealer {
  readonly #store: Pick<BodyKeyStore, 'insert'>;
  readonly #logger: BodySealerOptions['logger'];
  readonly #now: () => number;
  readonly #retryMs: number;
  /** orgId -> today's key (a key of an older day is replaced on first use). */
  readonly #current = new Map<string, BodyKey>();
  /** Keys handed out and not yet stored. */
  readonly #unstored = new Set<BodyKey>();
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: BodySealerOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#retryMs = options.retryMs ?? 1000;
  }

  /**
   * Seals under today's key of the org. `erasedBefore`: the org's latest erasure of logged
   * texts (ms) as this replica has seen it; a key made before it is dropped and a new one made,
   * so texts after an erasure are readable and those before it are not (decision 0021).
   */
  seal(
    orgId: string,
    requestId: string,
    prompt: string | null,
    response: string | null,
    erasedBefore?: number,
  ): SealedBodies {
    const key = this.#keyOf(orgId, erasedBefore ?? 0);
    return {
      keyId: key.keyId,
      prompt: prompt === null ? null : sealText(key.material, aad(orgId, requestId, 'prompt'), prompt),
      response:
        response === null ? null : sealText(key.material, aad(orgId, requestId, 'response'), response),
    };
  }

  /** Keys not yet stored (a store that is down): a stop waits for them a little. */
  get pending(): number {
    return this.#unstored.size;
  }

  /** Tries once more to store what is pending, then stops retrying. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#storeAll();
  }

  #keyOf(orgId: string, erasedBefore: number): BodyKey {
    const now = this.#now();
    const current = this.#current.get(orgId);
    if (current && current.madeAt >= erasedBefore && current.day === utcDay(Math.max(now, current.madeAt)))
      return current;
    // Made after the erasure this replica has seen, even when its clock is behind the erasing
    // replica's: the key would otherwise be refused by the store (or deleted with the old ones).
    // Its day is that instant's, so that no erasure deletes it as a key of an earlier day.
    const madeAt = Math.max(now, erasedBefore);
    const key: BodyKey = {
      keyId: newEventId(),
      orgId,
      day: utcDay(madeAt),
      material: randomBytes(KEY_BYTES),
      madeAt,
    };
    this.#current.set(orgId, key);
    this.#unstored.add(key);
    void this.#storeOne(key);
    return key;
  }

  async #storeOne(key: BodyKey): Promise<boolean> {
    try {
      const stored = await this.#store.insert(key);
      this.#unstored.delete(key);
      if (!stored) {
        // Made before an erasure of the org's texts this replica had not seen yet: the texts
        // sealed under it are erased with the rest. The next request makes a new key.
        if (this.#current.get(key.orgId) === key) this.#current.delete(key.orgId);
        this.#logger.warn(
          { keyId: key.keyId, orgId: key.orgId },
          "a logged-bodies key made before an erasure of the org's texts was not stored",
        );
      }
      return true;
    } catch (error) {
      this.#logger.warn(
        { err: error, keyId: key.keyId, orgId: key.orgId },
        'cannot store a logged-bodies key yet; retrying',
      );
      this.#scheduleRetry();
      return false;
    }
  }

  async #storeAll(): Promise<void> {
    for (const key of [...this.#unstored]) await this.#storeOne(key);
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#storeAll();
    }, this.#retryMs);
    this.#retry.unref();
  }
}

export interface BodyOpenerOptions {
  store: Pick<BodyKeyStore, 'load'>;
  now?: () => number;
  /** How long a reader waits for the key of a recent event to be stored. Default 5 s. */
  waitForKeyMs?: number;
}

/** A reader's side (the request log): opens sealed texts whose key is still stored. */
export class BodyOpener {
  readonly #store: Pick<BodyKeyStore, 'load'>;
  readonly #now: () => number;
  readonly #waitForKeyMs: number;
  readonly #keys = new Map<string, BodyKey>();
  /** Ids looked up and not found: deleted by retention (or never stored). */
  readonly #missing = new Set<string>();
  /** Keys are looked up again after this, so one retention deleted is not kept in memory. */
  #cachedSince = 0;

  constructor(options: BodyOpenerOptions) {
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.#waitForKeyMs = options.waitForKeyMs ?? 5000;
  }

  /**
   * Loads the keys of these events' sealed texts. A key missing for an event younger than
   * the wait is looked up again (its replica may still be storing it) until the wait is over.
   */
  async prepare(wanted: ReadonlyArray<{ keyId: string; time: Date }>): Promise<void> {
    if (this.#now() - this.#cachedSince > KEY_CACHE_MS) {
      this.#keys.clear();
      this.#missing.clear();
      this.#cachedSince = this.#now();
    }
    let ids = [...new Set(wanted.map((w) => w.keyId))].filter(
      (id) => !this.#keys.has(id) && !this.#missing.has(id),
    );
    const youngest = new Map<string, number>();
    for (const w of wanted) youngest.set(w.keyId, Math.max(youngest.get(w.keyId) ?? 0, w.time.getTime()));
    for (let delay = 50; ids.length > 0; delay = Math.min(delay * 2, 1000)) {
      const found = await this.#store.load(ids);
      for (const [id, key] of found) this.#keys.set(id, key);
      ids = ids.filter((id) => !found.has(id));
      const waiting = ids.filter((id) => this.#now() - (youngest.get(id) ?? 0) < this.#waitForKeyMs);
      for (const id of ids) if (!waiting.includes(id)) this.#missing.add(id);
      ids = waiting;
      if (ids.length > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /**
   * Drops the org's keys held in memory: after an erasure of its texts (decision 0021), a
   * late event sealed under a deleted key must not open from this cache.
   */
  forget(orgId: string): void {
    for (const [id, key] of this.#keys) if (key.orgId === orgId) this.#keys.delete(id);
  }

  /** The text, or null when its key is gone (retention) or it does not authenticate. */
  open(sealed: SealedBodies, orgId: string, requestId: string, field: 'prompt' | 'response'): string | null {
    const text = sealed[field];
    const key = this.#keys.get(sealed.keyId);
    if (text === null || !key || key.orgId !== orgId) return null;
    return openText(key.material, aad(orgId, requestId, field), text);
  }
}

/** How long a reader keeps keys in memory before it asks the table again. */
const KEY_CACHE_MS = 10 * 60_000;

function sealText(key: Buffer, additional: Buffer, text: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additional);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
}

function openText(key: Buffer, additional: Buffer, sealed: string): string | null {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(additional);
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return null;
  }
}
