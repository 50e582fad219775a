import type { SqlProjection } from '@kordon/projections';

/**
 * A SQL projection whose runner holds, before applying it, the first batch that holds an event
 * after `heldAfter`: a rebuild's replay caught part-way, as another process goes on following
 * the log. `go()` lets it on; `halt()` stops it there for good (what a deploy or a crash does
 * to the process), its runner's `stop()` then ending at once.
 */
export function heldReplay<E>(
  projection: SqlProjection<E>,
  heldAfter: number,
): { projection: SqlProjection<E>; go(): void; halt(): void } {
  let go!: () => void;
  let halt!: (error: Error) => void;
  const gate = new Promise<void>((resolve, reject) => {
    go = resolve;
    halt = reject;
  });
  gate.catch(() => {}); // rejected before anyone waits: not an unhandled rejection
  return {
    projection: {
      ...projection,
      async prepare(events) {
        if (events.some((event) => event.position > heldAfter)) await gate;
        await projection.prepare?.(events);
      },
    },
    go,
    halt: () => halt(new Error('the rebuilding process stopped')),
  };
}
