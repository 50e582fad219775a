/** One part of the process to stop, named for the log. */
export interface StopStep {
  readonly name: string;
  readonly run: () => Promise<void> | void;
}

/**
 * Runs every step in order, each whatever the ones before it did: a part that fails to stop
 * (a projection whose database went away) must not keep the event store from flushing, or the
 * events still buffered would be lost. Each failure is logged; the first is thrown at the end.
 */
export async function stopInOrder(
  steps: readonly StopStep[],
  log: (error: unknown, step: string) => void,
): Promise<void> {
  let first: { error: unknown } | undefined;
  for (const step of steps) {
    try {
      await step.run();
    } catch (error) {
      log(error, step.name);
      first ??= { error };
    }
  }
  if (first) throw first.error;
}
