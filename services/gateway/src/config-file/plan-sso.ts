import { type Actor, kordonCatalogue, type NewEvent, streams } from '@kordon/events';
import type { RegistryState } from '../registry/registry.js';
import type { PlanDependencies } from './plan-config.js';
import type { ConfigSso } from './sso-config-schema.js';

/**
 * The id the OIDC client secret's envelope encryption is bound to (with the org id), by the
 * config file and the admin API alike: a ciphertext copied to another org or to a provider
 * key does not decrypt.
 */
export const OIDC_SECRET_CONTEXT_ID = 'sso-oidc-client-secret';

/** The secret context of an org's OIDC client secret. */
export const oidcSecretContext = (orgId: string) => ({ orgId, providerKeyId: OIDC_SECRET_CONTEXT_ID });

/**
 * The file's `sso.oidc` as one OidcConfigured when it differs from the settings in force
 * (the secret is compared by decrypting the stored one). Absent from the file: the settings
 * stay as they are (there is no event that removes them yet).
 */
export function planSso(
  state: RegistryState,
  orgId: string,
  sso: ConfigSso | undefined,
  deps: Pick<PlanDependencies, 'encrypt' | 'secretMatches'>,
  meta: { orgId: string; actor: Actor; time: Date },
  add: (streamId: string, events: NewEvent[]) => void,
): void {
  const oidc = sso?.oidc;
  if (!oidc) return;
  const context = oidcSecretContext(orgId);
  const current = state.sso.get(orgId);
  if (
    current &&
    current.issuer === oidc.issuer &&
    current.clientId === oidc.clientId &&
    current.autoProvision === oidc.autoProvision &&
    sameDomains(current.allowedDomains, oidc.allowedDomains) &&
    deps.secretMatches(current.clientSecret, context, oidc.clientSecret)
  ) {
    return;
  }
  const stream = streams.org(orgId);
  add(stream, [
    kordonCatalogue.create(
      'OidcConfigured',
      stream,
      {
        issuer: oidc.issuer,
        clientId: oidc.clientId,
        clientSecret: deps.encrypt(oidc.clientSecret, context),
        allowedDomains: [...new Set(oidc.allowedDomains)],
        autoProvision: oidc.autoProvision,
      },
      meta,
    ),
  ]);
}

/**
 * Allowed domains are a set: the stored list is de-duplicated, so a file repeating a domain
 * (or writing it in another case or order) declares the same settings.
 */
function sameDomains(stored: readonly string[], declared: readonly string[]): boolean {
  const normalised = (domains: readonly string[]) =>
    JSON.stringify([...new Set(domains.map((domain) => domain.toLowerCase()))].sort());
  return normalised(stored) === normalised(declared);
}
