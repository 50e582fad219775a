import { createHmac, timingSafeEqual } from 'node:crypto';
import { type EventStore, KordonError, WrongExpectedVersionError } from '@kordon/events';
import { generateProxyKey, importProxyKey, type ProxyKeyHasher, parseProxyKey } from '../proxy-keys/index.js';
import type { RegistryState } from '../registry/registry.js';
import {
  decryptSecret,
  encryptSecret,
  isSecretDecryptionError,
  last4,
  type MasterKeyRing,
} from '../secrets/index.js';
import type { ConfigFile } from './config-file-schema.js';
import {
  type ConfigPlan,
  type IssuedProxyKey,
  type PlanDependencies,
  type PlannedAppend,
  planConfig,
} from './plan-config.js';

export interface ConfigCrypto {
  masterKeys: MasterKeyRing;
  proxyKeyHasher: ProxyKeyHasher;
  /** Keys the ids of config-declared entities, so they are the same on every replica and unguessable. */
  idSecret: Buffer;
}

/** The real dependencies of planning: envelope encryption, keyed hashes, HMAC-derived ids. */
export function planDependencies(crypto: ConfigCrypto): PlanDependencies {
  return {
    entityId: (kind, naturalKey) => {
      const digest = createHmac('sha256', crypto.idSecret).update(`${kind}\n${naturalKey}`).digest('hex');
      const prefix = { org: 'org', team: 'tm', 'provider-key': 'prk', user: 'usr', 'proxy-key': 'pxk' }[kind];
      return `${prefix}_${digest.slice(0, 32)}`;
    },
    encrypt: (secret, context) => encryptSecret(secret, context, crypto.masterKeys),
    secretMatches: (record, context, secret) => {
      let stored: Buffer;
      try {
        stored = Buffer.from(decryptSecret(record, context, crypto.masterKeys).reveal());
      } catch (error) {
        // Cannot decrypt is not "changed": replacing it would write the secret under a master
        // key the other replicas may not hold (a replica started with the wrong key).
        if (!isSecretDecryptionError(error)) throw error;
        throw new KordonError(
          'config_invalid',
          `config file: the stored secret ${context.providerKeyId} of org ${context.orgId} cannot be ` +
            `decrypted with this process's master keys (${error.reason}${error.keyId ? `, master key ${error.keyId}` : ''}); ` +
            'it is not replaced. Check KORDON_MASTER_KEY and KORDON_MASTER_KEYS_OLD (docs/operations.md)',
          { cause: error },
        );
      }
      const given = Buffer.from(secret);
      return stored.length === given.length && timingSafeEqual(stored, given);
    },
    last4: (secret) => last4(secret),
    proxyKey: (secret) => {
      if (secret === undefined) {
        const made = generateProxyKey(crypto.proxyKeyHasher);
        return { ok: true, prefix: made.prefix, hash: made.hash, issuedSecret: made.secret };
      }
      const imported = importProxyKey(crypto.proxyKeyHasher, secret);
      return imported.ok
        ? { ok: true, prefix: imported.prefix, hash: imported.hash }
        : { ok: false, reason: imported.reason };
    },
    proxyKeyMatches: (secret, hashValue, hashKeyId) => {
      const parsed = parseProxyKey(secret);
      if (!parsed.ok) return false;
      return crypto.proxyKeyHasher.hashUnder(parsed.key, hashKeyId)?.value === hashValue;
    },
    proxyKeyHashValues: (secret) => {
      const parsed = parseProxyKey(secret);
      if (!parsed.ok) return [];
      const hasher = crypto.proxyKeyHasher;
      return hasher.keyIds.flatMap((keyId) => hasher.hashUnder(parsed.key, keyId)?.value ?? []);
    },
  };
}

/** How many times the file is planned again after the store found a stream changed meanwhile. */
const ATTEMPTS = 4;

/**
 * Applies the file: plans against the registry, appends each stream's events expecting the
 * stream's version the plan was made against, and waits until the registry has them.
 *
 * Another replica applying the same file at the same time changes a stream first: the store
 * refuses our append, and the file is planned again against the registry caught up with the
 * store, so what the other replica did is not done twice (a creation it made, a limit it
 * set) and what is left is appended once. A provider or key the file declares again after
 * removing it has a stream already, at the version the registry saw. Never skipped without
 * that re-plan, so the result never claims events the store did not take.
 */
export async function applyConfigFile(options: {
  file: ConfigFile;
  store: EventStore;
  registry: () => RegistryState;
  waitForRegistry: (position: number) => Promise<void>;
  crypto: ConfigCrypto;
  now?: Date;
}): Promise<ConfigPlan> {
  const deps = planDependencies(options.crypto);
  const now = options.now ?? new Date();
  const appended: PlannedAppend[] = [];
  // Only keys whose ProxyKeyIssued we stored: one another replica issued first holds its secret.
  const issued: IssuedProxyKey[] = [];
  const ignored = new Set<string>();
  // Stream -> how many of its last events the registry does not read (types it skips).
  const behind = new Map<string, number>();
  const versionOf = (append: PlannedAppend) =>
    (append.expected === 'no-stream' ? 0 : append.expected) + (behind.get(append.streamId) ?? 0);
  let failed: { streamId: string; expected: number; actual: number } | undefined;
  let last = 0;
  for (let attempt = 1; ; attempt++) {
    const plan = planConfig(options.registry(), options.file, deps, now);
    for (const line of plan.ignored) ignored.add(line);
    const first = failed && plan.appends.find((append) => append.streamId === failed?.streamId);
    if (failed && first && versionOf(first) === failed.expected) {
      // Caught up, the registry still plans the refused version: the stream's last events are of
      // types it skips. The store's version is safe to expect: an append since moves it on.
      behind.set(failed.streamId, (behind.get(failed.streamId) ?? 0) + failed.actual - failed.expected);
    }
    failed = undefined;
    for (const append of plan.appends) {
      const expected = versionOf(append);
      try {
        const result = await options.store.append(
          append.streamId,
          append.events,
          expected === 0 ? 'no-stream' : expected,
        );
        last = Math.max(last, result.lastPosition);
        appended.push(append);
        if (append.events.some((event) => event.type === 'ProxyKeyIssued'))
          issued.push(...plan.issued.filter((key) => key.streamId === append.streamId));
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= ATTEMPTS) throw error;
        failed = { streamId: append.streamId, expected, actual: error.actual ?? 0 };
        break;
      }
    }
    if (!failed) break;
    await options.waitForRegistry(await options.store.headPosition());
  }
  if (last > 0) await options.waitForRegistry(last);
  return { appends: appended, issued, ignored: [...ignored] };
}
