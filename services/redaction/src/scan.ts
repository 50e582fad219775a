import type { CompiledRule } from './custom-rules.js';
import { acceptLength, BUILTIN_DETECTORS, type Detector, type RedactionAction } from './detectors.js';

/** One place in a string that a rule redacts. It never carries the matched text. */
export interface Finding {
  /** The detector id or custom rule id that names this finding. */
  readonly rule: string;
  readonly kind: 'builtin' | 'custom';
  readonly action: RedactionAction;
  /** UTF-16 offsets, `end` exclusive. */
  readonly start: number;
  readonly end: number;
}

/** A rule as the scanner sees it: a built-in detector or a compiled custom rule. */
export interface RuleRef {
  readonly id: string;
  readonly kind: 'builtin' | 'custom';
  readonly action: RedactionAction;
  readonly keepLast: number;
  /** Lower wins when overlapping findings share the strictest action. */
  readonly priority: number;
  readonly normalize: ((value: string) => string) | undefined;
}

export interface ScanPlan {
  /** Enabled built-ins, with the bit their hint group sets. */
  readonly builtins: readonly { readonly detector: Detector; readonly bit: number; readonly ref: RuleRef }[];
  readonly enabledMask: number;
  readonly custom: readonly { readonly rule: CompiledRule; readonly ref: RuleRef }[];
}

export interface ResolvedFinding extends Finding {
  readonly ref: RuleRef;
  /**
   * Where the characters a `mask` marker may keep begin: in the named rule's own match,
   * which ends the finding, and after every other merged match's hidden part. `end` when
   * the marker keeps nothing.
   */
  readonly keepFrom: number;
}

/** A mask keeps characters of a match only when the match is at least this long. */
const MIN_KEEP_LENGTH = 16;

// ---------------------------------------------------------------------------------------
// Precheck: the hints of all built-ins, joined into one regex per case mode. A string where
// no hint matches (most log lines) costs one scan per mode and nothing else.
//
// A joined regex reports only one alternative per position, and a match hides hints that
// start inside it, so when it hits, every remaining hint is tried at that position on its
// own (sticky) and the search resumes one character later with the hints not yet seen. Each
// round retires at least one hint, so a string costs at most one scan per hint.

if (BUILTIN_DETECTORS.length > 31) throw new Error('detector bitmask holds 31 detectors');

interface HintGroup {
  readonly sources: readonly string[];
  readonly flags: string;
  /** Sticky regex of each hint. */
  readonly sticky: readonly RegExp[];
  /** Detector bits of each hint. */
  readonly masks: readonly number[];
  /** Joined regexes by the bitmask of hints still wanted. */
  readonly joined: Map<number, RegExp>;
  /** Bitmask of the hints that serve a bitmask of wanted detectors. */
  readonly hintsFor: Map<number, number>;
}

function buildHintGroup(ignoreCase: boolean): HintGroup | undefined {
  const bySource = new Map<string, number>();
  BUILTIN_DETECTORS.forEach((detector, index) => {
    for (const hint of detector.hints as Detector['hints']) {
      if ((hint.ignoreCase ?? false) !== ignoreCase) continue;
      bySource.set(hint.source, (bySource.get(hint.source) ?? 0) | (1 << index));
    }
  });
  if (bySource.size === 0) return undefined;
  if (bySource.size > 31) throw new Error('hint bitmask holds 31 hints per case mode');
  const sources = [...bySource.keys()];
  const flags = ignoreCase ? 'i' : '';
  return {
    sources,
    flags,
    sticky: sources.map((source) => new RegExp(source, `${flags}y`)),
    masks: sources.map((source) => bySource.get(source)!),
    joined: new Map(),
    hintsFor: new Map(),
  };
}

const HINT_GROUPS = [buildHintGroup(false), buildHintGroup(true)].filter(
  (group): group is HintGroup => group !== undefined,
);

function joinedRegex(group: HintGroup, hints: number): RegExp {
  let regex = group.joined.get(hints);
  if (regex === undefined) {
    const sources = group.sources.filter((_, i) => (hints & (1 << i)) !== 0);
    regex = new RegExp(sources.map((s) => `(?:${s})`).join('|'), `${group.flags}g`);
    group.joined.set(hints, regex);
  }
  return regex;
}

/** Bits of the built-in detectors (by index in BUILTIN_DETECTORS) among `wanted` that may match `text`. */
export function candidateMask(text: string, wanted: number): number {
  let found = 0;
  for (const group of HINT_GROUPS) {
    let hints = group.hintsFor.get(wanted);
    if (hints === undefined) {
      hints = 0;
      for (let i = 0; i < group.masks.length; i++) if ((group.masks[i]! & wanted) !== 0) hints |= 1 << i;
      group.hintsFor.set(wanted, hints);
    }
    let position = 0;
    while (hints !== 0) {
      const regex = joinedRegex(group, hints);
      regex.lastIndex = position;
      const m = regex.exec(text);
      if (m === null) break;
      for (let i = 0; i < group.sticky.length; i++) {
        if ((hints & (1 << i)) === 0) continue;
        const sticky = group.sticky[i]!;
        sticky.lastIndex = m.index;
        if (sticky.test(text)) {
          found |= group.masks[i]!;
          hints &= ~(1 << i);
        }
      }
      position = m.index + 1;
    }
  }
  return found & wanted;
}

// ---------------------------------------------------------------------------------------
// Markers: the text this package writes is never found again, so redaction is idempotent and
// a redacted string has no findings.

const MARKER = /\[(?:REDACTED:[a-z0-9_]+(?: …[^\]\n]{1,4})?|DROPPED|[a-z0-9_]+:hmac:[0-9a-f]{12})\]/y;
/** Longer than any marker: ids have at most 64 characters. */
const MARKER_REACH = 96;

/** Whether [start, end) lies inside a marker (`key:` in `[google_api_key:hmac:…]` is no secret). */
function withinMarker(text: string, start: number, end: number): boolean {
  const limit = Math.max(0, start - MARKER_REACH);
  for (let i = start; i >= limit; i--) {
    const c = text.charCodeAt(i);
    if (c === 0x5d && i < start) return false; // ']' closes whatever came before
    if (c !== 0x5b) continue; // '['
    MARKER.lastIndex = i;
    const m = MARKER.exec(text);
    return m !== null && end <= i + m[0].length;
  }
  return false;
}

// ---------------------------------------------------------------------------------------

interface Span {
  start: number;
  end: number;
  ref: RuleRef;
}

function scanBuiltin(text: string, detector: Detector, ref: RuleRef, out: Span[]): void {
  const regex = detector.pattern;
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    let start = m.index;
    let value = m[0];
    if (m.indices !== undefined) {
      for (let g = 1; g < m.length; g++) {
        const span = m.indices[g];
        if (span !== undefined) {
          start = span[0];
          value = m[g]!;
          break;
        }
      }
    }
    const length = acceptLength(detector, value);
    if (length > 0 && !withinMarker(text, start, start + length)) {
      out.push({ start, end: start + length, ref });
    }
  }
}

function scanCustom(text: string, rule: CompiledRule, ref: RuleRef, out: Span[]): void {
  if (!rule.regex.test(text)) return;
  const matcher = rule.regex.matcher(text);
  while (matcher.find()) {
    const start = matcher.start(rule.group);
    const end = matcher.end(rule.group);
    if (start < 0 || end <= start || withinMarker(text, start, end)) continue;
    out.push({ start, end, ref });
  }
}

const STRICTNESS: Readonly<Record<RedactionAction, number>> = { hash: 1, mask: 2, drop: 3 };

/** Where the characters a marker of this match alone would keep begin (`end`: none). */
function keptFrom(span: Span): number {
  const { ref, start, end } = span;
  return ref.action === 'mask' && ref.keepLast > 0 && end - start >= MIN_KEEP_LENGTH
    ? end - ref.keepLast
    : end;
}

/**
 * Every finding of the plan in `text`, overlaps merged: a run of overlapping matches becomes
 * one finding covering all of them, with the strictest action among them (drop, then mask,
 * then hash) and, among the rules with that action, the name of the highest-priority one.
 * Its `keepFrom` says which of its last characters a mask may keep.
 */
export function scan(text: string, plan: ScanPlan): ResolvedFinding[] {
  const spans: Span[] = [];
  if (plan.enabledMask !== 0 && text.length >= 5) {
    const mask = candidateMask(text, plan.enabledMask);
    if (mask !== 0) {
      for (const { detector, bit, ref } of plan.builtins) {
        if ((mask & bit) !== 0) scanBuiltin(text, detector, ref, spans);
      }
    }
  }
  for (const { rule, ref } of plan.custom) scanCustom(text, rule, ref, spans);
  if (spans.length === 0) return [];

  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const findings: ResolvedFinding[] = [];
  let first = 0;
  let start = spans[0]!.start;
  let end = spans[0]!.end;
  let best = spans[0]!.ref;
  // The marker is named after `best` but covers every merged match: it may keep only the end
  // of best's own match, and only what each other match would keep of itself (a password
  // or a second cookie merged after a key must not lend the key its last characters).
  // Each span is read once more here, so a run costs twice its length.
  const flush = (next: number) => {
    let own: Span | undefined;
    let hiddenUntil = start;
    for (let j = first; j < next; j++) {
      const span = spans[j]!;
      if (own === undefined && span.ref === best && span.end === end) own = span;
      else hiddenUntil = Math.max(hiddenUntil, keptFrom(span));
    }
    // Best's own share is counted by the redactor: its last keepLast characters once normalised.
    const keepFrom = own !== undefined && keptFrom(own) < end ? Math.max(hiddenUntil, own.start) : end;
    findings.push({ rule: best.id, kind: best.kind, action: best.action, start, end, ref: best, keepFrom });
  };
  for (let i = 1; i < spans.length; i++) {
    const current = spans[i]!;
    if (current.start < end) {
      if (current.end > end) end = current.end;
      const ref = current.ref;
      const diff = STRICTNESS[ref.action] - STRICTNESS[best.action];
      if (diff > 0 || (diff === 0 && ref.priority < best.priority)) best = ref;
    } else {
      flush(i);
      first = i;
      start = current.start;
      end = current.end;
      best = current.ref;
    }
  }
  flush(spans.length);
  return findings;
}
