import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { compileRules, type RedactionRule } from './custom-rules.js';
import {
  BUILTIN_DETECTORS,
  DETECTOR_IDS,
  type Detector,
  type DetectorId,
  type RedactionAction,
} from './detectors.js';
import { RedactionConfigError } from './errors.js';
import { type Finding, type ResolvedFinding, type RuleRef, type ScanPlan, scan } from './scan.js';

/** `false` turns a built-in detector off, `true` keeps it, `{ action }` changes its action. */
export type DetectorSetting = boolean | { readonly action: RedactionAction };

export interface RedactorOptions {
  /** Server secret for the `hash` action: at least 32 bytes (`openssl rand -base64 32`). */
  readonly hashKey: Uint8Array;
  /**
   * Separates the hashes of one tenant from another's under the same `hashKey` (an org id,
   * say): equal values correlate within a scope, never across scopes. Default: none.
   */
  readonly hashScope?: string;
  /** The org's custom rules, in RE2 syntax. */
  readonly rules?: readonly RedactionRule[];
  /** Every built-in is on with its default action unless set here. */
  readonly detectors?: Partial<Record<DetectorId, DetectorSetting>>;
}

export interface Redactor {
  /** `text` with every finding replaced by its marker; the same string when nothing is found. */
  redactString(text: string): string;
  /**
   * A redacted deep copy: strings (and long integers) in values and in keys are redacted;
   * values of keys such as `authorization`, `api_key`, `password`, `secret`, `x-api-key`
   * are replaced entirely; a field or array element with a `drop` finding is removed.
   */
  redactValue(value: unknown): unknown;
  /** The findings in `text`, overlaps merged, in order. */
  findings(text: string): Finding[];
}

const HKDF_INFO = 'kordon redaction hmac-sha256 v1';
const HASH_HEX_LENGTH = 12;
const MAX_DEPTH = 64;
const DROP: unique symbol = Symbol('drop');
const SECRET_FIELD: DetectorId = 'secret_field';

function checkHashKey(hashKey: unknown): Uint8Array {
  if (!(hashKey instanceof Uint8Array)) {
    throw new RedactionConfigError('redaction hashKey must be a Buffer or Uint8Array of at least 32 bytes');
  }
  if (hashKey.length < 32) {
    throw new RedactionConfigError(`redaction hashKey has ${hashKey.length} bytes; at least 32 are needed`);
  }
  if (hashKey.every((byte) => byte === hashKey[0])) {
    throw new RedactionConfigError('redaction hashKey is one byte repeated; use random bytes');
  }
  return hashKey;
}

function isAction(value: unknown): value is RedactionAction {
  return value === 'mask' || value === 'hash' || value === 'drop';
}

function buildPlan(options: RedactorOptions): ScanPlan {
  const settings: Record<string, unknown> = { ...(options.detectors ?? {}) };
  for (const id of Object.keys(settings)) {
    if (!(DETECTOR_IDS as readonly string[]).includes(id)) {
      throw new RedactionConfigError(
        `unknown redaction detector "${id}"; known detectors: ${DETECTOR_IDS.join(', ')}`,
        { ruleId: id },
      );
    }
    const setting = settings[id];
    const valid =
      typeof setting === 'boolean' ||
      (typeof setting === 'object' && setting !== null && isAction((setting as { action?: unknown }).action));
    if (!valid) {
      throw new RedactionConfigError(
        `redaction detector "${id}": the setting must be true, false or { action: 'mask' | 'hash' | 'drop' }`,
        { ruleId: id },
      );
    }
  }

  const builtins: ScanPlan['builtins'][number][] = [];
  let enabledMask = 0;
  BUILTIN_DETECTORS.forEach((detector: Detector, index) => {
    const setting = settings[detector.id] as DetectorSetting | undefined;
    if (setting === false) return;
    const action = typeof setting === 'object' ? setting.action : detector.defaultAction;
    const bit = 1 << index;
    enabledMask |= bit;
    builtins.push({
      detector,
      bit,
      ref: {
        id: detector.id,
        kind: 'builtin',
        action,
        keepLast: detector.keepLast,
        priority: index,
        normalize: detector.normalize,
      },
    });
  });

  const custom = compileRules(options.rules ?? []).map((rule, index) => ({
    rule,
    ref: {
      id: rule.id,
      kind: 'custom' as const,
      action: rule.action,
      keepLast: rule.keepLast,
      priority: BUILTIN_DETECTORS.length + index,
      normalize: undefined,
    },
  }));
  return { builtins, enabledMask, custom };
}

// Key names whose value is a secret whatever it looks like. Compared lower-cased without
// `-`, `_`, `.` and spaces, as a whole or as the end of the name (`db_password`,
// `OPENAI_API_KEY`). Plural counters (`input_tokens`) do not end with `token`.
const SENSITIVE_KEYS = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'credentials',
  'credential',
  'pwd',
]);
const SENSITIVE_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'apikey',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'authtoken',
  'sessiontoken',
  'apitoken',
  'bearertoken',
  'privatekey',
  'secretaccesskey',
  'subscriptionkey',
  'proxykey',
  'authorizationkey',
  'authkey',
];
const sensitiveKeyCache = new Map<string, boolean>();

export function isSensitiveKey(key: string): boolean {
  let sensitive = sensitiveKeyCache.get(key);
  if (sensitive === undefined) {
    const name = key.toLowerCase().replace(/[-_.\s]/g, '');
    sensitive = SENSITIVE_KEYS.has(name) || SENSITIVE_SUFFIXES.some((suffix) => name.endsWith(suffix));
    if (sensitiveKeyCache.size >= 4096) sensitiveKeyCache.clear();
    sensitiveKeyCache.set(key, sensitive);
  }
  return sensitive;
}

export function createRedactor(options: RedactorOptions): Redactor {
  const hashKey = checkHashKey(options.hashKey);
  const plan = buildPlan(options);
  const hmacKey: KeyObject = createSecretKey(
    Buffer.from(hkdfSync('sha256', hashKey, Buffer.from(options.hashScope ?? '', 'utf8'), HKDF_INFO, 32)),
  );
  const secretField = plan.builtins.find((b) => b.detector.id === SECRET_FIELD)?.ref;

  const hash = (value: string) =>
    createHmac('sha256', hmacKey).update(value, 'utf8').digest('hex').slice(0, HASH_HEX_LENGTH);

  /** `keepable`: the end of the value that a mask may show the last `keepLast` characters of. */
  function render(ref: RuleRef, action: RedactionAction, value: string, keepable = ''): string {
    switch (action) {
      case 'mask': {
        if (ref.keepLast > 0 && keepable !== '') {
          const tail = (ref.normalize ? ref.normalize(keepable) : keepable).slice(-ref.keepLast);
          if (tail !== '') return `[REDACTED:${ref.id} …${tail}]`;
        }
        return `[REDACTED:${ref.id}]`;
      }
      case 'hash':
        return `[${ref.id}:hmac:${hash(ref.normalize ? ref.normalize(value) : value)}]`;
      case 'drop':
        return '[DROPPED]';
      default: {
        const never: never = action;
        throw new Error(`unknown redaction action ${String(never)}`);
      }
    }
  }

  function apply(text: string, findings: readonly ResolvedFinding[]): string {
    let out = '';
    let last = 0;
    for (const f of findings) {
      out +=
        text.slice(last, f.start) +
        render(f.ref, f.action, text.slice(f.start, f.end), text.slice(f.keepFrom, f.end));
      last = f.end;
    }
    return out + text.slice(last);
  }

  function redactString(text: string): string {
    const findings = scan(text, plan);
    return findings.length === 0 ? text : apply(text, findings);
  }

  /** A string inside a structure: DROP when a finding says so. */
  function redactField(text: string): string | typeof DROP {
    const findings = scan(text, plan);
    if (findings.length === 0) return text;
    if (findings.some((f) => f.action === 'drop')) return DROP;
    return apply(text, findings);
  }

  /** Whether `key` names a secret and secret_field is on. */
  const sensitive = (key: unknown): boolean =>
    secretField !== undefined && typeof key === 'string' && isSensitiveKey(key);

  /** The whole value of a sensitive key. */
  function redactSecretValue(value: unknown): unknown {
    if (secretField === undefined) return value;
    if (value === null || value === undefined || value === '') return value;
    switch (secretField.action) {
      case 'drop':
        return DROP;
      case 'hash':
        if (typeof value === 'string') return render(secretField, 'hash', value);
        return render(secretField, 'mask', '');
      default:
        return render(secretField, 'mask', '');
    }
  }

  function walk(value: unknown, depth: number, ancestors: Set<object>): unknown {
    switch (typeof value) {
      case 'string':
        return redactField(value);
      case 'number':
        // Card numbers, INNs and the like also travel as JSON numbers.
        if (Number.isSafeInteger(value) && Math.abs(value) >= 1e9) {
          const text = String(value);
          const redacted = redactField(text);
          return redacted === text ? value : redacted;
        }
        return value;
      case 'bigint': {
        const text = value.toString();
        const redacted = redactField(text);
        return redacted === text ? value : redacted;
      }
      case 'object':
        break;
      default:
        return value;
    }
    if (value === null) return null;
    if (ancestors.has(value)) return '[Circular]';
    if (depth >= MAX_DEPTH) return '[Truncated]';
    if (value instanceof Date) return new Date(value.getTime());
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      return `[binary: ${value.byteLength} bytes]`;
    }

    ancestors.add(value);
    try {
      if (Array.isArray(value)) return walkArray(value, depth, ancestors);
      if (value instanceof Map) {
        const out = new Map<unknown, unknown>();
        for (const [k, v] of value) {
          const key = walk(k, depth + 1, ancestors);
          if (key === DROP) continue;
          const item = sensitive(k) ? redactSecretValue(v) : walk(v, depth + 1, ancestors);
          if (item !== DROP) out.set(key, item);
        }
        return out;
      }
      if (value instanceof Set) {
        const out = new Set<unknown>();
        for (const v of value) {
          const item = walk(v, depth + 1, ancestors);
          if (item !== DROP) out.add(item);
        }
        return out;
      }
      if (value instanceof Error) {
        // message and stack are not enumerable: copy them by name, then the enumerable rest.
        const source: Record<string, unknown> = { name: value.name, message: value.message };
        if (value.stack !== undefined) source.stack = value.stack;
        for (const key of Object.keys(value))
          source[key] = (value as unknown as Record<string, unknown>)[key];
        if (value.cause !== undefined) source.cause = value.cause;
        return walkObject(source, depth, ancestors);
      }
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        let json: unknown;
        try {
          json = toJSON.call(value);
        } catch {
          return '[Unserializable]';
        }
        return json === value
          ? walkObject(value as Record<string, unknown>, depth, ancestors)
          : walk(json, depth, ancestors);
      }
      return walkObject(value as Record<string, unknown>, depth, ancestors);
    } finally {
      ancestors.delete(value);
    }
  }

  function walkArray(value: readonly unknown[], depth: number, ancestors: Set<object>): unknown[] {
    const out: unknown[] = [];
    // Node's rawHeaders: ['x-api-key', 'secret', 'host', 'example.com', ...].
    const pairs = value.length % 2 === 0;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const previous = i > 0 ? value[i - 1] : undefined;
      const redacted =
        pairs && i % 2 === 1 && typeof item === 'string' && sensitive(previous)
          ? redactSecretValue(item)
          : walk(item, depth + 1, ancestors);
      if (redacted !== DROP) out.push(redacted);
    }
    return out;
  }

  function walkObject(
    value: Record<string, unknown>,
    depth: number,
    ancestors: Set<object>,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const name = redactField(key);
      if (name === DROP) continue;
      const item = sensitive(key) ? redactSecretValue(value[key]) : walk(value[key], depth + 1, ancestors);
      if (item === DROP) continue;
      if (name === '__proto__') {
        Object.defineProperty(out, name, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        out[name] = item;
      }
    }
    return out;
  }

  return {
    redactString,
    redactValue(value: unknown): unknown {
      if (typeof value === 'string') return redactString(value);
      const out = walk(value, 0, new Set());
      return out === DROP ? '[DROPPED]' : out;
    },
    findings(text: string): Finding[] {
      return scan(text, plan).map(({ rule, kind, action, start, end }) => ({
        rule,
        kind,
        action,
        start,
        end,
      }));
    },
  };
}
