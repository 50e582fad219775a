import { createCipheriv, createDecipheriv, type KeyObject, randomBytes } from 'node:crypto';
import { isValidId, type KordonEventData } from '@kordon/events';
import { InvalidSecretError, SecretDecryptionError } from './errors.js';
import { type MasterKey, type MasterKeyRing, masterKeyObject } from './master-key.js';
import { RedactedSecret } from './redacted.js';

/*
 * AES-256-GCM envelope encryption of provider keys. The record is the `secret` field of
 * ProviderKeyAdded / ProviderKeyRotated (events/src/catalogue/events/fields.ts,
 * `encryptedSecret`); its format, version 1:
 *
 *   algorithm       'aes-256-gcm'
 *   keyId           id of the master key that wrapped the data key (16 hex, see master-key.ts)
 *   iv              base64, 12 random bytes: the IV of the secret's encryption
 *   ciphertext      base64, AES-256-GCM(dataKey, iv, secret as UTF-8, aad = secretAad)
 *   authTag         base64, its 16-byte tag
 *   wrappedDataKey  base64 of  version (1 byte, 0x01) | wrapIv (12) | wrapTag (16) | wrapped key (32)
 *                   = 61 bytes, 84 characters; wrapped key = AES-256-GCM(masterKey, wrapIv,
 *                   dataKey, aad = wrapAad)
 *
 *   secretAad = "kordon/provider-key-secret" 0x00 | version | u16 len | orgId | u16 len | providerKeyId
 *   wrapAad   = "kordon/data-key" 0x00 | version | u16 len | keyId
 *
 * The event field has no place for the wrap IV/tag nor for a format version, so they are
 * packed at the front of wrappedDataKey; the version byte comes first so a later format can
 * be told apart. Every secret gets a fresh random 256-bit data key, used once, so the random
 * 96-bit IV never repeats under it; under a master key one wrap is one GCM use, far below the
 * 2^32 random-IV limit.
 *
 * secretAad binds the ciphertext to its org and provider key: a record copied to another row
 * or org fails authentication. It does not name the master key, so re-wrapping under a new
 * master key leaves iv/ciphertext/authTag untouched. wrapAad binds the wrapped data key to
 * the keyId field, so editing keyId fails too.
 */

export type EncryptedSecret = KordonEventData<'ProviderKeyAdded'>['secret'];

/** Where a secret belongs; bound into the ciphertext. */
export interface SecretContext {
  orgId: string;
  providerKeyId: string;
}

export const SECRET_ALGORITHM = 'aes-256-gcm';
export const SECRET_FORMAT_VERSION = 1;
/** The `ciphertext` field holds at most 16,384 base64 characters. */
export const MAX_SECRET_BYTES = 12_288;

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const WRAPPED_V1_BYTES = 1 + IV_BYTES + TAG_BYTES + KEY_BYTES;
const GCM = { authTagLength: TAG_BYTES } as const;

const SECRET_AAD_LABEL = Buffer.from('kordon/provider-key-secret\0', 'latin1');
const WRAP_AAD_LABEL = Buffer.from('kordon/data-key\0', 'latin1');

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function secretAad(version: number, context: SecretContext): Buffer {
  return Buffer.concat([
    SECRET_AAD_LABEL,
    Buffer.of(version),
    lengthPrefixed(context.orgId),
    lengthPrefixed(context.providerKeyId),
  ]);
}

function wrapAad(version: number, keyId: string): Buffer {
  return Buffer.concat([WRAP_AAD_LABEL, Buffer.of(version), lengthPrefixed(keyId)]);
}

function checkContext(context: SecretContext): void {
  for (const name of ['orgId', 'providerKeyId'] as const) {
    const value: unknown = context?.[name];
    if (typeof value !== 'string' || !isValidId(value)) {
      throw new InvalidSecretError(`secret context: ${name} must be an id of [A-Za-z0-9._-]`);
    }
  }
}

function describe(context: SecretContext): string {
  return `provider key ${context.providerKeyId} of org ${context.orgId}`;
}

function gcmEncrypt(key: KeyObject | Buffer, iv: Buffer, plaintext: Buffer, aad: Buffer) {
  const cipher = createCipheriv('aes-256-gcm', key, iv, GCM);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/** Throws whatever node:crypto throws when authentication fails; callers map it. */
function gcmDecrypt(
  key: KeyObject | Buffer,
  iv: Buffer,
  ciphertext: Buffer,
  tag: Buffer,
  aad: Buffer,
): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, GCM);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/** Strict base64: canonical standard alphabet with padding, so one value has one spelling. */
function decodeField(record: EncryptedSecret, field: keyof EncryptedSecret, bytes?: number): Buffer {
  const value: unknown = record[field];
  const keyId = typeof record.keyId === 'string' ? record.keyId : null;
  if (typeof value === 'string' && value.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    const decoded = Buffer.from(value, 'base64');
    if (
      decoded.toString('base64') === value &&
      decoded.length > 0 &&
      (bytes === undefined || decoded.length === bytes)
    ) {
      return decoded;
    }
  }
  throw new SecretDecryptionError(
    'malformed_record',
    `encrypted secret: ${field} is not ${bytes === undefined ? 'canonical base64' : `${bytes} bytes of canonical base64`}`,
    { keyId },
  );
}

interface ParsedRecord {
  version: number;
  masterKey: MasterKey;
  wrapIv: Buffer;
  wrapTag: Buffer;
  wrappedKey: Buffer;
}

/** Validates the shape, finds the master key and splits wrappedDataKey. */
function parseRecord(record: EncryptedSecret, ring: MasterKeyRing): ParsedRecord {
  if (record === null || typeof record !== 'object') {
    throw new SecretDecryptionError('malformed_record', 'encrypted secret: not a record');
  }
  if (record.algorithm !== SECRET_ALGORITHM) {
    throw new SecretDecryptionError(
      'malformed_record',
      `encrypted secret: unknown algorithm ${JSON.stringify(record.algorithm)}`,
    );
  }
  if (typeof record.keyId !== 'string' || !isValidId(record.keyId)) {
    throw new SecretDecryptionError('malformed_record', 'encrypted secret: keyId is not an id');
  }
  const keyId = record.keyId;
  const wrapped = decodeField(record, 'wrappedDataKey');
  const version = wrapped[0];
  if (version !== SECRET_FORMAT_VERSION) {
    throw new SecretDecryptionError(
      'unsupported_version',
      `encrypted secret: format version ${version ?? 'missing'} is not supported (this build reads ${SECRET_FORMAT_VERSION})`,
      { keyId },
    );
  }
  if (wrapped.length !== WRAPPED_V1_BYTES) {
    throw new SecretDecryptionError(
      'malformed_record',
      `encrypted secret: wrappedDataKey is ${wrapped.length} bytes, version 1 has ${WRAPPED_V1_BYTES}`,
      { keyId },
    );
  }
  const masterKey = ring.get(keyId);
  if (masterKey === undefined) {
    throw new SecretDecryptionError(
      'unknown_master_key',
      `encrypted secret: master key ${keyId} is not configured (known: ${ring.ids.join(', ')}); ` +
        'add it to KORDON_MASTER_KEYS_OLD until every record is re-wrapped',
      { keyId },
    );
  }
  return {
    version,
    masterKey,
    wrapIv: wrapped.subarray(1, 1 + IV_BYTES),
    wrapTag: wrapped.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES),
    wrappedKey: wrapped.subarray(1 + IV_BYTES + TAG_BYTES),
  };
}

function unwrapDataKey(parsed: ParsedRecord): Buffer {
  try {
    return gcmDecrypt(
      masterKeyObject(parsed.masterKey),
      parsed.wrapIv,
      parsed.wrappedKey,
      parsed.wrapTag,
      wrapAad(parsed.version, parsed.masterKey.id),
    );
  } catch (error) {
    throw new SecretDecryptionError(
      'data_key_unwrap_failed',
      `encrypted secret: the data key does not authenticate under master key ${parsed.masterKey.id} ` +
        '(wrong master key, or wrappedDataKey/keyId altered)',
      { keyId: parsed.masterKey.id, cause: error },
    );
  }
}

function wrapDataKey(dataKey: Buffer, masterKey: MasterKey): string {
  const wrapIv = randomBytes(IV_BYTES);
  const { ciphertext, tag } = gcmEncrypt(
    masterKeyObject(masterKey),
    wrapIv,
    dataKey,
    wrapAad(SECRET_FORMAT_VERSION, masterKey.id),
  );
  return Buffer.concat([Buffer.of(SECRET_FORMAT_VERSION), wrapIv, tag, ciphertext]).toString('base64');
}

/**
 * Encrypts a secret for one provider key of one org under the ring's current master key.
 * Throws InvalidSecretError for an empty, oversized or not well-formed (lone surrogate)
 * secret and for an invalid context.
 */
export function encryptSecret(
  secret: string | RedactedSecret,
  context: SecretContext,
  ring: MasterKeyRing,
): EncryptedSecret {
  checkContext(context);
  const text = secret instanceof RedactedSecret ? secret.reveal() : secret;
  if (typeof text !== 'string' || text === '')
    throw new InvalidSecretError('a secret must be a non-empty string');
  const plaintext = Buffer.from(text, 'utf8');
  const dataKey = randomBytes(KEY_BYTES);
  try {
    if (plaintext.toString('utf8') !== text) {
      throw new InvalidSecretError('a secret must be well-formed text (it contains a lone surrogate)');
    }
    if (plaintext.length > MAX_SECRET_BYTES) {
      throw new InvalidSecretError(
        `a secret may have at most ${MAX_SECRET_BYTES} bytes (got ${plaintext.length})`,
      );
    }
    const iv = randomBytes(IV_BYTES);
    const { ciphertext, tag } = gcmEncrypt(dataKey, iv, plaintext, secretAad(SECRET_FORMAT_VERSION, context));
    return {
      algorithm: SECRET_ALGORITHM,
      keyId: ring.current.id,
      wrappedDataKey: wrapDataKey(dataKey, ring.current),
      iv: iv.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      authTag: tag.toString('base64'),
    };
  } finally {
    plaintext.fill(0);
    dataKey.fill(0);
  }
}

/**
 * Decrypts a record of this org's provider key with the master key its keyId names. Any
 * mismatch (altered field, another org or provider key, unknown or wrong master key) is a
 * SecretDecryptionError, never garbage. The plaintext comes back wrapped: `reveal()` it only
 * where the upstream request is built.
 */
export function decryptSecret(
  record: EncryptedSecret,
  context: SecretContext,
  ring: MasterKeyRing,
): RedactedSecret {
  checkContext(context);
  const parsed = parseRecord(record, ring);
  const iv = decodeField(record, 'iv', IV_BYTES);
  const tag = decodeField(record, 'authTag', TAG_BYTES);
  const ciphertext = decodeField(record, 'ciphertext');
  if (ciphertext.length === 0 || ciphertext.length > MAX_SECRET_BYTES) {
    throw new SecretDecryptionError(
      'malformed_record',
      `encrypted secret of ${describe(context)}: ciphertext has ${ciphertext.length} bytes`,
      { keyId: parsed.masterKey.id },
    );
  }
  const dataKey = unwrapDataKey(parsed);
  let plaintext: Buffer;
  try {
    plaintext = gcmDecrypt(dataKey, iv, ciphertext, tag, secretAad(parsed.version, context));
  } catch (error) {
    throw new SecretDecryptionError(
      'authentication_failed',
      `encrypted secret of ${describe(context)} does not authenticate ` +
        '(iv, ciphertext or authTag altered, or the record belongs to another org or provider key)',
      { keyId: parsed.masterKey.id, cause: error },
    );
  } finally {
    dataKey.fill(0);
  }
  try {
    return new RedactedSecret(plaintext.toString('utf8'));
  } finally {
    plaintext.fill(0);
  }
}

/** True when the record is not wrapped by the ring's current master key. */
export function needsRewrap(record: EncryptedSecret, ring: MasterKeyRing): boolean {
  return record.keyId !== ring.current.id;
}

/**
 * The same record with its data key re-wrapped under the ring's current master key; iv,
 * ciphertext and authTag are kept as they are (the secret is never decrypted). A record
 * already under the current key is returned as is (same object), so `rewrap(r, ring) !== r`
 * says a ProviderKeyRotated { kind: 'rewrapped' } is due. The old key must still be in the
 * ring. The data key is authenticated on the way, so a wrong or altered wrap fails here; the
 * ciphertext is only checked by decryptSecret (it needs the org and provider key ids).
 */
export function rewrap(record: EncryptedSecret, ring: MasterKeyRing): EncryptedSecret {
  const parsed = parseRecord(record, ring);
  // Shape of the fields kept as they are, so a malformed record is not carried forward.
  decodeField(record, 'iv', IV_BYTES);
  decodeField(record, 'authTag', TAG_BYTES);
  decodeField(record, 'ciphertext');
  if (!needsRewrap(record, ring)) return record;
  const dataKey = unwrapDataKey(parsed);
  try {
    return {
      algorithm: SECRET_ALGORITHM,
      keyId: ring.current.id,
      wrappedDataKey: wrapDataKey(dataKey, ring.current),
      iv: record.iv,
      ciphertext: record.ciphertext,
      authTag: record.authTag,
    };
  } finally {
    dataKey.fill(0);
  }
}
