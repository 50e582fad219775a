import type { z } from 'zod';
import type { EventMetadata, NewEvent, RecordedEvent } from '../envelope.js';
import { KordonError } from '../errors.js';
import { isUuid, newEventId } from '../ids.js';

/**
 * One event type and all the shapes it has ever had. Stored shapes are frozen: a change
 * adds a version with an upcaster from the one before, and readers upcast on read.
 */
export interface EventDefinition<Type extends string = string, Schema extends z.ZodType = z.ZodType> {
  readonly type: Type;
  /** The version written today. */
  readonly version: number;
  readonly schema: Schema;
  /** Older versions: their frozen schema and how to lift their data one version up. */
  readonly previous: ReadonlyMap<number, { schema: z.ZodType; upcast: (data: unknown) => unknown }>;
  /**
   * A hand-written check for the hottest events: true only for data the schema accepts and
   * writes unchanged; false sends the data to the schema (request-fast-checks.ts).
   */
  readonly fastCheck?: ((data: unknown) => boolean) | undefined;
}

export interface PreviousVersion {
  version: number;
  schema: z.ZodType;
  /** Lift data of this version to `version + 1`. */
  upcast: (data: never) => unknown;
}

export function defineEvent<const Type extends string, Schema extends z.ZodType>(definition: {
  type: Type;
  version: number;
  schema: Schema;
  previous?: PreviousVersion[];
  fastCheck?: (data: unknown) => boolean;
}): EventDefinition<Type, Schema> {
  const previous = new Map<number, { schema: z.ZodType; upcast: (data: unknown) => unknown }>();
  for (const p of definition.previous ?? []) {
    if (p.version >= definition.version) {
      throw new Error(
        `${definition.type}: previous version ${p.version} is not older than ${definition.version}`,
      );
    }
    previous.set(p.version, { schema: p.schema, upcast: p.upcast as (data: unknown) => unknown });
  }
  for (let v = 1; v < definition.version; v++) {
    if (!previous.has(v))
      throw new Error(`${definition.type}: version ${v} has no frozen schema and upcaster`);
  }
  return {
    type: definition.type,
    version: definition.version,
    schema: definition.schema,
    previous,
    fastCheck: definition.fastCheck,
  };
}

/** The typed event union of a list of definitions. */
export type EventOf<Definitions extends readonly EventDefinition[]> = {
  [K in keyof Definitions]: Definitions[K] extends EventDefinition<infer T, infer S>
    ? RecordedEvent<T, z.infer<S>>
    : never;
}[number];

type DataOf<Definitions extends readonly EventDefinition[], T extends string> =
  Extract<Definitions[number], EventDefinition<T>> extends EventDefinition<T, infer S> ? z.input<S> : never;

export class EventDecodeError extends KordonError {
  constructor(
    message: string,
    readonly position: number | null,
    readonly eventType: string,
    cause?: unknown,
  ) {
    super('event_decode_failed', message, { cause });
    this.name = 'EventDecodeError';
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * The catalogue validates events on the way in (`create`) and decodes them on the way out
 * (`decode`): unknown types and versions and malformed data are refused with an error that
 * names the position and the type; old versions are upcast to today's shape.
 */
export class Catalogue<const Definitions extends readonly EventDefinition[]> {
  private readonly byType = new Map<string, EventDefinition>();

  constructor(readonly definitions: Definitions) {
    for (const definition of definitions) {
      if (this.byType.has(definition.type)) throw new Error(`event type ${definition.type} is defined twice`);
      this.byType.set(definition.type, definition);
    }
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  /** Builds a validated new event of today's version. Throws `event_invalid` on bad data. */
  create<T extends Definitions[number]['type']>(
    type: T,
    streamId: string,
    data: DataOf<Definitions, T>,
    metadata: EventMetadata & { id?: string },
  ): NewEvent {
    const definition = this.byType.get(type);
    if (!definition) throw new KordonError('event_invalid', `unknown event type ${type}`);
    let checked: unknown = data;
    if (!definition.fastCheck?.(data)) {
      const parsed = definition.schema.safeParse(data);
      if (!parsed.success) {
        throw new KordonError('event_invalid', `${type}: ${describeIssues(parsed.error)}`, {
          cause: parsed.error,
        });
      }
      checked = parsed.data;
    }
    if (metadata.id !== undefined && !isUuid(metadata.id)) {
      throw new KordonError('event_invalid', `${type}: event id must be a UUID`);
    }
    return {
      id: metadata.id ?? newEventId(),
      type,
      schemaVersion: definition.version,
      streamId,
      time: metadata.time ?? new Date(),
      orgId: metadata.orgId,
      actor: metadata.actor,
      causationId: metadata.causationId ?? null,
      correlationId: metadata.correlationId ?? null,
      traceId: metadata.traceId ?? null,
      data: checked,
    };
  }

  /** Checks an already built event (for instance one read back from the spool). */
  validate(event: NewEvent): void {
    const definition = this.byType.get(event.type);
    if (!definition) throw new KordonError('event_invalid', `unknown event type ${event.type}`);
    const schema = event.schemaVersion === definition.version ? definition.schema : undefined;
    if (!schema) {
      throw new KordonError(
        'event_invalid',
        `${event.type}: only version ${definition.version} may be written, not ${event.schemaVersion}`,
      );
    }
    const parsed = schema.safeParse(event.data);
    if (!parsed.success) {
      throw new KordonError('event_invalid', `${event.type}: ${describeIssues(parsed.error)}`, {
        cause: parsed.error,
      });
    }
  }

  /** Validates a stored event and upcasts it to today's version. */
  decode(event: RecordedEvent): EventOf<Definitions> {
    const where = `event ${event.type} v${event.schemaVersion} at position ${event.position}`;
    const fail = (problem: string, cause?: unknown) =>
      new EventDecodeError(`${where}: ${problem}`, event.position, event.type, cause);
    const parse = (schema: z.ZodType, data: unknown) => {
      const parsed = schema.safeParse(data);
      if (!parsed.success) throw fail(`malformed data: ${describeIssues(parsed.error)}`, parsed.error);
      return parsed.data;
    };
    const definition = this.byType.get(event.type);
    if (!definition) throw fail('unknown event type');
    let data: unknown = event.data;
    let version = event.schemaVersion;
    if (version > definition.version || version < 1) {
      throw fail(`unknown version (this build knows up to v${definition.version})`);
    }
    while (version < definition.version) {
      const frozen = definition.previous.get(version);
      if (!frozen) throw fail(`no upcaster from v${version}`);
      const old = parse(frozen.schema, data);
      try {
        data = frozen.upcast(old);
      } catch (error) {
        throw fail(
          `upcasting from v${version} failed: ${error instanceof Error ? error.message : String(error)}`,
          error,
        );
      }
      version++;
    }
    return {
      ...event,
      schemaVersion: definition.version,
      data: parse(definition.schema, data),
    } as EventOf<Definitions>;
  }
}
