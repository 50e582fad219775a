import { emailDomain } from '@kordon/events';
import { z } from 'zod';

/** https, or http to a loopback host (an identity provider on the same machine). */
export function secureIssuer(issuer: string): boolean {
  if (!URL.canParse(issuer)) return false;
  const url = new URL(issuer);
  return url.protocol === 'https:' || ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
}

/**
 * The org's `sso` block: OpenID Connect sign-in of its people to the admin API. `issuer`
 * must be https (plain http only on a loopback address, for a provider on the same machine).
 */
export const ssoConfigSchema = z.strictObject({
  oidc: z
    .strictObject({
      issuer: z
        .url({ protocol: /^https?$/ })
        .refine(secureIssuer, 'must be https (http only for 127.0.0.1, [::1] or localhost)'),
      clientId: z.string().min(1).max(255),
      /** Write it as `${VAR}`: it is stored only encrypted and never shown again. */
      clientSecret: z.string().min(1, 'must not be empty'),
      /** E-mail domains whose verified addresses may sign in (`acme.example`; no wildcards). */
      allowedDomains: z
        .array(
          z
            .string()
            .transform((domain) => domain.trim().toLowerCase())
            .pipe(emailDomain),
        )
        .min(1),
      /** Whether a person with an allowed, verified e-mail who is not a user yet becomes one (developer). */
      autoProvision: z.boolean().default(false),
    })
    .optional(),
});

export type ConfigSso = z.infer<typeof ssoConfigSchema>;
