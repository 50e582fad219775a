export {
  DEV_MASTER_KEY_FILE_NAME,
  type DevMasterKey,
  generateDevMasterKey,
  type LoadedMasterKeyRing,
  type LoadMasterKeyRingOptions,
  loadMasterKeyRing,
  MASTER_KEY_ENV,
  MASTER_KEY_FILE_MAX_BYTES,
  OLD_MASTER_KEYS_ENV,
  parseMasterKeySetting,
  parseOlderMasterKeys,
} from './config.js';
export {
  decryptSecret,
  type EncryptedSecret,
  encryptSecret,
  MAX_SECRET_BYTES,
  needsRewrap,
  rewrap,
  SECRET_ALGORITHM,
  SECRET_FORMAT_VERSION,
  type SecretContext,
} from './envelope.js';
export {
  InvalidSecretError,
  isSecretDecryptionError,
  SecretDecryptionError,
  type SecretDecryptionReason,
} from './errors.js';
export {
  MASTER_KEY_BYTES,
  MASTER_KEY_ID_PATTERN,
  MasterKey,
  MasterKeyRing,
  masterKeyId,
  masterKeyWeakness,
} from './master-key.js';
export { HINT_MIN_CHARACTERS, hasDisplayHint, last4, RedactedSecret } from './redacted.js';
