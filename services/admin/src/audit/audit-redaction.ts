import type { Rights } from '../rbac/permissions.js';
import type { AuditEntry } from './audit-query.js';

/** An entry as one reader may see it: an id withheld from them is null. */
export type ReaderAuditEntry = Omit<AuditEntry, 'actor' | 'subject'> & {
  actor: { kind: string; id: string | null; ip: string | null };
  subject: { type: string; id: string | null };
};

/** Where the org's single sign-on settings sit in the org's snapshots (the OidcConfigured patch). */
const SSO_KEY = 'sso';

function withoutSso(snapshot: unknown): unknown {
  if (snapshot === null || typeof snapshot !== 'object' || !(SSO_KEY in snapshot)) return snapshot;
  const { [SSO_KEY]: _hidden, ...rest } = snapshot as Record<string, unknown>;
  return rest;
}

/**
 * `audit.read` shows every change, but not more than the reader may read through the other
 * routes: finance, say, holds neither `sso.read` nor `apiToken.read`. Without `sso.read` the
 * org's single sign-on settings are left out of the org's snapshots; without `apiToken.read`
 * a machine token's entries keep their action and time but lose the token's id and details,
 * and a change a token made does not say which token. The entry itself always stays.
 */
export function auditEntryFor(rights: Rights, entry: AuditEntry): ReaderAuditEntry {
  const seesTokens = rights.has('apiToken.read');
  const seesSso = rights.has('sso.read');
  const tokenSubject = entry.subject.type === 'api-token' && !seesTokens;
  const tokenActor = entry.actor.kind === 'api-token' && !seesTokens;
  const ssoHidden = entry.subject.type === 'org' && !seesSso;
  if (!tokenSubject && !tokenActor && !ssoHidden) return entry;
  return {
    ...entry,
    actor: tokenActor ? { ...entry.actor, id: null } : entry.actor,
    subject: tokenSubject ? { ...entry.subject, id: null } : entry.subject,
    before: tokenSubject ? null : ssoHidden ? withoutSso(entry.before) : entry.before,
    after: tokenSubject ? null : ssoHidden ? withoutSso(entry.after) : entry.after,
  };
}
