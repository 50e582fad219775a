/**
 * The V8 heap settings Kordon runs with: `npm start` passes them, bench:gateway measures
 * with them, and docs/operations.md asks production to (NODE_OPTIONS or the command line).
 *
 * Node's defaults size the old generation from the machine's memory (about 4 GB on a 24 GB
 * one) and let it fill with garbage before collecting it: under load Kordon then sits at
 * ~230 MB resident for ~35 MB of live objects. A 256 MB old generation makes V8 collect
 * at ~100 MB instead (still seven times the live heap of a gateway with thousands of keys),
 * and 8 MB semi-spaces halve the young generation. Throughput stays within the run-to-run
 * noise; p99 at 64 connections rises (more full collections), see docs/benchmarks.md.
 */
export const DEFAULT_OLD_SPACE_MB = 256;
export const DEFAULT_SEMI_SPACE_MB = 8;

/**
 * The flags to start Kordon's Node.js with: the defaults above, except those that
 * NODE_OPTIONS (or the command line) already sets, which win.
 */
export function kordonNodeFlags(nodeOptions: string | undefined, execArgv: readonly string[] = []): string[] {
  const given = `${nodeOptions ?? ''} ${execArgv.join(' ')}`;
  const flags: string[] = [];
  if (!/--max-old-space-size[=\s]/.test(given)) flags.push(`--max-old-space-size=${DEFAULT_OLD_SPACE_MB}`);
  if (!/--max-semi-space-size[=\s]/.test(given)) flags.push(`--max-semi-space-size=${DEFAULT_SEMI_SPACE_MB}`);
  return flags;
}
