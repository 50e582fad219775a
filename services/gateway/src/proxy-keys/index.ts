export {
  type ExtractProxyKeyResult,
  extractProxyKeyCandidate,
  type HeaderGetter,
  type HeaderRecord,
  MAX_CREDENTIAL_HEADER_LENGTH,
  type ProxyKeyHeaderProblem,
  type ProxyKeySource,
  type RawHeaderList,
  type RequestHeaders,
} from './extract.js';
export {
  BASE62_ALPHABET,
  crc32,
  newProxyKey,
  type ParseProxyKeyResult,
  PROXY_KEY_BODY_LENGTH,
  PROXY_KEY_CHECKSUM_LENGTH,
  PROXY_KEY_DISPLAY_LENGTH,
  PROXY_KEY_LENGTH,
  PROXY_KEY_PATTERN,
  PROXY_KEY_PREFIX,
  PROXY_KEY_RANDOM_BITS,
  PROXY_KEY_RANDOM_LENGTH,
  PROXY_KEY_SCAN_PATTERN,
  PROXY_KEY_SCAN_SOURCE,
  ProxyKey,
  type ProxyKeyRejection,
  parseProxyKey,
  proxyKeyChecksum,
} from './format.js';
export {
  deriveKeyId,
  isProxyKeyHash,
  MIN_SERVER_SECRET_BYTES,
  type ProxyKeyHash,
  ProxyKeyHasher,
  type ProxyKeyServerSecrets,
} from './hash.js';
export {
  type GeneratedProxyKey,
  generateProxyKey,
  type ImportProxyKeyResult,
  importProxyKey,
} from './issue.js';
export {
  type AddProxyKeyResult,
  type AuthenticateResult,
  ProxyKeyIndex,
  type ProxyKeyMatch,
} from './proxy-key-index.js';
