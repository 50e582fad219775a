import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  type EventStore,
  type ExpectedVersion,
  KordonError,
  WrongExpectedVersionError,
} from '@kordon/events';
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
import { type ConfigPlan, type PlanDependencies, planConfig } from './plan-config.js';

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

/** How many times a creation is tried again after the store found its stream changed meanwhile. */
const CREATION_ATTEMPTS = 4;

/**
 * Applies the file: plans against the registry, appends each stream's events with its
 * concurrency expectation, and waits until the registry has them.
 *
 * A creation expects no stream, and finds one in two cases: another replica created the
 * entity first (same deterministic id), or the file declares again a provider or key it
 * removed earlier (its stream keeps the history). Which one is decided by re-planning against
 * the registry caught up with the store: the entity there, it was the other replica (nothing to
 * do); still absent, the creation is appended after the stream's last event. Never skipped
 * without that check, so the plan never claims events the store did not take.
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
  const plan = planConfig(options.registry(), options.file, deps, now);
  const stillCreates = async (streamId: string): Promise<boolean> => {
    await options.waitForRegistry(await options.store.headPosition());
    return planConfig(options.registry(), options.file, deps, now).appends.some(
      (append) => append.streamId === streamId && append.expected === 'no-stream',
    );
  };
  let last = 0;
  // Creations another replica made first: a key it issued holds its secret, not ours.
  const madeElsewhere = new Set<string>();
  for (const append of plan.appends) {
    let expected: ExpectedVersion = append.expected;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await options.store.append(append.streamId, append.events, expected);
        last = Math.max(last, result.lastPosition);
        break;
      } catch (error) {
        if (
          append.expected !== 'no-stream' ||
          !(error instanceof WrongExpectedVersionError) ||
          error.actual === null ||
          attempt >= CREATION_ATTEMPTS
        )
          throw error;
        if (!(await stillCreates(append.streamId))) {
          madeElsewhere.add(append.streamId); // another replica created it
          break;
        }
        // Absent though its stream exists: removed earlier. Expecting the version seen keeps a
        // replica doing the same from adding it twice (the loser re-checks and finds it).
        expected = error.actual;
      }
    }
  }
  if (last > 0) await options.waitForRegistry(last);
  return { ...plan, issued: plan.issued.filter((issued) => !madeElsewhere.has(issued.streamId)) };
}
