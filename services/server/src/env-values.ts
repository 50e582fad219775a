import { z } from 'zod';

/**
 * An environment variable holding a whole number from `min` to `max`, with messages that name
 * the range (the configuration's and the `OTEL_*` variables' schemas share it).
 */
export const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `expected a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `expected at least ${min}`).max(max, `expected at most ${max}`));
