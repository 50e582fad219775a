import { newEventId, streams } from '@kordon/events';
import { z } from 'zod';
import { etag, execute } from '../../commands/execute.js';
import { providerDecider } from '../../deciders/provider.js';
import { providerKeyDecider } from '../../deciders/provider-key.js';
import { AdminError, notFound } from '../../errors.js';
import {
  type AdminViewState,
  type ProviderKeyView,
  type ProviderView,
  providerKey,
} from '../../view/admin-view.js';
import { metadataOf, orgOf, paginate } from '../helpers.js';
import { route } from '../route.js';
import {
  AddProviderKeyBody,
  ConfigureProviderBody,
  entityParams,
  orgParams,
  Provider,
  ProviderKey,
  ProviderKeyHealth,
  page,
  pageQuery,
  RotateProviderKeyBody,
  slug,
  UpdateProviderKeyBody,
} from '../schemas.js';

const ProviderPage = page(Provider, 'Provider');
const ProviderKeyPage = page(ProviderKey, 'ProviderKey');
const keyParams = entityParams('key');
const providerParams = z.strictObject({ org: orgParams.shape.org, provider: slug });

/** A provider as answered; lists leave out the CA certificate, up to 100,000 characters each. */
function providerBody(
  provider: Pick<ProviderView, 'provider' | 'type' | 'baseUrl' | 'models' | 'options'>,
  { withCa }: { withCa: boolean },
) {
  const { caCertificate, ...options } = provider.options;
  return {
    name: provider.provider,
    type: provider.type,
    baseUrl: provider.baseUrl,
    models: provider.models,
    options: withCa ? provider.options : options,
    hasCaCertificate: caCertificate !== undefined,
  };
}

const keyBody = (key: ProviderKeyView) => ({
  id: key.providerKeyId,
  provider: key.provider,
  name: key.name,
  last4: key.last4,
  weight: key.weight,
  tier: key.tier,
  limits: key.limits,
  models: key.models,
  disabled: key.disabled,
  createdAt: key.createdAt,
  rotatedAt: key.rotatedAt,
});

function liveKey(view: AdminViewState, orgId: string, keyId: string): ProviderKeyView {
  const key = view.providerKeys.get(keyId);
  if (!key || key.orgId !== orgId || key.removed) throw notFound('provider key');
  return key;
}

/** Provider SDK errors and our own encryption refuse some secrets; say so as a 400. */
function secretProblem(error: unknown): never {
  if (error instanceof Error && error.name === 'InvalidSecretError') {
    throw new AdminError('validation_failed', error.message, {
      errors: [{ path: 'body.secret', message: error.message }],
    });
  }
  throw error;
}

export const providerRoutes = [
  route({
    operationId: 'listProviders',
    method: 'get',
    path: '/orgs/{org}/providers',
    tag: 'providers',
    summary: "The org's provider connections",
    access: 'provider.read',
    params: orgParams,
    query: pageQuery,
    responses: { 200: { description: 'A page of providers', schema: ProviderPage } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const providers = [...ctx.deps.view().providers.values()].filter((p) => p.orgId === org.orgId);
      const result = paginate(providers, (p) => p.provider, ctx.query);
      return {
        status: 200,
        body: {
          items: result.items.map((p) => providerBody(p, { withCa: false })),
          nextCursor: result.nextCursor,
        },
      };
    },
  }),
  route({
    operationId: 'configureProvider',
    method: 'put',
    path: '/orgs/{org}/providers/{provider}',
    tag: 'providers',
    summary: 'Add or change a provider connection (its keys are added separately)',
    access: 'provider.manage',
    params: providerParams,
    body: ConfigureProviderBody,
    responses: { 200: { description: 'The provider', schema: Provider } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const name = ctx.params.provider as string;
      const data = {
        provider: name,
        type: ctx.body.type,
        baseUrl: ctx.body.baseUrl,
        models: ctx.body.models,
        options: ctx.body.options,
      };
      const { state, version } = await execute(
        ctx.deps.bus,
        providerDecider,
        streams.provider(org.orgId, name),
        { type: 'ConfigureProvider', provider: data },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return {
        status: 200,
        body: providerBody({ ...data, options: state.configured?.options ?? {} }, { withCa: true }),
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'getProvider',
    method: 'get',
    path: '/orgs/{org}/providers/{provider}',
    tag: 'providers',
    summary: 'A provider connection, with its CA certificate',
    access: 'provider.read',
    params: providerParams,
    responses: { 200: { description: 'The provider', schema: Provider } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const name = ctx.params.provider as string;
      const provider = view.providers.get(providerKey(org.orgId, name));
      if (!provider) throw notFound('provider');
      const version = view.versions.get(streams.provider(org.orgId, name)) ?? 0;
      return {
        status: 200,
        body: providerBody(provider, { withCa: true }),
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'listProviderKeys',
    method: 'get',
    path: '/orgs/{org}/provider-keys',
    tag: 'provider-keys',
    summary: "The org's provider keys (never their secrets: the last 4 characters only)",
    access: 'providerKey.read',
    params: orgParams,
    query: pageQuery,
    responses: { 200: { description: 'A page of provider keys', schema: ProviderKeyPage } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const keys = [...ctx.deps.view().providerKeys.values()].filter(
        (k) => k.orgId === org.orgId && !k.removed,
      );
      const result = paginate(keys, (k) => k.providerKeyId, ctx.query);
      return { status: 200, body: { items: result.items.map(keyBody), nextCursor: result.nextCursor } };
    },
  }),
  route({
    operationId: 'providerKeyHealth',
    method: 'get',
    path: '/orgs/{org}/provider-keys/health',
    tag: 'provider-keys',
    summary:
      'Each provider key as the balancer sees it now: state, effective weight, errors, latency, quota, use',
    access: 'providerKey.read',
    params: orgParams,
    responses: {
      200: {
        description: 'The keys of the org',
        schema: z.object({ items: z.array(ProviderKeyHealth) }).meta({ id: 'ProviderKeyHealthList' }),
      },
    },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const health = ctx.deps.keyHealth?.(org.orgId) ?? [];
      const items = health.flatMap((h) => {
        const key = view.providerKeys.get(h.providerKeyId);
        if (!key || key.orgId !== org.orgId || key.removed) return [];
        return [
          {
            id: h.providerKeyId,
            provider: h.provider,
            name: key.name,
            last4: key.last4,
            strategy: h.strategy,
            tier: h.tier,
            weight: h.weight,
            effectiveWeight: h.effectiveWeight,
            state: h.state as 'ok',
            usable: h.usable,
            usableAt: h.usableAt === null ? null : new Date(h.usableAt).toISOString(),
            errorRate: h.errorRate,
            latencyEwmaMs: h.latencyEwmaMs,
            consecutiveFailures: h.consecutiveFailures,
            remaining: h.remaining,
            usage: h.usage,
          },
        ];
      });
      return { status: 200, body: { items } };
    },
  }),
  route({
    operationId: 'addProviderKey',
    method: 'post',
    path: '/orgs/{org}/provider-keys',
    tag: 'provider-keys',
    summary: 'Add a provider key: encrypted at rest (AES-256-GCM envelope), never returned',
    access: 'providerKey.manage',
    params: orgParams,
    body: AddProviderKeyBody,
    responses: { 201: { description: 'The key, with its last 4 characters', schema: ProviderKey } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      if (!view.providers.has(providerKey(org.orgId, ctx.body.provider))) {
        throw new AdminError(
          'validation_failed',
          `provider ${ctx.body.provider} is not configured in this org`,
          {
            errors: [{ path: 'body.provider', message: 'not a configured provider' }],
          },
        );
      }
      const duplicate = [...view.providerKeys.values()].some(
        (k) =>
          k.orgId === org.orgId && !k.removed && k.provider === ctx.body.provider && k.name === ctx.body.name,
      );
      if (duplicate)
        throw new AdminError('conflict', `provider ${ctx.body.provider} has a key named ${ctx.body.name}`);
      const providerKeyId = newEventId();
      const context = { orgId: org.orgId, providerKeyId };
      let secret: ReturnType<typeof ctx.deps.crypto.encrypt>;
      let last4: string;
      try {
        secret = ctx.deps.crypto.encrypt(ctx.body.secret, context);
        last4 = ctx.deps.crypto.last4(ctx.body.secret);
      } catch (error) {
        secretProblem(error);
      }
      const { version } = await execute(
        ctx.deps.bus,
        providerKeyDecider,
        streams.providerKey(org.orgId, providerKeyId),
        {
          type: 'AddProviderKey',
          providerKeyId,
          provider: ctx.body.provider,
          name: ctx.body.name,
          secret,
          last4,
          weight: ctx.body.weight ?? 1,
          models: ctx.body.models ?? null,
          tier: ctx.body.tier ?? 0,
          limits: ctx.body.limits ?? null,
        },
        metadataOf(ctx, org.orgId),
      );
      return {
        status: 201,
        body: keyBody(liveKey(ctx.deps.view(), org.orgId, providerKeyId)),
        headers: {
          ETag: etag(version),
          Location: `/admin/v1/orgs/${org.orgId}/provider-keys/${providerKeyId}`,
        },
      };
    },
  }),
  route({
    operationId: 'getProviderKey',
    method: 'get',
    path: '/orgs/{org}/provider-keys/{key}',
    tag: 'provider-keys',
    summary: 'One provider key',
    access: 'providerKey.read',
    params: keyParams,
    responses: { 200: { description: 'The key', schema: ProviderKey } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const key = liveKey(view, org.orgId, ctx.params.key as string);
      const version = view.versions.get(streams.providerKey(org.orgId, key.providerKeyId)) ?? 0;
      return { status: 200, body: keyBody(key), headers: { ETag: etag(version) } };
    },
  }),
  route({
    operationId: 'updateProviderKey',
    method: 'patch',
    path: '/orgs/{org}/provider-keys/{key}',
    tag: 'provider-keys',
    summary: 'Change the weight, tier, limits or models of a key, or disable and enable it',
    access: 'providerKey.manage',
    params: keyParams,
    body: UpdateProviderKeyBody,
    responses: { 200: { description: 'The key', schema: ProviderKey } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const key = liveKey(ctx.deps.view(), org.orgId, ctx.params.key as string);
      const { version } = await execute(
        ctx.deps.bus,
        providerKeyDecider,
        streams.providerKey(org.orgId, key.providerKeyId),
        {
          type: 'UpdateProviderKey',
          weight: ctx.body.weight,
          tier: ctx.body.tier,
          limits: ctx.body.limits,
          models: ctx.body.models,
          disabled: ctx.body.disabled,
          note: ctx.body.note ?? null,
        },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return {
        status: 200,
        body: keyBody(liveKey(ctx.deps.view(), org.orgId, key.providerKeyId)),
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'rotateProviderKey',
    method: 'post',
    path: '/orgs/{org}/provider-keys/{key}/rotate',
    tag: 'provider-keys',
    summary: 'Replace the secret of a key',
    access: 'providerKey.manage',
    params: keyParams,
    body: RotateProviderKeyBody,
    responses: { 200: { description: 'The key', schema: ProviderKey } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const key = liveKey(ctx.deps.view(), org.orgId, ctx.params.key as string);
      let secret: ReturnType<typeof ctx.deps.crypto.encrypt>;
      let last4: string;
      try {
        secret = ctx.deps.crypto.encrypt(ctx.body.secret, {
          orgId: org.orgId,
          providerKeyId: key.providerKeyId,
        });
        last4 = ctx.deps.crypto.last4(ctx.body.secret);
      } catch (error) {
        secretProblem(error);
      }
      const { version } = await execute(
        ctx.deps.bus,
        providerKeyDecider,
        streams.providerKey(org.orgId, key.providerKeyId),
        { type: 'RotateProviderKey', secret, last4 },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return {
        status: 200,
        body: keyBody(liveKey(ctx.deps.view(), org.orgId, key.providerKeyId)),
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'removeProviderKey',
    method: 'delete',
    path: '/orgs/{org}/provider-keys/{key}',
    tag: 'provider-keys',
    summary: 'Remove a key for good',
    access: 'providerKey.manage',
    params: keyParams,
    responses: { 204: { description: 'Removed' } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const key = liveKey(ctx.deps.view(), org.orgId, ctx.params.key as string);
      await execute(
        ctx.deps.bus,
        providerKeyDecider,
        streams.providerKey(org.orgId, key.providerKeyId),
        { type: 'RemoveProviderKey' },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return { status: 204 };
    },
  }),
];
