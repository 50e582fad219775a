import { RE2JS } from 're2js';
import { z } from 'zod';
import { DETECTOR_IDS } from './detectors.js';
import { RedactionConfigError } from './errors.js';

/**
 * Custom rules of an org: regular expressions run by RE2JS, a linear-time engine (RE2
 * semantics, no backreferences or lookarounds), so a rule such as `(a+)+$` cannot hang the
 * logger. Patterns use RE2 syntax: https://github.com/google/re2/wiki/Syntax
 */
export const redactionRuleSchema = z.strictObject({
  /** Names the rule in markers (`[REDACTED:<id>]`) and in errors. */
  id: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be 1 to 64 characters of a-z, 0-9 and _, starting with a letter'),
  pattern: z.string().min(1).max(4096),
  action: z.enum(['mask', 'hash', 'drop']),
  caseInsensitive: z.boolean().optional(),
  /** The capture group that is the secret (`employee id: (\d+)` -> 1). Default 0: the whole match. */
  group: z.number().int().min(0).max(99).optional(),
  /** Characters `mask` keeps at the end of values of 16 or more characters. Default 0. */
  keepLast: z.number().int().min(0).max(4).optional(),
});

export type RedactionRule = z.input<typeof redactionRuleSchema>;

export interface CompiledRule {
  readonly id: string;
  readonly action: RedactionRule['action'];
  readonly group: number;
  readonly keepLast: number;
  readonly regex: RE2JS;
}

const BUILTIN_IDS = new Set<string>(DETECTOR_IDS);
const CACHE_LIMIT = 256;
/** Compiled rule sets by their canonical JSON; a Map in insertion order doubles as an LRU. */
const cache = new Map<string, readonly CompiledRule[]>();

/**
 * Validates and compiles a rule set. Equal rule sets (same rules in the same order) share one
 * compiled set: an org's redactor can be rebuilt on every configuration change, and the
 * patterns are compiled once. Throws `RedactionConfigError` naming the first bad rule.
 */
export function compileRules(rules: readonly RedactionRule[]): readonly CompiledRule[] {
  if (rules.length === 0) return [];
  const parsed = rules.map((rule, index) => {
    const result = redactionRuleSchema.safeParse(rule);
    if (!result.success) {
      const id = typeof (rule as { id?: unknown })?.id === 'string' ? (rule as { id: string }).id : undefined;
      const issue = result.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      throw new RedactionConfigError(
        `redaction rule ${id === undefined ? `#${index}` : `"${id}"`}: ${where}${issue?.message ?? 'invalid'}`,
        { ruleId: id, cause: result.error },
      );
    }
    return result.data;
  });
  const fingerprint = JSON.stringify(
    parsed.map((r) => [r.id, r.pattern, r.action, r.caseInsensitive ?? false, r.group ?? 0, r.keepLast ?? 0]),
  );
  const hit = cache.get(fingerprint);
  if (hit !== undefined) {
    cache.delete(fingerprint);
    cache.set(fingerprint, hit);
    return hit;
  }

  const seen = new Set<string>();
  const compiled = parsed.map((rule): CompiledRule => {
    if (BUILTIN_IDS.has(rule.id)) {
      throw new RedactionConfigError(
        `redaction rule "${rule.id}": the id is taken by a built-in detector; choose another`,
        { ruleId: rule.id },
      );
    }
    if (seen.has(rule.id)) {
      throw new RedactionConfigError(`redaction rule "${rule.id}": the id is used twice`, {
        ruleId: rule.id,
      });
    }
    seen.add(rule.id);
    let regex: RE2JS;
    try {
      regex = RE2JS.compile(rule.pattern, rule.caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new RedactionConfigError(
        `redaction rule "${rule.id}": pattern refused by the RE2 engine (linear-time syntax, no backreferences or lookarounds): ${reason}`,
        { ruleId: rule.id, cause: error },
      );
    }
    const group = rule.group ?? 0;
    if (group > regex.groupCount()) {
      throw new RedactionConfigError(
        `redaction rule "${rule.id}": group ${group} does not exist, the pattern has ${regex.groupCount()}`,
        { ruleId: rule.id },
      );
    }
    return Object.freeze({ id: rule.id, action: rule.action, group, keepLast: rule.keepLast ?? 0, regex });
  });
  const frozen = Object.freeze(compiled);
  cache.set(fingerprint, frozen);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return frozen;
}
