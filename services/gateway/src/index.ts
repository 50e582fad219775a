// For the admin API: the same ids, encryption and key issuing as the config file.

export * from './body-keys/body-keys.js';
export { type ConfigCrypto, planDependencies } from './config-file/apply-config.js';
export { configFileVariables } from './config-file/load-config-file.js';
export { CONFIG_ACTOR } from './config-file/plan-config.js';
export { OIDC_SECRET_CONTEXT_ID, oidcSecretContext } from './config-file/plan-sso.js';
export { secureIssuer } from './config-file/sso-config-schema.js';
export * from './gateway.js';
export { dialectOfHeaders, errorBody, GatewayError } from './http/gateway-error.js';
export { InFlightList } from './http/in-flight-list.js';
export { redactionRules } from './http/logged-bodies.js';
export { continueWhenBodyIsRead } from './http/read-body.js';
export { isKnownTimeZone, resolveClientIp } from './limits/index.js';
export { PriceBook } from './pricing/index.js';
export { providerConfigProblems } from './providers/provider-options.js';
export { generateProxyKey, type ProxyKeyHash, ProxyKeyHasher } from './proxy-keys/index.js';
export * from './runtime-secrets.js';
export {
  decryptSecret,
  type EncryptedSecret,
  encryptSecret,
  InvalidSecretError,
  last4,
  MasterKey,
  MasterKeyRing,
} from './secrets/index.js';
export { checkStoredMasterKeys, rewrapStoredSecrets } from './stored-secrets.js';
export {
  AttributeBlock,
  type EndedSpans,
  RecordedSpan,
  type SpanPipeline,
  spanCountOf,
  spansOf,
} from './telemetry/span-pipeline.js';
