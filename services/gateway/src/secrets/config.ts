import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { KordonError } from '@kordon/events';
import { MASTER_KEY_BYTES, MASTER_KEY_ID_PATTERN, MasterKey, MasterKeyRing } from './master-key.js';

/*
 * Master keys from configuration:
 *
 *   KORDON_MASTER_KEY       the current key: 32 bytes as hex or base64, or `file:<path>` to a
 *                           file holding that text (or the 32 raw bytes), e.g. a mounted secret.
 *   KORDON_MASTER_KEYS_OLD  optional, comma-separated older keys still needed to unwrap records
 *                           not yet re-wrapped; each `<key>` or `<id>:<key>` (the id, when
 *                           given, must match the key: a guard against pasting the wrong one).
 *
 * Without KORDON_MASTER_KEY the gateway refuses to start, unless the caller asks for dev mode
 * explicitly: then a random key is generated once under the data dir and reused, with a loud
 * warning to log. Dev mode is refused when NODE_ENV=production. Values are never printed.
 */

export const MASTER_KEY_ENV = 'KORDON_MASTER_KEY';
export const OLD_MASTER_KEYS_ENV = 'KORDON_MASTER_KEYS_OLD';
export const DEV_MASTER_KEY_FILE_NAME = 'dev-master-key';
/** A key file is a few dozen bytes; anything larger is the wrong file. */
export const MASTER_KEY_FILE_MAX_BYTES = 4096;

const IS_WINDOWS = process.platform === 'win32';

function configError(message: string, cause?: unknown): KordonError {
  return new KordonError('config_invalid', message, { cause });
}

function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}

/** Key bytes from a file's content: exactly 32 bytes are taken raw, anything else as hex/base64 text. */
function keyFromFileContent(content: Buffer, source: string): MasterKey {
  if (content.length === MASTER_KEY_BYTES) return MasterKey.fromBytes(content, source);
  return MasterKey.fromText(content.toString('utf8'), source);
}

/**
 * Reads a key file. `strict` (dev key files): no symlink, a regular file owned by this user,
 * no permission beyond 0600. Otherwise (operator-provided files, often symlinks into a secret
 * mount with mode 0644 or 0440): a regular file that others cannot write.
 */
function readKeyFile(path: string, source: string, strict: boolean): MasterKey {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (strict ? (constants.O_NOFOLLOW ?? 0) : 0));
  } catch (error) {
    const reason = fsReason(error);
    throw configError(
      `${source}: cannot open master key file ${path} (${reason === 'ELOOP' ? 'it is a symbolic link' : reason})`,
      error,
    );
  }
  let content: Buffer | null = null;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw configError(`${source}: master key file ${path} is not a regular file`);
    if (stat.size > MASTER_KEY_FILE_MAX_BYTES) {
      throw configError(`${source}: ${path} is ${stat.size} bytes, too large to be a master key file`);
    }
    if (!IS_WINDOWS) {
      const mode = stat.mode & 0o777;
      const octal = mode.toString(8).padStart(4, '0');
      if (strict && (mode & ~0o600) !== 0) {
        throw configError(
          `${source}: refusing master key file ${path}: its permissions ${octal} are wider than 0600 ` +
            `(run \`chmod 600 ${path}\`)`,
        );
      }
      if (strict && typeof process.getuid === 'function' && stat.uid !== process.getuid()) {
        throw configError(`${source}: refusing master key file ${path}: it is owned by another user`);
      }
      if ((mode & 0o002) !== 0) {
        throw configError(
          `${source}: refusing master key file ${path}: anyone can write it (permissions ${octal})`,
        );
      }
    }
    content = readFileSync(fd);
    return keyFromFileContent(content, source);
  } finally {
    content?.fill(0);
    closeSync(fd);
  }
}

/** `KORDON_MASTER_KEY`-style value: hex, base64 or `file:<path>`. */
export function parseMasterKeySetting(value: string, source: string = MASTER_KEY_ENV): MasterKey {
  const text = value.trim();
  if (text.startsWith('file:')) {
    const path = text.slice('file:'.length);
    if (path === '') throw configError(`${source}: file: needs a path`);
    return readKeyFile(resolve(path), `${source} (file ${path})`, false);
  }
  return MasterKey.fromText(text, source);
}

const ID_PREFIX = /^([^:]+):(.*)$/s;

/** `KORDON_MASTER_KEYS_OLD`-style value: comma-separated `<key>` or `<id>:<key>` entries. */
export function parseOlderMasterKeys(value: string, source: string = OLD_MASTER_KEYS_ENV): MasterKey[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return entries.map((entry, index) => {
    const where = `${source}[${index}]`;
    const prefixed = entry.startsWith('file:') ? null : ID_PREFIX.exec(entry);
    const expectedId = prefixed?.[1] ?? null;
    if (expectedId !== null && !MASTER_KEY_ID_PATTERN.test(expectedId)) {
      throw configError(`${where}: "${expectedId}" is not a master key id (16 lowercase hex characters)`);
    }
    const key = parseMasterKeySetting(prefixed?.[2] ?? entry, where);
    if (expectedId !== null && expectedId !== key.id) {
      throw configError(`${where}: the id ${expectedId} does not match the key (whose id is ${key.id})`);
    }
    return key;
  });
}

export interface DevMasterKey {
  key: MasterKey;
  path: string;
  /** True when this call generated the file, false when an earlier one had. */
  created: boolean;
  /** One line for the caller to log at warn level on every start. */
  warning: string;
}

/**
 * Dev mode only: the master key stored in `<dataDir>/dev-master-key` (base64 text, mode
 * 0600), generated on the first call and reused afterwards so stored records stay readable.
 * The file is written under a temporary name and hard-linked into place, so two processes
 * starting together agree on one key and nobody reads a half-written file. The file is the
 * same format `KORDON_MASTER_KEY=file:<path>` reads, so a dev setup can be promoted. A file
 * with permissions wider than 0600, owned by another user, or reached through a symlink is
 * refused.
 */
export function generateDevMasterKey(dataDir: string): DevMasterKey {
  const dir = resolve(dataDir);
  const path = join(dir, DEV_MASTER_KEY_FILE_NAME);
  const source = `dev master key file ${path}`;
  let created = false;
  if (!existsSync(path)) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw configError(`${source}: cannot create the data dir (${fsReason(error)})`, error);
    }
    const bytes = randomBytes(MASTER_KEY_BYTES);
    const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const fd = openSync(temporary, 'wx', 0o600);
      try {
        writeSync(fd, `${bytes.toString('base64')}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        linkSync(temporary, path);
        created = true;
      } catch (error) {
        // EEXIST: another process won the race; its key is read below.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    } catch (error) {
      throw configError(`${source}: cannot write the key file (${fsReason(error)})`, error);
    } finally {
      bytes.fill(0);
      try {
        unlinkSync(temporary);
      } catch {
        // Never created (open failed) or already gone.
      }
    }
  }
  const key = readKeyFile(path, source, true);
  const warning =
    `WARNING: DEV MODE MASTER KEY. Provider keys are encrypted with a throwaway master key ` +
    `${created ? 'generated just now' : 'generated earlier'} in ${path} (id ${key.id}). Anyone who can read ` +
    `that file can decrypt every stored provider key, and losing it makes them unrecoverable. Never use dev ` +
    `mode in production: set ${MASTER_KEY_ENV} to 32 random bytes (\`openssl rand -base64 32\`) or to file:<path>.`;
  return { key, path, created, warning };
}

export interface LoadMasterKeyRingOptions {
  /** Explicit dev mode: without KORDON_MASTER_KEY, use (or create) the dev key under dataDir. */
  devMode?: boolean;
  /** The data dir (KORDON_DATA_DIR); needed in dev mode only. */
  dataDir?: string;
}

export interface LoadedMasterKeyRing {
  ring: MasterKeyRing;
  /** Lines to log at warn level (the dev mode warning). */
  warnings: string[];
}

/** The ring from the environment; `config_invalid` when it cannot be built (the process should not start). */
export function loadMasterKeyRing(
  env: Readonly<Record<string, string | undefined>>,
  options: LoadMasterKeyRingOptions = {},
): LoadedMasterKeyRing {
  const warnings: string[] = [];
  const setting = env[MASTER_KEY_ENV]?.trim() ?? '';
  let current: MasterKey;
  if (setting !== '') {
    current = parseMasterKeySetting(setting, MASTER_KEY_ENV);
  } else if (options.devMode === true) {
    if (env.NODE_ENV === 'production') {
      throw configError(
        `${MASTER_KEY_ENV} is not set and dev mode is refused with NODE_ENV=production: set ${MASTER_KEY_ENV}`,
      );
    }
    if (options.dataDir === undefined || options.dataDir === '') {
      throw configError('dev mode needs a data dir to keep its generated master key in');
    }
    const dev = generateDevMasterKey(options.dataDir);
    current = dev.key;
    warnings.push(dev.warning);
  } else {
    throw configError(
      `${MASTER_KEY_ENV} is not set: provider keys cannot be stored without a master key. Set it to 32 random ` +
        `bytes (\`openssl rand -base64 32\`) or to file:<path>, or start in dev mode for a throwaway key.`,
    );
  }
  const olderSetting = env[OLD_MASTER_KEYS_ENV]?.trim() ?? '';
  const older = olderSetting === '' ? [] : parseOlderMasterKeys(olderSetting, OLD_MASTER_KEYS_ENV);
  return { ring: new MasterKeyRing(current, older), warnings };
}
