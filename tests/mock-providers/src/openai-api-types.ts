/** Request fields shared by the Chat Completions and Responses endpoints. */
import { z } from 'zod';

const contentPart = z.object({ type: z.string(), text: z.string().optional() });

/** A message content: a string, or parts of which the text ones count. */
export const chatContent = z.union([z.string(), z.array(contentPart), z.null()]).optional();
export type ChatContent = z.infer<typeof chatContent>;

export function contentText(value: ChatContent): string {
  if (typeof value === 'string') return value;
  return (value ?? []).map((part) => part.text ?? '').join('');
}

/**
 * `service_tier` as asked, and the tier that serves it: `auto` and `default` are served at the
 * standard one. `fast` is `priority` renamed (2026-07-30); both are accepted.
 */
export const serviceTierRequest = z.enum(['auto', 'default', 'flex', 'scale', 'priority', 'fast']).nullish();
export function servedTier(asked: z.infer<typeof serviceTierRequest>): string {
  return asked === 'flex' || asked === 'priority' || asked === 'fast' || asked === 'scale'
    ? asked
    : 'default';
}
