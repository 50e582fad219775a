import { providerType } from '@kordon/events';
import { z } from 'zod';

/**
 * The declarative configuration file (`KORDON_CONFIG=kordon.yaml`). Applied at start as
 * commands that become events; an unchanged file appends nothing. Secrets in it are
 * stored only encrypted (provider keys) or as keyed hashes (proxy keys).
 */
const slug = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'must be a slug: lowercase letters, digits and inner dashes')
  .max(63);
const name = z.string().trim().min(1).max(100);

const providerKeySchema = z.strictObject({
  name,
  secret: z.string().min(1, 'must not be empty'),
  weight: z.int().min(0).max(1000).default(1),
  /** Models this key may serve; all of the provider's when absent. */
  models: z.array(z.string().min(1)).min(1).optional(),
});

const providerSchema = z.strictObject({
  name: slug,
  type: providerType,
  baseUrl: z.url({ protocol: /^https?$/ }),
  models: z.array(z.string().min(1).max(200)).min(1),
  keys: z.array(providerKeySchema).default([]),
  deployments: z.record(z.string(), z.string()).optional(),
  apiVersion: z.string().optional(),
  folderId: z.string().optional(),
  oauthUrl: z.url({ protocol: /^https$/ }).optional(),
  scope: z.string().optional(),
  /**
   * Limits of each call to this provider, in ms (the gateway's defaults where absent): TCP/TLS
   * connect, first byte of the answer, idle time between two chunks, and the whole call.
   */
  timeouts: z
    .strictObject({
      connectMs: z.int().min(1).max(3_600_000).optional(),
      firstByteMs: z.int().min(1).max(3_600_000).optional(),
      idleMs: z.int().min(1).max(3_600_000).optional(),
      totalMs: z.int().min(1).max(3_600_000).optional(),
    })
    .optional(),
});

const proxyKeySchema = z.strictObject({
  name,
  /** Imports a known key; when absent Kordon issues one and writes it to the data folder once. */
  secret: z.string().min(1).optional(),
  expiresAt: z.iso.datetime().optional(),
});

const userSchema = z.strictObject({
  email: z.email().max(254),
  role: z.enum(['owner', 'admin', 'finance', 'developer', 'auditor']).default('developer'),
  proxyKeys: z.array(proxyKeySchema).default([]),
});

/** A price as written in YAML: 0.15 or "0.15" (per million tokens unless unitTokens says 1000). */
const priceValue = z
  .union([z.number().min(0), z.string()])
  .transform((value) => (typeof value === 'number' ? decimalText(value) : value.trim()))
  .pipe(z.string().regex(/^\d{1,9}(\.\d{1,12})?$/, 'must be a non-negative price like 0.15'));

function decimalText(value: number): string {
  // Up to 12 decimals without float noise (0.1 + 0.2 style) or exponent notation.
  return value.toFixed(12).replace(/\.?0+$/, '');
}

const modelPrice = z.strictObject({
  input: priceValue.optional(),
  cachedInput: priceValue.optional(),
  output: priceValue.optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .optional(),
  unitTokens: z.union([z.literal(1_000), z.literal(1_000_000)]).optional(),
});

const orgSchema = z.strictObject({
  slug,
  name,
  /** The org's own prices per model, over the shipped table. */
  prices: z.record(z.string().min(1).max(200), modelPrice).default({}),
  providers: z.array(providerSchema).default([]),
  users: z.array(userSchema).default([]),
});

export const ConfigFileSchema = z.strictObject({
  orgs: z.array(orgSchema).default([]),
});

export type ConfigFile = z.infer<typeof ConfigFileSchema>;
export type ConfigOrg = ConfigFile['orgs'][number];
export type ConfigProvider = ConfigOrg['providers'][number];
export type ConfigUser = ConfigOrg['users'][number];
