import { kordonCatalogue, streams } from '@kordon/events';
import { type CommandMetadata, type Executed, execute } from '../commands/execute.js';
import { sessionDecider } from '../deciders/session.js';
import type { LiveSession, UserState } from '../deciders/user.js';
import { AdminError } from '../errors.js';
import type { AdminDeps } from './deps.js';

type Reason = 'password_changed' | 'password_reset' | 'user_disabled';

const PAGE = 1000;

/**
 * Runs a command on a user that ends their sessions (a new password, a disable): `run` gets
 * the user's live sessions, which the decider ends with one SessionEnded each in the same
 * append as the user's event (deciders/user.ts), by the same actor. They are the sessions of
 * the admin view once it has read the log up to its head. A session started after that head
 * and before the user's event (a sign-in racing the command, here or on another replica) is
 * ended by that event in the view all the same (0019); it gets its SessionEnded right after,
 * so the log says every session the command ended was ended, and why.
 */
export async function executeEndingSessions(
  deps: Pick<AdminDeps, 'store' | 'bus' | 'view'>,
  user: { orgId: string; userId: string },
  reason: Reason,
  metadata: CommandMetadata,
  run: (sessions: LiveSession[]) => Promise<Executed<UserState>>,
): Promise<Executed<UserState>> {
  const head = await deps.store.headPosition();
  await deps.bus.caughtUp(head);
  const view = deps.view();
  const sessions: LiveSession[] = [];
  for (const sessionId of view.sessionIdsByUserId.get(user.userId) ?? []) {
    if (view.sessions.get(sessionId)?.orgId !== user.orgId) continue;
    sessions.push({ sessionId, streamId: streams.session(user.orgId, sessionId) });
  }
  const result = await run(sessions);
  if (result.position === 0) return result; // nothing decided: no session ended
  const listed = new Set(sessions.map((s) => s.sessionId));
  for (let after = head; after < result.position; ) {
    const page = await deps.store.readAll({
      after,
      upTo: result.position,
      maxCount: PAGE,
      types: ['SessionStarted'],
    });
    for (const recorded of page) {
      const started = kordonCatalogue.decode(recorded);
      if (started.type !== 'SessionStarted' || started.orgId !== user.orgId) continue;
      if (started.data.userId !== user.userId || listed.has(started.data.sessionId)) continue;
      await endSession(deps, streams.session(user.orgId, started.data.sessionId), reason, metadata);
    }
    if (page.length < PAGE) break;
    after = page.at(-1)!.position;
  }
  return result;
}

/** Ends one session unless it ended already (its own sign-in may end it as `revoked`). */
async function endSession(
  deps: Pick<AdminDeps, 'bus'>,
  streamId: string,
  reason: Reason,
  metadata: CommandMetadata,
) {
  const command = { type: 'EndSession' as const, reason };
  try {
    await execute(deps.bus, sessionDecider, streamId, command, metadata);
  } catch (error) {
    // Ended (or refreshed) meanwhile: decided again on what it is now.
    if (!(error instanceof AdminError && error.code === 'concurrent_change')) throw error;
    await execute(deps.bus, sessionDecider, streamId, command, metadata);
  }
}
