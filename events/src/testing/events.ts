import type { Actor, NewEvent } from '../envelope.js';
import { newEventId } from '../ids.js';

export const TEST_ACTOR: Actor = { kind: 'system', id: 'test' };

/** A schema-free event for store tests (the store does not interpret data). */
export function testEvent(
  streamId: string,
  data: Record<string, unknown> = {},
  type = 'TestHappened',
): NewEvent {
  return {
    id: newEventId(),
    type,
    schemaVersion: 1,
    streamId,
    time: new Date(),
    orgId: 'org_test',
    actor: TEST_ACTOR,
    causationId: null,
    correlationId: null,
    traceId: null,
    data,
  };
}

export function uniqueStream(prefix = 'test'): string {
  return `${prefix}-${newEventId()}`;
}
