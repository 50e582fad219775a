/**
 * The zod schema of a provider's configuration (`orgs[].providers[]` beyond name, type, models
 * and keys), for the config loader to parse at start. Each adapter's `configProblems` then
 * says what its provider in particular still needs (Azure an apiVersion on deployment URLs,
 * YandexGPT a folder).
 */
import { z } from 'zod';
import {
  OPENAI_COMPATIBLE_VENDORS,
  PROVIDER_IDS,
  type ProviderConfig,
  type ProviderId,
} from './provider-types.js';

const httpUrl = z.url({ protocol: /^https?$/ }).max(500);

export const providerConfigSchema = z.strictObject({
  baseUrl: httpUrl.optional(),
  apiVersion: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,40}$/, 'must be a version like 2024-10-21 or v1beta')
    .optional(),
  deployments: z
    .record(z.string().min(1).max(200), z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/))
    .optional(),
  folderId: z
    .string()
    .regex(/^[a-z0-9]{1,50}$/, 'must be a Yandex Cloud folder id')
    .optional(),
  authScheme: z.enum(['api-key', 'bearer']).optional(),
  oauthUrl: httpUrl.optional(),
  scope: z.enum(['GIGACHAT_API_PERS', 'GIGACHAT_API_B2B', 'GIGACHAT_API_CORP']).optional(),
  vendor: z.enum(OPENAI_COMPATIBLE_VENDORS).optional(),
  organization: z.string().max(200).optional(),
  project: z.string().max(200).optional(),
  caCertificate: z.string().includes('-----BEGIN CERTIFICATE-----').max(100_000).optional(),
}) satisfies z.ZodType<ProviderConfig>;

export const providerIdSchema = z.enum(PROVIDER_IDS) satisfies z.ZodType<ProviderId>;
