import { OidcConfigured, streams, UserJoined } from '@kordon/events';
import { oidcSecretContext, secureIssuer } from '@kordon/gateway';
import { z } from 'zod';
import { type OidcClientSettings, oidcPath } from '../../auth/oidc.js';
import { byOf } from '../../auth/principal.js';
import { etag, execute } from '../../commands/execute.js';
import { ssoSettingsDecider, ssoUserDecider } from '../../deciders/sso.js';
import { AdminError, notFound } from '../../errors.js';
import type { OrgView, SsoView } from '../../view/admin-view.js';
import type { AdminDeps } from '../deps.js';
import { metadataOf, orgOf, principalOf, userByEmail } from '../helpers.js';
import { route } from '../route.js';
import { orgParams, Tokens } from '../schemas.js';
import { startSession } from './auth.js';

/*
 * OpenID Connect single sign-on: the org's settings (`GET/PUT /orgs/{org}/sso/oidc`, owners
 * set them; the client secret is stored envelope-encrypted and never returned), and the flow
 * (`GET /auth/oidc/{org}/login` redirects to the provider, `GET /auth/oidc/{org}/callback`
 * checks its answer and starts a session like a password sign-in).
 */

const fields = OidcConfigured.schema.shape;
const issuer = fields.issuer.refine(
  secureIssuer,
  'must be https (http only for 127.0.0.1, [::1] or localhost)',
);

const SetOidcBody = z
  .strictObject({
    issuer: issuer.describe("The provider's Issuer Identifier (its discovery document is read from it)."),
    clientId: fields.clientId,
    clientSecret: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe('Stored encrypted, never returned. Leave it out to keep the current one.'),
    allowedDomains: fields.allowedDomains.describe(
      'E-mail domains (lowercase, exact) whose verified addresses may sign in.',
    ),
    autoProvision: fields.autoProvision.describe(
      'Whether a person who is not a user yet becomes one, with the role developer.',
    ),
  })
  .meta({
    id: 'SetOidcBody',
    description: 'The whole OIDC settings of the org; they replace the previous ones.',
  });

const Oidc = z
  .object({
    issuer: z.string(),
    clientId: z.string(),
    hasClientSecret: z.literal(true),
    allowedDomains: z.array(z.string()),
    autoProvision: z.boolean(),
    redirectUri: z
      .string()
      .nullable()
      .describe('Register this at the provider; null until the server knows its public URL.'),
    loginPath: z.string().describe('Where people start signing in (a browser navigation).'),
    configuredAt: z.iso.datetime(),
  })
  .meta({ id: 'Oidc' });

/** What identity providers send back; they may add parameters of their own, which are ignored. */
const callbackQuery = z.object({
  code: z.string().max(4096).optional(),
  state: z.string().max(1024).optional(),
  iss: z.string().max(1024).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(4096).optional(),
  error_uri: z.string().max(2048).optional(),
  session_state: z.string().max(1024).optional(),
});

function ssoOf(deps: AdminDeps, org: OrgView): SsoView {
  const sso = deps.view().sso.get(org.orgId);
  if (!sso) throw notFound('single sign-on');
  return sso;
}

function clientSettings(deps: AdminDeps, sso: SsoView): OidcClientSettings {
  return {
    orgId: sso.orgId,
    position: sso.position,
    issuer: sso.issuer,
    clientId: sso.clientId,
    clientSecret: () => {
      try {
        return deps.crypto.decrypt(sso.clientSecret, oidcSecretContext(sso.orgId));
      } catch (error) {
        throw new AdminError(
          'unavailable',
          "the org's OIDC client secret cannot be decrypted with the master keys in use: set it again",
          { cause: { name: error instanceof Error ? error.name : typeof error } },
        );
      }
    },
  };
}

const oidcBody = (deps: AdminDeps, org: OrgView, sso: SsoView) => ({
  issuer: sso.issuer,
  clientId: sso.clientId,
  hasClientSecret: true as const,
  allowedDomains: sso.allowedDomains,
  autoProvision: sso.autoProvision,
  redirectUri: deps.oidc.redirectUri(org.slug),
  loginPath: `${oidcPath(org.slug)}/login`,
  configuredAt: sso.configuredAt,
});

export const ssoRoutes = [
  route({
    operationId: 'getOidc',
    method: 'get',
    path: '/orgs/{org}/sso/oidc',
    tag: 'sso',
    summary: "The org's OIDC single sign-on settings (never the client secret)",
    access: 'sso.read',
    params: orgParams,
    responses: { 200: { description: 'The settings', schema: Oidc } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const sso = ssoOf(ctx.deps, org);
      const version = ctx.deps.view().versions.get(streams.org(org.orgId)) ?? 0;
      return { status: 200, body: oidcBody(ctx.deps, org, sso), headers: { ETag: etag(version) } };
    },
  }),
  route({
    operationId: 'setOidc',
    method: 'put',
    path: '/orgs/{org}/sso/oidc',
    tag: 'sso',
    summary: "Set the org's OIDC single sign-on (owners only)",
    description:
      "Nothing is fetched from the provider here: the first sign-in reads its discovery document. Register the answer's `redirectUri` at the provider.",
    access: 'sso.manage',
    params: orgParams,
    body: SetOidcBody,
    responses: { 200: { description: 'The settings as set', schema: Oidc } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const current = ctx.deps.view().sso.get(org.orgId);
      const context = oidcSecretContext(org.orgId);
      let clientSecret: SsoView['clientSecret'];
      if (ctx.body.clientSecret !== undefined)
        clientSecret = ctx.deps.crypto.encrypt(ctx.body.clientSecret, context);
      else if (current) clientSecret = current.clientSecret;
      else {
        throw new AdminError('validation_failed', 'the first settings need the client secret', {
          errors: [{ path: 'body.clientSecret', message: 'required' }],
        });
      }
      const { version } = await execute(
        ctx.deps.bus,
        ssoSettingsDecider,
        streams.org(org.orgId),
        {
          type: 'ConfigureOidc',
          settings: {
            issuer: ctx.body.issuer,
            clientId: ctx.body.clientId,
            clientSecret,
            allowedDomains: ctx.body.allowedDomains,
            autoProvision: ctx.body.autoProvision,
          },
          by: byOf(principalOf(ctx)),
        },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return {
        status: 200,
        body: oidcBody(ctx.deps, org, ssoOf(ctx.deps, org)),
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'oidcLogin',
    method: 'get',
    path: '/auth/oidc/{org}/login',
    tag: 'auth',
    summary: "Sign in through the org's identity provider: redirects there",
    description:
      'A browser navigation. Sets a short-lived, encrypted cookie holding the flow (state, nonce, PKCE verifier) and answers 302 to the provider.',
    access: 'public',
    params: orgParams,
    responses: { 302: { description: "To the identity provider's authorization endpoint" } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const settings = clientSettings(ctx.deps, ssoOf(ctx.deps, org));
      try {
        const started = await ctx.deps.oidc.start(settings, org.slug);
        return { status: 302, headers: { Location: started.location, 'Set-Cookie': started.cookie } };
      } catch (error) {
        if (error instanceof AdminError)
          ctx.deps.logger.warn(
            { orgId: org.orgId, code: error.code, cause: error.cause, requestId: ctx.requestId },
            'single sign-on cannot start',
          );
        throw error;
      }
    },
  }),
  route({
    operationId: 'oidcCallback',
    method: 'get',
    path: '/auth/oidc/{org}/callback',
    tag: 'auth',
    summary: 'Where the identity provider sends the browser back: checks its answer and signs in',
    description:
      "Checks state, issuer, PKCE and the ID token (issuer, audience, nonce, expiry; taken from the token endpoint over TLS, so not its signature); the person's e-mail must be verified by the provider and of an allowed domain, and a user of this org (or, with auto-provisioning, becomes one with the role developer). Answers the same tokens as /auth/login.",
    access: 'public',
    params: orgParams,
    query: callbackQuery,
    responses: { 200: { description: 'Signed in', schema: Tokens } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const { deps } = ctx;
      const sso = ssoOf(deps, org);
      const clear = deps.oidc.clearCookie(org.slug);
      const refuse = (reason: string, detail: string) => {
        deps.logger.warn({ orgId: org.orgId, reason, requestId: ctx.requestId }, 'single sign-on refused');
        return new AdminError('unauthenticated', `single sign-on failed: ${detail}`, {
          headers: { 'Set-Cookie': clear },
        });
      };
      const url = ctx.req.originalUrl;
      const search = url.includes('?') ? url.slice(url.indexOf('?')) : '';
      let identity: Awaited<ReturnType<typeof deps.oidc.finish>>;
      try {
        identity = await deps.oidc.finish(
          clientSettings(deps, sso),
          org.slug,
          ctx.req.headers.cookie,
          search,
        );
      } catch (error) {
        if (!(error instanceof AdminError)) throw error;
        deps.logger.warn(
          { orgId: org.orgId, code: error.code, cause: error.cause, requestId: ctx.requestId },
          'single sign-on failed',
        );
        throw new AdminError(error.code, error.message, {
          headers: { ...error.headers, 'Set-Cookie': clear },
        });
      }
      const address = identity.email?.toLowerCase() ?? null;
      if (address === null || !UserJoined.schema.shape.email.safeParse(address).success) {
        throw refuse('no_email', 'the identity provider gave no usable e-mail (ask for the email scope)');
      }
      if (!identity.emailVerified)
        throw refuse('email_unverified', 'the identity provider has not verified this e-mail');
      const domain = address.slice(address.lastIndexOf('@') + 1);
      if (!sso.allowedDomains.includes(domain)) {
        throw refuse('domain_not_allowed', 'e-mails of this domain may not sign in to this org');
      }
      let user = userByEmail(deps.view(), org.orgId, address);
      if (!user) {
        if (!sso.autoProvision) throw refuse('not_a_user', 'this person is not a user of this org');
        const userId = deps.crypto.entityId('user', `${org.slug}/${address}`);
        const local = address.slice(0, address.lastIndexOf('@'));
        const name = [identity.name, local, address].find(
          (candidate) => candidate && UserJoined.schema.shape.displayName.safeParse(candidate).success,
        );
        await execute(
          deps.bus,
          ssoUserDecider,
          streams.user(org.orgId, userId),
          { type: 'ProvisionSsoUser', userId, email: address, displayName: name ?? 'user' },
          {
            orgId: org.orgId,
            actor: { kind: 'user', id: userId, ...(ctx.ip ? { ip: ctx.ip } : {}) },
            time: deps.now(),
            correlationId: ctx.requestId,
          },
        );
        user = deps.view().users.get(userId);
        if (!user) throw new AdminError('unavailable', 'the user was made; sign in again');
      }
      if (user.disabled) throw refuse('user_disabled', 'this user is disabled');
      const tokens = await startSession(ctx, user, 'sso');
      return { status: 200, body: tokens, headers: { 'Set-Cookie': clear } };
    },
  }),
];
