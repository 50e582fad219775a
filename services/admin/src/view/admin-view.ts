import { type KordonEvent, type KordonEventData, kordonCatalogue, type RecordedEvent } from '@kordon/events';
import type { InMemoryProjection } from '@kordon/projections';
import { suspensionIsOwners } from '../deciders/proxy-key.js';
import type { Limits } from '../rbac/bounds.js';
import type { Role } from '../rbac/permissions.js';

/*
 * The admin API's read side: what lists and look-ups need, and what authentication needs on
 * every request (users, sessions, API tokens by hash). Kept in memory, built from the log.
 * Commands are never decided on it: they read their own stream (see commands/execute.ts).
 */

export interface OrgView {
  orgId: string;
  slug: string;
  name: string;
  createdAt: string;
}

export interface UserView {
  orgId: string;
  userId: string;
  email: string;
  displayName: string;
  roles: Role[];
  /** The team the user is in (RoleGranted with a teamId); their new proxy keys carry it. */
  teamId: string | null;
  disabled: boolean;
  /** argon2id hash, for sign-in; never leaves the process. */
  passwordHash: string | null;
  createdAt: string;
}

export interface TeamView {
  orgId: string;
  teamId: string;
  name: string;
  createdAt: string;
}

/** A pending invitation (gone once the person joins, by the invitation or another door). */
export interface InvitationView {
  orgId: string;
  userId: string;
  email: string;
  role: Role;
  teamId: string | null;
  /** Keyed hash of the invitation token; never leaves the process. */
  tokenHash: string;
  expiresAt: string;
  invitedAt: string;
  invitedBy: { kind: string; id: string };
}

/** An org's OIDC sign-in settings; the client secret stays encrypted and never leaves the process. */
export interface SsoView {
  orgId: string;
  issuer: string;
  clientId: string;
  clientSecret: KordonEventData<'OidcConfigured'>['clientSecret'];
  allowedDomains: string[];
  autoProvision: boolean;
  configuredAt: string;
  /** Log position of the settings: a change makes a new discovery. */
  position: number;
}

export interface ProxyKeyView {
  orgId: string;
  proxyKeyId: string;
  userId: string;
  /** The team whose limits also apply to the key (the owner's when it was issued). */
  teamId: string | null;
  name: string;
  prefix: string;
  status: 'active' | 'suspended' | 'revoked';
  /**
   * Who suspended it, while it is: its owner (who may reinstate it), or someone else (an admin,
   * the fraud detector: only `proxyKey.manageAny` reinstates it).
   */
  suspendedBy: 'owner' | 'other' | null;
  expiresAt: string | null;
  limits: Limits | null;
  createdAt: string;
}

export interface ProviderView {
  orgId: string;
  provider: string;
  type: KordonEventData<'ProviderConfigured'>['type'];
  baseUrl: string;
  models: string[];
  options: KordonEventData<'ProviderConfigured'>['options'];
}

export interface ProviderKeyView {
  orgId: string;
  providerKeyId: string;
  provider: string;
  name: string;
  last4: string;
  weight: number;
  tier: number;
  limits: KordonEventData<'ProviderKeyLimitsChanged'>['limits'];
  models: string[] | null;
  disabled: boolean;
  removed: boolean;
  createdAt: string;
  rotatedAt: string | null;
}

export interface ApiTokenView {
  orgId: string;
  apiTokenId: string;
  name: string;
  role: Role;
  prefix: string;
  hashValue: string;
  revoked: boolean;
  expiresAt: string | null;
  createdBy: { kind: string; id: string };
  createdAt: string;
}

/**
 * A live session: in the view from SessionStarted until it ends or expires (then it is
 * refused anyway, so it is dropped with its refresh token hashes).
 */
export interface SessionView {
  orgId: string;
  sessionId: string;
  userId: string;
  expiresAt: string;
  /** Every refresh token hash the session was issued (its keys in `sessionIdByRefreshHash`). */
  refreshTokenHashes: string[];
}

export interface AdminViewState {
  orgs: Map<string, OrgView>;
  orgIdBySlug: Map<string, string>;
  users: Map<string, UserView>;
  /** Lower-cased e-mail -> user ids (one per org). */
  userIdsByEmail: Map<string, Set<string>>;
  proxyKeys: Map<string, ProxyKeyView>;
  providers: Map<string, ProviderView>;
  providerKeys: Map<string, ProviderKeyView>;
  apiTokens: Map<string, ApiTokenView>;
  apiTokenIdByHash: Map<string, string>;
  /** Live sessions, in the order they started (about the order they expire). */
  sessions: Map<string, SessionView>;
  /** Every refresh token hash of a live session -> it (spent ones too: reuse detection). */
  sessionIdByRefreshHash: Map<string, string>;
  /** userId -> the ids of their live sessions (a new password ends them all). */
  sessionIdsByUserId: Map<string, Set<string>>;
  /** `${orgId}/${scope}/${scopeId}` -> limits. */
  policies: Map<string, Limits>;
  /** The same key -> how those limits renew (as set: `{}` when the defaults apply). */
  policyRenewals: Map<string, KordonEventData<'PolicySet'>['renewal']>;
  /** Stream id -> version of its last event (ETags); not kept for the usage and session streams. */
  versions: Map<string, number>;
  /** orgId -> the org's logging policy (absent: no bodies logged, kept until deleted, no rules). */
  loggingPolicies: Map<string, KordonEventData<'LoggingPolicySet'>>;
  /** orgId -> the latest instant before which the org's logged texts were erased (ms). */
  loggedTextErasedBefore: Map<string, number>;
  teams: Map<string, TeamView>;
  /** userId -> the pending invitation of that (not yet joined) user. */
  invitations: Map<string, InvitationView>;
  /** Keyed hash of an invitation token -> the invited user id. */
  invitationIdByTokenHash: Map<string, string>;
  /** orgId -> the org's OIDC sign-in settings. */
  sso: Map<string, SsoView>;
}

export const policyKey = (orgId: string, scope: string, scopeId: string) => `${orgId}/${scope}/${scopeId}`;
export const providerKey = (orgId: string, provider: string) => `${orgId}/${provider}`;

const VIEW_EVENT_TYPES = [
  'OrgCreated',
  'UserJoined',
  'RoleGranted',
  'RoleRevoked',
  'UserDisabled',
  'UserPasswordSet',
  'SessionStarted',
  'SessionRefreshed',
  'SessionEnded',
  'ApiTokenIssued',
  'ApiTokenRevoked',
  'ProviderConfigured',
  'ProviderRemoved',
  'ProviderKeyAdded',
  'ProviderKeyRotated',
  'ProviderKeyWeightChanged',
  'ProviderKeyLimitsChanged',
  'ProviderKeyModelsChanged',
  'ProviderKeyDisabled',
  'ProviderKeyEnabled',
  'ProviderKeyRemoved',
  'ProxyKeyIssued',
  'ProxyKeySuspended',
  'ProxyKeyReinstated',
  'ProxyKeyRevoked',
  'PolicySet',
  'LoggingPolicySet',
  'LoggedTextErased',
  'TeamCreated',
  'UserInvited',
  'OidcConfigured',
] as const satisfies readonly KordonEvent['type'][];
type ViewEvent = Extract<KordonEvent, { type: (typeof VIEW_EVENT_TYPES)[number] }>;
const HANDLED: ReadonlySet<string> = new Set(VIEW_EVENT_TYPES);

/**
 * Decodes (validates, upcasts) only the events the view acts on; the rest are passed through
 * undecoded, since only their stream version is read.
 */
export function decodeForView(event: RecordedEvent): KordonEvent {
  return HANDLED.has(event.type) ? kordonCatalogue.decode(event) : (event as KordonEvent);
}

/** Entities are only ever changed by events of their own org. */
function own<T extends { orgId: string }>(map: Map<string, T>, id: string, orgId: string): T | undefined {
  const entry = map.get(id);
  return entry?.orgId === orgId ? entry : undefined;
}

/**
 * The streams whose version the view keeps, for ETags. Not the usage streams (traffic), nor
 * the sessions' (one per sign-in, no ETag): a command on a session reads the stream itself
 * for its expected version (commands/execute.ts), so a dropped session needs nothing here.
 */
const SESSION_STREAM = /^org:[^:]+:session:/;
function keepsVersion(streamId: string): boolean {
  return !streamId.endsWith(':usage') && !SESSION_STREAM.test(streamId);
}

/** Drops a session and the hashes of its refresh tokens (ended or expired: refused anyway). */
function dropSession(state: AdminViewState, session: SessionView): void {
  state.sessions.delete(session.sessionId);
  for (const hash of session.refreshTokenHashes) state.sessionIdByRefreshHash.delete(hash);
  const ofUser = state.sessionIdsByUserId.get(session.userId);
  ofUser?.delete(session.sessionId);
  if (ofUser?.size === 0) state.sessionIdsByUserId.delete(session.userId);
}

/**
 * Drops the sessions expired at `time` (the time of the event being applied, so a rebuild
 * from the log drops the same ones). Every session lasts REFRESH_TOKEN_DAYS from its start,
 * so the oldest expire first: only the front of `sessions` is looked at.
 */
function dropExpiredSessions(state: AdminViewState, time: number): void {
  for (const session of state.sessions.values()) {
    if (Date.parse(session.expiresAt) > time) return;
    dropSession(state, session);
  }
}

/** Every event but request traffic: the view keeps stream versions (ETags) of all the rest. */
const NOT_TRAFFIC: ReadonlySet<string> = new Set(
  kordonCatalogue
    .types()
    .filter((type) => !['RequestCompleted', 'RequestFailed', 'RequestRejected'].includes(type)),
);

export const adminViewProjection: InMemoryProjection<AdminViewState, KordonEvent> = {
  name: 'admin-view',
  eventTypes: NOT_TRAFFIC,
  initialState: () => ({
    orgs: new Map(),
    orgIdBySlug: new Map(),
    users: new Map(),
    userIdsByEmail: new Map(),
    proxyKeys: new Map(),
    providers: new Map(),
    providerKeys: new Map(),
    apiTokens: new Map(),
    apiTokenIdByHash: new Map(),
    sessions: new Map(),
    sessionIdByRefreshHash: new Map(),
    sessionIdsByUserId: new Map(),
    policies: new Map(),
    policyRenewals: new Map(),
    versions: new Map(),
    loggingPolicies: new Map(),
    loggedTextErasedBefore: new Map(),
    teams: new Map(),
    invitations: new Map(),
    invitationIdByTokenHash: new Map(),
    sso: new Map(),
  }),
  evolve(state, anyEvent) {
    if (keepsVersion(anyEvent.streamId)) state.versions.set(anyEvent.streamId, anyEvent.streamVersion);
    dropExpiredSessions(state, anyEvent.time.getTime());
    if (!HANDLED.has(anyEvent.type)) return state;
    const event = anyEvent as ViewEvent;
    const orgId = event.orgId;
    if (orgId === null) return state;
    const at = event.time.toISOString();
    switch (event.type) {
      case 'OrgCreated':
        if (state.orgs.has(orgId)) return state;
        state.orgs.set(orgId, { orgId, slug: event.data.slug, name: event.data.name, createdAt: at });
        state.orgIdBySlug.set(event.data.slug, orgId);
        return state;
      case 'UserJoined': {
        const { userId, email, displayName } = event.data;
        state.users.set(userId, {
          orgId,
          userId,
          email,
          displayName,
          roles: [],
          teamId: null,
          disabled: false,
          passwordHash: null,
          createdAt: at,
        });
        // Joined (by the invitation or another door): the invitation is spent.
        const invitation = own(state.invitations, userId, orgId);
        if (invitation) {
          state.invitations.delete(userId);
          state.invitationIdByTokenHash.delete(invitation.tokenHash);
        }
        const key = email.toLowerCase();
        const ids = state.userIdsByEmail.get(key) ?? new Set<string>();
        ids.add(userId);
        state.userIdsByEmail.set(key, ids);
        return state;
      }
      case 'RoleGranted': {
        const user = own(state.users, event.data.userId, orgId);
        // A role within a team is membership of that team; it grants no org-level rights.
        if (user && event.data.teamId !== null) user.teamId = event.data.teamId;
        else if (user && !user.roles.includes(event.data.role)) user.roles = [...user.roles, event.data.role];
        return state;
      }
      case 'RoleRevoked': {
        const user = own(state.users, event.data.userId, orgId);
        if (user && event.data.teamId !== null) {
          if (user.teamId === event.data.teamId) user.teamId = null;
        } else if (user) user.roles = user.roles.filter((r) => r !== event.data.role);
        return state;
      }
      case 'UserDisabled': {
        const user = own(state.users, event.data.userId, orgId);
        if (user) user.disabled = true;
        return state;
      }
      case 'UserPasswordSet': {
        const user = own(state.users, event.data.userId, orgId);
        if (!user) return state;
        user.passwordHash = event.data.passwordHash;
        // A new password ends every session the user started before it (in log order), in
        // the same event: a stolen session does not outlive a change or a reset, and no crash
        // between the change and the revocations can leave one alive.
        for (const sessionId of [...(state.sessionIdsByUserId.get(user.userId) ?? [])]) {
          const session = own(state.sessions, sessionId, orgId);
          if (session) dropSession(state, session);
        }
        return state;
      }
      case 'SessionStarted': {
        const { sessionId, refreshTokenHash } = event.data;
        state.sessions.set(sessionId, {
          orgId,
          sessionId,
          userId: event.data.userId,
          expiresAt: event.data.expiresAt,
          refreshTokenHashes: [refreshTokenHash.value],
        });
        state.sessionIdByRefreshHash.set(refreshTokenHash.value, sessionId);
        const ofUser = state.sessionIdsByUserId.get(event.data.userId) ?? new Set<string>();
        ofUser.add(sessionId);
        state.sessionIdsByUserId.set(event.data.userId, ofUser);
        return state;
      }
      case 'SessionRefreshed': {
        // The spent hashes stay while the session lives: presenting one again ends it.
        const session = own(state.sessions, event.data.sessionId, orgId);
        if (session) {
          session.refreshTokenHashes.push(event.data.refreshTokenHash.value);
          state.sessionIdByRefreshHash.set(event.data.refreshTokenHash.value, session.sessionId);
        }
        return state;
      }
      case 'SessionEnded': {
        // Ended for good (logout, reuse, revocation): its tokens are refused without it.
        const session = own(state.sessions, event.data.sessionId, orgId);
        if (session) dropSession(state, session);
        return state;
      }
      case 'ApiTokenIssued':
        state.apiTokens.set(event.data.apiTokenId, {
          orgId,
          apiTokenId: event.data.apiTokenId,
          name: event.data.name,
          role: event.data.role,
          prefix: event.data.prefix,
          hashValue: event.data.hash.value,
          revoked: false,
          expiresAt: event.data.expiresAt,
          createdBy: { kind: event.actor.kind, id: event.actor.id },
          createdAt: at,
        });
        state.apiTokenIdByHash.set(event.data.hash.value, event.data.apiTokenId);
        return state;
      case 'ApiTokenRevoked': {
        const token = own(state.apiTokens, event.data.apiTokenId, orgId);
        if (token) token.revoked = true;
        return state;
      }
      case 'ProviderConfigured':
        state.providers.set(providerKey(orgId, event.data.provider), {
          orgId,
          provider: event.data.provider,
          type: event.data.type,
          baseUrl: event.data.baseUrl,
          models: event.data.models,
          options: event.data.options,
        });
        return state;
      case 'ProviderRemoved':
        state.providers.delete(providerKey(orgId, event.data.provider));
        return state;
      case 'ProviderKeyAdded': {
        const d = event.data;
        state.providerKeys.set(d.providerKeyId, {
          orgId,
          providerKeyId: d.providerKeyId,
          provider: d.provider,
          name: d.name,
          last4: d.last4,
          weight: d.weight,
          tier: d.tier ?? 0,
          limits: d.limits ?? null,
          models: d.models,
          disabled: false,
          removed: false,
          createdAt: at,
          rotatedAt: null,
        });
        return state;
      }
      case 'ProviderKeyRotated': {
        const key = own(state.providerKeys, event.data.providerKeyId, orgId);
        if (key) {
          key.last4 = event.data.last4;
          key.rotatedAt = at;
        }
        return state;
      }
      case 'ProviderKeyWeightChanged': {
        const key = own(state.providerKeys, event.data.providerKeyId, orgId);
        if (key) key.weight = event.data.weight;
        return state;
      }
      case 'ProviderKeyLimitsChanged': {
        const key = own(state.providerKeys, event.data.providerKeyId, orgId);
        if (key) {
          key.tier = event.data.tier;
          key.limits = event.data.limits;
        }
        return state;
      }
      case 'ProviderKeyModelsChanged': {
        const key = own(state.providerKeys, event.data.providerKeyId, orgId);
        if (key) key.models = event.data.models;
        return state;
      }
      case 'ProviderKeyDisabled':
      case 'ProviderKeyEnabled': {
        const key = own(state.providerKeys, event.data.providerKeyId, orgId);
        if (key) key.disabled = event.type === 'ProviderKeyDisabled';
        return state;
      }
      case 'ProviderKeyRemoved': {
        const key = own(state.providerKeys, event.data.providerKeyId, orgId);
        if (key) key.removed = true;
        return state;
      }
      case 'ProxyKeyIssued': {
        const d = event.data;
        state.proxyKeys.set(d.proxyKeyId, {
          orgId,
          proxyKeyId: d.proxyKeyId,
          userId: d.userId,
          teamId: d.teamId,
          name: d.name,
          prefix: d.prefix,
          status: 'active',
          suspendedBy: null,
          expiresAt: d.expiresAt,
          limits: null,
          createdAt: at,
        });
        return state;
      }
      case 'ProxyKeySuspended':
      case 'ProxyKeyReinstated':
      case 'ProxyKeyRevoked': {
        const key = own(state.proxyKeys, event.data.proxyKeyId, orgId);
        if (key && key.status !== 'revoked') {
          key.status =
            event.type === 'ProxyKeySuspended'
              ? 'suspended'
              : event.type === 'ProxyKeyRevoked'
                ? 'revoked'
                : 'active';
          key.suspendedBy =
            event.type !== 'ProxyKeySuspended'
              ? null
              : suspensionIsOwners(event.actor, key.userId, event.data.byFraudDetector)
                ? 'owner'
                : 'other';
        }
        return state;
      }
      case 'PolicySet': {
        const { scope, scopeId, limits, renewal } = event.data;
        const key = policyKey(orgId, scope, scopeId);
        if (Object.keys(limits).length === 0) {
          state.policies.delete(key);
          state.policyRenewals.delete(key);
        } else {
          state.policies.set(key, limits);
          state.policyRenewals.set(key, renewal);
        }
        if (scope === 'proxy-key') {
          const proxyKey = own(state.proxyKeys, scopeId, orgId);
          if (proxyKey) proxyKey.limits = Object.keys(limits).length === 0 ? null : limits;
        }
        return state;
      }
      case 'LoggingPolicySet':
        state.loggingPolicies.set(orgId, event.data);
        return state;
      case 'LoggedTextErased': {
        // As the logging decider: an erasure never moves the bound back (decision 0021).
        const before = Date.parse(event.data.before);
        const previous = state.loggedTextErasedBefore.get(orgId);
        state.loggedTextErasedBefore.set(orgId, previous === undefined ? before : Math.max(previous, before));
        return state;
      }
      case 'TeamCreated':
        if (!state.teams.has(event.data.teamId))
          state.teams.set(event.data.teamId, {
            orgId,
            teamId: event.data.teamId,
            name: event.data.name,
            createdAt: at,
          });
        return state;
      case 'UserInvited': {
        const d = event.data;
        if (own(state.users, d.userId, orgId)) return state; // joined already
        const previous = own(state.invitations, d.userId, orgId);
        if (previous) state.invitationIdByTokenHash.delete(previous.tokenHash); // a new invitation replaces it
        state.invitations.set(d.userId, {
          orgId,
          userId: d.userId,
          email: d.email,
          role: d.role,
          teamId: d.teamId,
          tokenHash: d.tokenHash.value,
          expiresAt: d.expiresAt,
          invitedAt: at,
          invitedBy: { kind: event.actor.kind, id: event.actor.id },
        });
        state.invitationIdByTokenHash.set(d.tokenHash.value, d.userId);
        return state;
      }
      case 'OidcConfigured':
        state.sso.set(orgId, {
          orgId,
          ...event.data,
          allowedDomains: [...event.data.allowedDomains],
          configuredAt: at,
          position: event.position,
        });
        return state;
      default: {
        const unhandled: never = event;
        void unhandled;
        return state;
      }
    }
  },
};

/** Org-level role of a user: the union of roles is used for rights; this picks one to show. */
export function displayRole(user: UserView): Role | null {
  const order: Role[] = ['owner', 'admin', 'finance', 'auditor', 'developer'];
  return order.find((role) => user.roles.includes(role)) ?? null;
}
