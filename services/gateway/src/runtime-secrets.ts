import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KordonError } from '@kordon/events';
import { MIN_SERVER_SECRET_BYTES, ProxyKeyHasher } from './proxy-keys/index.js';
import { loadMasterKeyRing, type MasterKeyRing } from './secrets/index.js';

export interface SecretSettings {
  /** KORDON_MASTER_KEY and KORDON_MASTER_KEYS_OLD, as given. */
  masterKey: string | undefined;
  oldMasterKeys: string | undefined;
  /** KORDON_PROXY_KEY_SECRET and KORDON_PROXY_KEY_SECRETS_OLD (comma-separated), base64 or hex. */
  proxyKeySecret: string | undefined;
  oldProxyKeySecrets: string | undefined;
  devMode: boolean;
  dataDir: string;
  nodeEnv: string | undefined;
}

export interface RuntimeSecrets {
  masterKeys: MasterKeyRing;
  proxyKeyHasher: ProxyKeyHasher;
  /** Keys the ids of entities declared in the config file. */
  idSecret: Buffer;
  warnings: string[];
}

const DEV_PROXY_SECRET_FILE = 'dev-proxy-key-secret';

function decodeSecret(text: string, name: string): Buffer {
  const trimmed = text.trim();
  const bytes =
    /^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0
      ? Buffer.from(trimmed, 'hex')
      : Buffer.from(trimmed, 'base64');
  if (bytes.length < MIN_SERVER_SECRET_BYTES) {
    throw new KordonError(
      'config_invalid',
      `${name}: expected at least ${MIN_SERVER_SECRET_BYTES} random bytes, base64 or hex (openssl rand -base64 32)`,
    );
  }
  return bytes;
}

/** Dev mode only: a random secret kept in a 0600 file of the data folder. */
function devProxyKeySecret(dataDir: string): { secret: Buffer; warning: string } {
  const path = join(dataDir, DEV_PROXY_SECRET_FILE);
  if (!existsSync(path)) {
    try {
      writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    throw new KordonError('config_invalid', `${path} must not be readable by others (chmod 600)`);
  }
  return {
    secret: decodeSecret(readFileSync(path, 'utf8'), path),
    warning: `DEV MODE: proxy keys are hashed with a generated secret in ${path}; set KORDON_PROXY_KEY_SECRET in production`,
  };
}

/** The master-key ring and the proxy-key hasher, from settings; throws `config_invalid`. */
export function loadRuntimeSecrets(settings: SecretSettings): RuntimeSecrets {
  const env = {
    KORDON_MASTER_KEY: settings.masterKey,
    KORDON_MASTER_KEYS_OLD: settings.oldMasterKeys,
    NODE_ENV: settings.nodeEnv,
  };
  const { ring, warnings } = loadMasterKeyRing(env, { devMode: settings.devMode, dataDir: settings.dataDir });
  let current: Buffer;
  if (settings.proxyKeySecret) {
    current = decodeSecret(settings.proxyKeySecret, 'KORDON_PROXY_KEY_SECRET');
  } else if (settings.devMode && settings.nodeEnv !== 'production') {
    const dev = devProxyKeySecret(settings.dataDir);
    current = dev.secret;
    warnings.push(dev.warning);
  } else {
    throw new KordonError(
      'config_invalid',
      'KORDON_PROXY_KEY_SECRET is not set: proxy keys cannot be checked without it (openssl rand -base64 32), or start in dev mode',
    );
  }
  const previous = (settings.oldProxyKeySecrets ?? '')
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part, i) => decodeSecret(part, `KORDON_PROXY_KEY_SECRETS_OLD[${i}]`));
  const proxyKeyHasher = new ProxyKeyHasher({ current, previous });
  // Entity ids of the config file follow the proxy-key secret, which is never rotated
  // away while keys hashed with it live; derived, so it is not the secret itself.
  const idSecret = Buffer.from(
    new Uint8Array(hkdfSync('sha256', current, Buffer.alloc(0), 'kordon config entity ids v1', 32)),
  );
  return { masterKeys: ring, proxyKeyHasher, idSecret, warnings };
}
