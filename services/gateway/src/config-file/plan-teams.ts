import { type Actor, kordonCatalogue, type NewEvent, TEAM_MEMBER_ROLE } from '@kordon/events';
import type { UserEntry } from '../registry/registry.js';

/**
 * A user's team as the file gives it (`team:`), as membership events on the user's stream:
 * a role granted within the team, the same events the admin API writes. Moving to another
 * team revokes the old membership; a `team` removed from the file takes the user out only when
 * the file had put them in (membership set through the admin API is left alone).
 */
export function planMembership(
  current: UserEntry | undefined,
  userId: string,
  teamId: string | null,
  stream: string,
  meta: { orgId: string; actor: Actor; time: Date },
): NewEvent[] {
  const currentTeam = current?.teamId ?? null;
  if (currentTeam === teamId) return [];
  const revoke = (team: string) =>
    kordonCatalogue.create('RoleRevoked', stream, { userId, role: TEAM_MEMBER_ROLE, teamId: team }, meta);
  if (teamId === null)
    return currentTeam !== null && current?.teamManagedBy === 'config' ? [revoke(currentTeam)] : [];
  return [
    ...(currentTeam === null ? [] : [revoke(currentTeam)]),
    kordonCatalogue.create('RoleGranted', stream, { userId, role: TEAM_MEMBER_ROLE, teamId }, meta),
  ];
}
