import type { KordonEventData } from '@kordon/events';

/*
 * "No one hands out more than they hold": the limits, models and expiry of what a principal
 * creates are bounded by its own. Pure, so the property test can drive it directly.
 */

export type Limits = KordonEventData<'PolicySet'>['limits'];

export interface BoundResult {
  /** The limits to store: the requested ones, with every limit of the ceiling the request left out copied in. */
  limits: Limits;
  /** Why the request asks for more than the ceiling; empty when it does not. */
  problems: string[];
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** Exact comparison of two non-negative decimal strings (no float rounding). */
export function compareDecimal(a: string, b: string): number {
  const scaled = (value: string) => {
    const match = DECIMAL.exec(value);
    if (!match) throw new Error(`not a decimal: ${value}`);
    return BigInt(match[1]!) * 10n ** 12n + BigInt((match[2] ?? '').padEnd(12, '0').slice(0, 12));
  };
  const x = scaled(a);
  const y = scaled(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Whether allowlist entry `outer` (exact or `prefix*`) allows everything `inner` allows. */
export function patternCovers(outer: string, inner: string): boolean {
  if (!outer.endsWith('*')) return outer === inner;
  const prefix = outer.slice(0, -1);
  return inner.startsWith(prefix);
}

/**
 * Bounds `requested` by `ceiling`. A limit the ceiling has and the request omits is copied
 * (the new thing is never looser than its maker); a looser one is a problem, not silently
 * clamped, so the caller learns why.
 */
export function boundLimits(requested: Limits | undefined, ceiling: Limits | undefined): BoundResult {
  const limits: Limits = { ...(requested ?? {}) };
  const problems: string[] = [];
  if (!ceiling) return { limits, problems };

  for (const field of ['rpm', 'tpm', 'concurrency'] as const) {
    const max = ceiling[field];
    if (max === undefined) continue;
    const wanted = limits[field];
    if (wanted === undefined) limits[field] = max;
    else if (wanted > max) problems.push(`${field} ${wanted} is above your own ${max}`);
  }

  if (ceiling.budget) {
    const wanted = limits.budget;
    if (!wanted) limits.budget = { ...ceiling.budget };
    else if (wanted.period !== ceiling.budget.period)
      problems.push(`budget period must be your own (${ceiling.budget.period})`);
    else if (compareDecimal(wanted.usd, ceiling.budget.usd) > 0)
      problems.push(`budget ${wanted.usd} USD is above your own ${ceiling.budget.usd} USD`);
  }

  if (ceiling.tokens) {
    const wanted = limits.tokens;
    if (!wanted) limits.tokens = { ...ceiling.tokens };
    else if (wanted.kind !== ceiling.tokens.kind || wanted.period !== ceiling.tokens.period)
      problems.push(
        `token limit must count ${ceiling.tokens.kind} tokens per ${ceiling.tokens.period}, as yours`,
      );
    else if (wanted.count > ceiling.tokens.count)
      problems.push(`token limit ${wanted.count} is above your own ${ceiling.tokens.count}`);
  }

  if (ceiling.maxDistinctIps) {
    const wanted = limits.maxDistinctIps;
    if (!wanted) limits.maxDistinctIps = { ...ceiling.maxDistinctIps };
    else if (wanted.period !== ceiling.maxDistinctIps.period)
      problems.push(`distinct-IP cap period must be your own (${ceiling.maxDistinctIps.period})`);
    else if (wanted.count > ceiling.maxDistinctIps.count)
      problems.push(`distinct-IP cap ${wanted.count} is above your own ${ceiling.maxDistinctIps.count}`);
  }

  if (ceiling.models) {
    const allowed = ceiling.models;
    if (!limits.models) limits.models = [...allowed];
    else
      for (const model of limits.models) {
        if (!allowed.some((outer) => patternCovers(outer, model)))
          problems.push(`model ${model} is not among your own allowed models`);
      }
  }

  if (ceiling.ipAllow) {
    const allowed = new Set(ceiling.ipAllow);
    if (!limits.ipAllow) limits.ipAllow = [...ceiling.ipAllow];
    else
      for (const range of limits.ipAllow) {
        if (!allowed.has(range)) problems.push(`IP range ${range} is not one of your own allowed ranges`);
      }
  }

  if (ceiling.ipDeny) {
    // Denials only ever tighten: the new thing is denied whatever its maker is denied.
    limits.ipDeny = [...new Set([...(limits.ipDeny ?? []), ...ceiling.ipDeny])];
  }

  return { limits, problems };
}

/**
 * The expiry of something a principal creates: never later than the principal's own
 * (`ceiling`, null when it has none); an omitted expiry inherits it.
 */
export function boundExpiry(
  requested: string | null | undefined,
  ceiling: string | null,
  now: Date,
): { expiresAt: string | null; problem: string | null } {
  if (requested !== undefined && requested !== null && Date.parse(requested) <= now.getTime()) {
    return { expiresAt: null, problem: 'expiresAt must be in the future' };
  }
  if (ceiling === null) return { expiresAt: requested ?? null, problem: null };
  if (Date.parse(ceiling) <= now.getTime())
    return { expiresAt: null, problem: 'your own access has expired' };
  if (requested === undefined || requested === null) return { expiresAt: ceiling, problem: null };
  if (Date.parse(requested) > Date.parse(ceiling)) {
    return { expiresAt: null, problem: `expiresAt must not be after your own expiry ${ceiling}` };
  }
  return { expiresAt: requested, problem: null };
}

/** Whether `inner` is no looser than `outer` in every limit `outer` sets (what the property test checks). */
export function withinLimits(inner: Limits, outer: Limits): boolean {
  return boundLimits(inner, outer).problems.length === 0 && sameAfterBounding(inner, outer);
}

function sameAfterBounding(inner: Limits, outer: Limits): boolean {
  // Every limit of `outer` must be present in `inner` (copied or tighter), else inner is looser.
  for (const key of Object.keys(outer) as (keyof Limits)[]) {
    if (key === 'ipDeny') {
      const denied = new Set(inner.ipDeny ?? []);
      if (!(outer.ipDeny ?? []).every((range) => denied.has(range))) return false;
    } else if (inner[key] === undefined) return false;
  }
  return true;
}

/**
 * The limits that hold for someone under two scopes at once (org and user): each limit at
 * its tightest. Used as the ceiling of what that someone may hand out.
 */
export function tightest(outer: Limits | undefined, inner: Limits | undefined): Limits | undefined {
  if (!outer) return inner;
  if (!inner) return outer;
  const merged: Limits = { ...outer, ...inner };
  for (const field of ['rpm', 'tpm', 'concurrency'] as const) {
    const a = outer[field];
    const b = inner[field];
    if (a !== undefined && b !== undefined) merged[field] = Math.min(a, b);
  }
  if (outer.budget && inner.budget && outer.budget.period === inner.budget.period) {
    merged.budget = compareDecimal(outer.budget.usd, inner.budget.usd) <= 0 ? outer.budget : inner.budget;
  }
  if (
    outer.tokens &&
    inner.tokens &&
    outer.tokens.period === inner.tokens.period &&
    outer.tokens.kind === inner.tokens.kind
  ) {
    merged.tokens = outer.tokens.count <= inner.tokens.count ? outer.tokens : inner.tokens;
  }
  if (
    outer.maxDistinctIps &&
    inner.maxDistinctIps &&
    outer.maxDistinctIps.period === inner.maxDistinctIps.period
  ) {
    merged.maxDistinctIps =
      outer.maxDistinctIps.count <= inner.maxDistinctIps.count ? outer.maxDistinctIps : inner.maxDistinctIps;
  }
  if (outer.models && inner.models) {
    merged.models = inner.models.filter((model) => outer.models!.some((o) => patternCovers(o, model)));
  }
  if (outer.ipAllow && inner.ipAllow) {
    const allowed = new Set(outer.ipAllow);
    merged.ipAllow = inner.ipAllow.filter((range) => allowed.has(range));
  }
  if (outer.ipDeny || inner.ipDeny)
    merged.ipDeny = [...new Set([...(outer.ipDeny ?? []), ...(inner.ipDeny ?? [])])];
  return merged;
}
