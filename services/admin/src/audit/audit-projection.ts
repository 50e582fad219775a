import {
  type KordonEvent,
  type KordonEventType,
  kordonCatalogue,
  parseStreamId,
  type RecordedEvent,
} from '@kordon/events';
import type { SqlProjection, SqlStatement } from '@kordon/projections';

/*
 * The audit log: one row per control-plane event with who (actor kind, id), from where (IP),
 * what (the event type), when, on what (the stream's subject) and the subject before and
 * after. Before/after are sanitised snapshots: a patch per event type that never contains a
 * secret, a ciphertext, a hash or a password hash; the running snapshot of each subject lives
 * in `kordon_admin_audit_subjects`, merged in SQL (jsonb ||), so `project` stays pure.
 */

type Snapshot = Record<string, unknown>;
/** `replace`: the event creates the subject (a new snapshot); otherwise it patches the last one. */
type Change = { replace: boolean; patch: Snapshot };

function changeOf(event: KordonEvent): Change | null {
  switch (event.type) {
    case 'OrgCreated':
      return { replace: true, patch: { ...event.data } };
    case 'TeamCreated':
      return { replace: true, patch: { ...event.data } };
    case 'UserInvited': {
      const { tokenHash: _secret, ...rest } = event.data;
      return { replace: true, patch: { ...rest, status: 'invited' } };
    }
    case 'UserJoined':
      return { replace: false, patch: { ...event.data, disabled: false } };
    case 'UserPasswordSet':
      return { replace: false, patch: { passwordSet: true } };
    case 'RoleGranted':
      // A role within a team is membership of the team.
      return {
        replace: false,
        patch: event.data.teamId === null ? { role: event.data.role } : { team: event.data.teamId },
      };
    case 'RoleRevoked':
      return { replace: false, patch: event.data.teamId === null ? { role: null } : { team: null } };
    case 'UserDisabled':
      return { replace: false, patch: { disabled: true, note: event.data.note } };
    case 'SessionStarted': {
      const { refreshTokenHash: _secret, ...rest } = event.data;
      return { replace: true, patch: { ...rest, status: 'active' } };
    }
    case 'SessionEnded':
      return { replace: false, patch: { status: 'ended', reason: event.data.reason } };
    case 'ApiTokenIssued': {
      const { hash: _secret, ...rest } = event.data;
      return { replace: true, patch: { ...rest, status: 'active' } };
    }
    case 'ApiTokenRevoked':
      return { replace: false, patch: { status: 'revoked', note: event.data.note } };
    case 'ProviderConfigured':
      return { replace: true, patch: { ...event.data } };
    case 'ProviderRemoved':
      return { replace: false, patch: { removed: true } };
    case 'PricesSet':
      return { replace: false, patch: { prices: event.data.prices } };
    case 'ProvidersOrdered':
      return { replace: false, patch: { providerOrder: event.data.providers } };
    case 'ProviderKeyAdded': {
      const { secret: _secret, ...rest } = event.data;
      return { replace: true, patch: { ...rest, disabled: false } };
    }
    case 'ProviderKeyRotated':
      return { replace: false, patch: { last4: event.data.last4, rotation: event.data.kind } };
    case 'ProviderKeyWeightChanged':
      return { replace: false, patch: { weight: event.data.weight } };
    case 'ProviderKeyLimitsChanged':
      return { replace: false, patch: { tier: event.data.tier, limits: event.data.limits } };
    case 'ProviderKeyModelsChanged':
      return { replace: false, patch: { models: event.data.models } };
    case 'ProviderKeyDisabled':
      return { replace: false, patch: { disabled: true, disabledReason: event.data.reason } };
    case 'ProviderKeyEnabled':
      return { replace: false, patch: { disabled: false, disabledReason: null } };
    case 'ProviderKeyRemoved':
      return { replace: false, patch: { removed: true } };
    case 'ProxyKeyIssued': {
      const { hash: _secret, ...rest } = event.data;
      return { replace: true, patch: { ...rest, status: 'active' } };
    }
    case 'ProxyKeySuspended':
      return {
        replace: false,
        patch: { status: 'suspended', reason: event.data.reason, note: event.data.note },
      };
    case 'ProxyKeyReinstated':
      return { replace: false, patch: { status: 'active', note: event.data.note } };
    case 'ProxyKeyRevoked':
      return {
        replace: false,
        patch: { status: 'revoked', reason: event.data.reason, note: event.data.note },
      };
    case 'PolicySet':
      return {
        replace: false,
        patch: {
          policy: { scope: event.data.scope, limits: event.data.limits, renewal: event.data.renewal ?? null },
        },
      };
    case 'LoggingPolicySet':
      return {
        replace: false,
        patch: {
          logging: {
            bodies: event.data.bodies,
            retentionDays: event.data.retentionDays,
            rules: event.data.rules,
          },
        },
      };
    case 'LoggedTextErased':
      // The org's snapshot keeps the latest erasure; its entry names who erased and up to when.
      return { replace: false, patch: { loggedTextErasedBefore: event.data.before } };
    case 'OidcConfigured': {
      const { clientSecret: _secret, ...rest } = event.data;
      return { replace: false, patch: { sso: { oidc: rest } } };
    }
    default:
      return null;
  }
}

/** The event types the audit log shows: people's and tokens' changes, not traffic or cooldowns. */
export const AUDITED_TYPES = [
  'OrgCreated',
  'TeamCreated',
  'UserInvited',
  'UserJoined',
  'UserPasswordSet',
  'RoleGranted',
  'RoleRevoked',
  'UserDisabled',
  'SessionStarted',
  'SessionEnded',
  'ApiTokenIssued',
  'ApiTokenRevoked',
  'ProviderConfigured',
  'ProviderRemoved',
  'ProvidersOrdered',
  'PricesSet',
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
  'OidcConfigured',
] as const satisfies readonly KordonEventType[];
const AUDITED: ReadonlySet<string> = new Set(AUDITED_TYPES);

/** Only audited events are decoded; everything else (request traffic) is skipped unread. */
export function decodeForAudit(event: RecordedEvent): KordonEvent | null {
  return AUDITED.has(event.type) ? kordonCatalogue.decode(event) : null;
}

export const AUDIT_TABLE = 'kordon_admin_audit';
export const AUDIT_SUBJECTS_TABLE = 'kordon_admin_audit_subjects';

/** The projection's name: its checkpoint, and where its parked events are found. */
export const AUDIT_PROJECTION = 'admin-audit';

export const auditProjection: SqlProjection<KordonEvent | null> = {
  name: AUDIT_PROJECTION,
  version: 1,
  // The store hands over only these: request traffic is never even read.
  eventTypes: AUDITED,
  tables: [AUDIT_TABLE, AUDIT_SUBJECTS_TABLE],
  migrations: [
    {
      scope: 'admin-audit',
      version: 1,
      name: 'audit log',
      sql: `
        CREATE TABLE kordon_admin_audit (
          position     bigint      PRIMARY KEY,
          event_id     uuid        NOT NULL UNIQUE,
          org_id       text        NOT NULL,
          occurred_at  timestamptz NOT NULL,
          actor_kind   text        NOT NULL,
          actor_id     text        NOT NULL,
          actor_ip     text,
          action       text        NOT NULL,
          subject_type text        NOT NULL,
          subject_id   text        NOT NULL,
          before       jsonb,
          after        jsonb
        );
        CREATE INDEX kordon_admin_audit_org ON kordon_admin_audit (org_id, position);
        CREATE INDEX kordon_admin_audit_org_time ON kordon_admin_audit (org_id, occurred_at);
        CREATE TABLE kordon_admin_audit_subjects (
          stream_id text  PRIMARY KEY,
          state     jsonb NOT NULL
        )
      `,
    },
    {
      scope: 'admin-audit',
      version: 2,
      name: "a subject's state never goes back",
      // Each process serving the admin API builds this model, and one behind another applies
      // events the other already did: the subject's state remembers the event it is at.
      sql: 'ALTER TABLE kordon_admin_audit_subjects ADD COLUMN position bigint NOT NULL DEFAULT 0',
    },
  ],
  project(event) {
    if (event === null || event.orgId === null) return [];
    const change = changeOf(event);
    if (!change) return [];
    const parsed = parseStreamId(event.streamId);
    const subjectType = parsed?.kind === 'tenant' ? parsed.category : 'other';
    const subjectId = parsed?.kind === 'tenant' ? (parsed.id ?? parsed.orgId) : event.streamId;
    const patch = JSON.stringify(change.patch);
    const statements: SqlStatement[] = [
      {
        text: `INSERT INTO kordon_admin_audit (position, event_id, org_id, occurred_at, actor_kind, actor_id,
                 actor_ip, action, subject_type, subject_id, before, after)
               SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, s.state,
                      CASE WHEN $12 THEN $11::jsonb ELSE coalesce(s.state, '{}'::jsonb) || $11::jsonb END
                 FROM (SELECT 1) AS one
                 LEFT JOIN kordon_admin_audit_subjects s ON s.stream_id = $13
               ON CONFLICT (event_id) DO NOTHING`,
        params: [
          event.position,
          event.id,
          event.orgId,
          event.time.toISOString(),
          event.actor.kind,
          event.actor.id,
          event.actor.ip ?? null,
          event.type,
          subjectType,
          subjectId,
          patch,
          change.replace,
          event.streamId,
        ],
      },
      {
        // Only a later event moves the state: one applied again (by a process behind another,
        // each building this model) would take it back, and the next entry's `before` with it.
        text: `INSERT INTO kordon_admin_audit_subjects (stream_id, state, position) VALUES ($1, $2::jsonb, $4)
               ON CONFLICT (stream_id) DO UPDATE SET state =
                 CASE WHEN $3 THEN EXCLUDED.state ELSE kordon_admin_audit_subjects.state || EXCLUDED.state END,
                 position = EXCLUDED.position
               WHERE kordon_admin_audit_subjects.position < EXCLUDED.position`,
        params: [event.streamId, patch, change.replace, event.position],
      },
    ];
    return statements;
  },
};
