import { z } from 'zod';

/**
 * Who or what caused an event. Never carries a secret: ids only, and for commands that came
 * over HTTP (the admin API) the client IP they came from.
 */
export const ActorSchema = z.strictObject({
  kind: z.enum(['user', 'api-token', 'proxy-key', 'system', 'config']),
  id: z.string().min(1).max(200),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
});
export type Actor = z.infer<typeof ActorSchema>;

export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'kordon' };

const idText = z.string().min(1).max(200);

/**
 * An event as a caller hands it to the store: the store adds the stream version and the
 * global position. `id` and `time` are given by the caller (so a retry is idempotent and
 * the clock stays outside pure code); the appender fills them in when missing.
 */
export const NewEventSchema = z.strictObject({
  id: z.uuid(),
  type: z.string().min(1).max(100),
  schemaVersion: z.number().int().min(1),
  streamId: z.string().min(1).max(300),
  time: z.coerce.date(),
  orgId: idText.nullable(),
  actor: ActorSchema,
  causationId: idText.nullable(),
  correlationId: idText.nullable(),
  traceId: z.string().max(64).nullable(),
  data: z.unknown(),
});
export type NewEvent = z.infer<typeof NewEventSchema>;

/** What the store hands back: the envelope plus its place in the stream and the log. */
export interface RecordedEvent<Type extends string = string, Data = unknown> {
  id: string;
  type: Type;
  schemaVersion: number;
  streamId: string;
  streamVersion: number;
  /** Global position in the log: strictly increasing in commit order, with possible holes. */
  position: number;
  time: Date;
  orgId: string | null;
  actor: Actor;
  causationId: string | null;
  correlationId: string | null;
  traceId: string | null;
  data: Data;
}

/** The metadata every command carries into the events it causes. */
export interface EventMetadata {
  orgId: string | null;
  actor: Actor;
  time?: Date;
  causationId?: string | null;
  correlationId?: string | null;
  traceId?: string | null;
}
