import {
  type Actor,
  type EventStore,
  KordonError,
  type KordonEvent,
  kordonCatalogue,
  type NewEvent,
  type RecordedEvent,
  type SqlExecutor,
  SYSTEM_ACTOR,
  WrongExpectedVersionError,
} from '@kordon/events';
import { BodyKeyStore } from './body-keys/body-keys.js';
import { CONFIG_ACTOR } from './config-file/plan-config.js';
import { type EncryptedSecret, type MasterKeyRing, needsRewrap, rewrap } from './secrets/index.js';

/*
 * The encrypted records at rest, checked and re-wrapped at start (docs/operations.md, master
 * key rotation). Provider keys and OIDC client secrets are records in the log (the latest
 * ProviderKeyAdded/Rotated of a key, the latest OidcConfigured of an org); body keys are rows
 * of kordon_body_keys (re-wrapped by BodyKeyStore.rewrapAll).
 */

const SECRET_EVENTS = ['ProviderKeyAdded', 'ProviderKeyRotated', 'ProviderKeyRemoved', 'OidcConfigured'];
const READ_BATCH = 1000;
/** Tries of one re-wrap when the stream moved meanwhile (a cooldown, another replica). */
const REWRAP_ATTEMPTS = 5;

interface StoredSecret {
  /** Ids only, for messages: "provider key prk_… of org org_…". */
  what: string;
  streamId: string;
  record: EncryptedSecret;
}

function decoded(event: RecordedEvent): KordonEvent | undefined {
  try {
    return kordonCatalogue.decode(event);
  } catch {
    return undefined; // the registry parks it too: it holds no secret in force
  }
}

/** The secret a stream's event puts in force (undefined: none; null: it removes the stream's). */
function secretOf(event: KordonEvent): StoredSecret | null | undefined {
  const orgId = event.orgId ?? '?';
  switch (event.type) {
    case 'ProviderKeyAdded':
    case 'ProviderKeyRotated':
      return {
        what: `provider key ${event.data.providerKeyId} of org ${orgId}`,
        streamId: event.streamId,
        record: event.data.secret,
      };
    case 'ProviderKeyRemoved':
      return null;
    case 'OidcConfigured':
      return {
        what: `OIDC client secret of org ${orgId}`,
        streamId: event.streamId,
        record: event.data.clientSecret,
      };
    default:
      return undefined;
  }
}

/** Every secret record in force in the log, by stream (read without the request events). */
async function secretsInForce(store: EventStore): Promise<StoredSecret[]> {
  const byStream = new Map<string, StoredSecret>();
  for (let after = 0; ; ) {
    const batch = await store.readAll({ after, maxCount: READ_BATCH, types: SECRET_EVENTS });
    if (batch.length === 0) break;
    for (const recorded of batch) {
      after = recorded.position;
      const event = decoded(recorded);
      const secret = event && secretOf(event);
      if (secret === null) byStream.delete(recorded.streamId);
      else if (secret) byStream.set(recorded.streamId, secret);
    }
  }
  return [...byStream.values()];
}

function summary(items: readonly string[]): string {
  const shown = items.slice(0, 3).join(', ');
  return items.length > 3 ? `${shown} and ${items.length - 3} more` : shown;
}

/**
 * Refuses the start (`config_invalid`) when a stored record names a master key id the ring
 * lacks: a wrong KORDON_MASTER_KEY, or an old key dropped before its records were re-wrapped.
 * Going on would fail every request on those provider keys, and a config file would replace
 * them under the wrong key for every other replica. The message names key ids, never a key.
 */
export async function checkStoredMasterKeys(options: {
  store: EventStore;
  /** The store's database: its body keys are checked too. */
  sql?: SqlExecutor | undefined;
  masterKeys: MasterKeyRing;
}): Promise<void> {
  const ring = options.masterKeys;
  const missing = new Map<string, string[]>();
  const lacking = (keyId: string, what: string) => {
    if (ring.has(keyId)) return;
    missing.set(keyId, [...(missing.get(keyId) ?? []), what]);
  };
  for (const secret of await secretsInForce(options.store)) lacking(secret.record.keyId, secret.what);
  if (options.sql) {
    const bodyKeys = new BodyKeyStore(options.sql, ring);
    await bodyKeys.migrate();
    for (const [keyId, count] of await bodyKeys.countByMasterKey()) {
      lacking(keyId, `${count} key${count === 1 ? '' : 's'} of logged bodies`);
    }
  }
  if (missing.size === 0) return;
  const named = [...missing].map(([keyId, what]) => `master key ${keyId} (${summary(what)})`).join('; ');
  throw new KordonError(
    'config_invalid',
    `stored secrets are encrypted under ${named}, which KORDON_MASTER_KEY and KORDON_MASTER_KEYS_OLD ` +
      `do not hold (they hold ${ring.ids.join(', ')}). Either KORDON_MASTER_KEY is wrong, or an old key ` +
      'left KORDON_MASTER_KEYS_OLD before a start re-wrapped its records: start with the key of that id ' +
      '(current or in KORDON_MASTER_KEYS_OLD). Nothing was written.',
  );
}

function rewrapEvent(latest: KordonEvent, ring: MasterKeyRing, time: Date): NewEvent | undefined {
  const meta = { orgId: latest.orgId, time };
  switch (latest.type) {
    case 'ProviderKeyAdded':
    case 'ProviderKeyRotated':
      if (!needsRewrap(latest.data.secret, ring)) return undefined;
      return kordonCatalogue.create(
        'ProviderKeyRotated',
        latest.streamId,
        {
          providerKeyId: latest.data.providerKeyId,
          kind: 'rewrapped',
          secret: rewrap(latest.data.secret, ring),
          last4: latest.data.last4,
        },
        { ...meta, actor: SYSTEM_ACTOR },
      );
    case 'OidcConfigured': {
      if (!needsRewrap(latest.data.clientSecret, ring)) return undefined;
      // The same settings again: the registry takes who manages them from the actor, so settings
      // the config file made stay the config file's.
      const actor: Actor = latest.actor.kind === 'config' ? CONFIG_ACTOR : SYSTEM_ACTOR;
      return kordonCatalogue.create(
        'OidcConfigured',
        latest.streamId,
        { ...latest.data, clientSecret: rewrap(latest.data.clientSecret, ring) },
        { ...meta, actor },
      );
    }
    default:
      return undefined;
  }
}

/** The stream's version and the latest event that holds its secret (removed: none). */
async function latestOf(
  store: EventStore,
  streamId: string,
): Promise<{ version: number; latest: KordonEvent | undefined }> {
  const events = await store.readStream(streamId);
  let latest: KordonEvent | undefined;
  for (const recorded of events) {
    if (!SECRET_EVENTS.includes(recorded.type)) continue;
    const event = decoded(recorded);
    const secret = event && secretOf(event);
    if (secret === null) latest = undefined;
    else if (secret) latest = event;
  }
  return { version: events.at(-1)?.streamVersion ?? 0, latest };
}

/**
 * Re-wraps under the ring's current master key every provider key and OIDC client secret still
 * wrapped under an older one (ProviderKeyRotated { kind: 'rewrapped' }, OidcConfigured with
 * the same settings). Each append expects the stream's version: when replicas start together
 * one writes, and the other re-reads the stream and finds nothing left to do. Call it after
 * `checkStoredMasterKeys` (every old key is in the ring). Returns what it re-wrapped and the
 * position of its last append (0: none).
 */
export async function rewrapStoredSecrets(options: {
  store: EventStore;
  masterKeys: MasterKeyRing;
  now?: () => Date;
}): Promise<{ rewrapped: number; lastPosition: number }> {
  const { store, masterKeys: ring } = options;
  const now = options.now ?? (() => new Date());
  let rewrapped = 0;
  let lastPosition = 0;
  for (const secret of await secretsInForce(store)) {
    if (!needsRewrap(secret.record, ring)) continue;
    for (let attempt = 1; ; attempt++) {
      const { version, latest } = await latestOf(store, secret.streamId);
      const event = latest && rewrapEvent(latest, ring, now());
      if (!event) break; // removed, or re-wrapped by another replica meanwhile
      try {
        const result = await store.append(secret.streamId, [event], version);
        lastPosition = Math.max(lastPosition, result.lastPosition);
        rewrapped++;
        break;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= REWRAP_ATTEMPTS) throw error;
      }
    }
  }
  return { rewrapped, lastPosition };
}
