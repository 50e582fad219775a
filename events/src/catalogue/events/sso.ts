import { z } from 'zod';
import { defineEvent } from '../define.js';
import { encryptedSecret, endpointUrl } from './fields.js';

/*
 * Single sign-on of an org's people to the admin API. Stream: `org:<orgId>`; the latest
 * event wins. The client secret is stored only envelope-encrypted (like provider keys),
 * bound to the org.
 */

/** An e-mail domain people of the org sign in from: lowercase, at least two labels. */
export const emailDomain = z
  .string()
  .max(253)
  .regex(
    /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
    'must be a lowercase domain like acme.example',
  );

/** An OAuth client id as identity providers issue them: printable, no spaces. */
const clientId = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable characters without spaces');

/**
 * OpenID Connect sign-in for the org (authorization code flow with PKCE). `issuer` is the
 * provider's Issuer Identifier (its discovery document is read from it). Only people whose
 * verified e-mail is in `allowedDomains` may sign in; with `autoProvision` one who is not a
 * user of the org yet becomes one, with the role `developer` (never more).
 */
export const OidcConfigured = defineEvent({
  type: 'OidcConfigured',
  version: 1,
  schema: z.strictObject({
    issuer: endpointUrl,
    clientId,
    clientSecret: encryptedSecret,
    allowedDomains: z
      .array(emailDomain)
      .min(1)
      .max(100)
      .refine((domains) => new Set(domains).size === domains.length, 'domains must be unique'),
    autoProvision: z.boolean(),
  }),
});

export const ssoEvents = [OidcConfigured] as const;
