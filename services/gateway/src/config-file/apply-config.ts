import { createHmac, timingSafeEqual } from 'node:crypto';
import { type EventStore, isKordonError } from '@kordon/events';
import { generateProxyKey, importProxyKey, type ProxyKeyHasher, parseProxyKey } from '../proxy-keys/index.js';
import type { RegistryState } from '../registry/registry.js';
import { decryptSecret, encryptSecret, last4, type MasterKeyRing } from '../secrets/index.js';
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
      try {
        const stored = Buffer.from(decryptSecret(record, context, crypto.masterKeys).reveal());
        const given = Buffer.from(secret);
        return stored.length === given.length && timingSafeEqual(stored, given);
      } catch {
        return false; // undecryptable with today's keys: the file's secret replaces it
      }
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
  };
}

/**
 * Applies the file: plans against the registry, appends each stream's events with its
 * concurrency expectation, and waits until the registry has them. A creation another
 * replica made first (same deterministic id) is not an error.
 */
export async function applyConfigFile(options: {
  file: ConfigFile;
  store: EventStore;
  registry: () => RegistryState;
  waitForRegistry: (position: number) => Promise<void>;
  crypto: ConfigCrypto;
  now?: Date;
}): Promise<ConfigPlan> {
  const plan = planConfig(
    options.registry(),
    options.file,
    planDependencies(options.crypto),
    options.now ?? new Date(),
  );
  let last = 0;
  for (const append of plan.appends) {
    try {
      const result = await options.store.append(append.streamId, append.events, append.expected);
      last = Math.max(last, result.lastPosition);
    } catch (error) {
      if (append.expected === 'no-stream' && isKordonError(error, 'wrong_expected_version')) continue;
      throw error;
    }
  }
  if (last > 0) await options.waitForRegistry(last);
  return plan;
}
