import type { KordonEventData } from '@kordon/events';
import type { Rights } from '../rbac/permissions.js';
import type { RequestLogEntry, RequestLogFilter } from './request-log-query.js';

type LimitScope = NonNullable<KordonEventData<'RequestRejected'>['limitScope']>['scope'];

/** What one reader may see of the ids on an entry, from the rights they hold. */
export interface RequestLogReader {
  /** `providerKey.read`: the org's provider keys. */
  readonly seesProviderKeys: boolean;
  /** `team.read`: the org's teams. */
  readonly seesTeams: boolean;
}

export function requestLogReader(rights: Rights): RequestLogReader {
  return { seesProviderKeys: rights.has('providerKey.read'), seesTeams: rights.has('team.read') };
}

/** An entry as one reader may see it: an id withheld from them is null. */
export type ReaderRequestLogEntry<Entry extends RequestLogEntry = RequestLogEntry> = Omit<
  Entry,
  'limitScope'
> & {
  limitScope: { scope: string; scopeId: string | null } | null;
};

/**
 * Whether the reader may see the id of a limit's scope. The org is their own (`org.read`); a
 * user or proxy key scope names the entry's own user and key, which anyone who may read the
 * entry may see (`request.own` shows only their own requests, `request.readAny` every one); a
 * team's id needs `team.read`. A scope this code does not know is withheld.
 */
function seesScopeId(reader: RequestLogReader, scope: string): boolean {
  const known = scope as LimitScope;
  switch (known) {
    case 'org':
    case 'user':
    case 'proxy-key':
      return true;
    case 'team':
      return reader.seesTeams;
    default: {
      // A scope added to the catalogue must be decided here; one the types miss is withheld.
      const unknown: never = known;
      void unknown;
      return false;
    }
  }
}

/**
 * The request log shows no more than the reader may read through the other routes: a
 * developer (`request.own`) holds neither `providerKey.read` nor `team.read`. Without
 * `providerKey.read` the entry's provider key id is null; without `team.read` its team id is
 * null, and so is the id of a team whose limit refused it (the scope itself stays). The entry
 * always stays, as do its provider, model, user and proxy key.
 */
export function requestEntryFor<Entry extends RequestLogEntry>(
  reader: RequestLogReader,
  entry: Entry,
): ReaderRequestLogEntry<Entry> {
  const scope = entry.limitScope;
  const scopeHidden = scope !== null && !seesScopeId(reader, scope.scope);
  return {
    ...entry,
    providerKeyId: reader.seesProviderKeys ? entry.providerKeyId : null,
    teamId: reader.seesTeams ? entry.teamId : null,
    limitScope: scope === null ? null : scopeHidden ? { scope: scope.scope, scopeId: null } : scope,
  };
}

/**
 * Whether a filter asks by an id the reader may not see: the entries show them none, so such a
 * filter matches nothing, whether the id exists or not (the answer a made-up id gets). A
 * filter cannot confirm that a guessed id is the org's provider key or team.
 */
export function filtersByWithheldId(
  reader: RequestLogReader,
  filter: Pick<RequestLogFilter, 'teamId' | 'providerKeyId'>,
): boolean {
  return (
    (filter.providerKeyId !== undefined && !reader.seesProviderKeys) ||
    (filter.teamId !== undefined && !reader.seesTeams)
  );
}
