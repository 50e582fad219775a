import { ibanValid, innValid, luhnValid, snilsValid } from './checksums.js';

/*
 * The built-in detectors. Each finds one kind of secret or personal datum in free text.
 *
 * Rules every pattern here follows (the adversarial test in detectors.unit.test.ts checks
 * them on 100k-character inputs):
 * - It runs on V8's backtracking engine, so it must stay linear: every unbounded run starts
 *   after a literal (`sk-`, `eyJ`, `://`) or behind a lookbehind that allows a start only at
 *   the beginning of a run; everything else is bounded (`{1,64}`).
 * - It has hints: cheap patterns, one of which must match wherever the detector can match.
 *   The redactor runs all hints in one pass first and only then the detectors whose hint
 *   matched, so a log line with nothing suspicious costs one regex scan.
 * - Where the secret sits after a context (`Bearer `, `api-key: `, `://user:`), the value is
 *   the first capture group that took part, and only the value is redacted.
 * - A lookbehind that refuses a start inside a word (`(?<![A-Za-z0-9])`) still allows one after
 *   a JSON escape (`(?<!\\[nrtbf])` inside it): in JSON text nested in a string (a tool call's
 *   `arguments`) a value on a new line follows `\n`, and the `n` is a letter.
 * - The order of this list is the priority on overlaps: the earlier, more specific detector
 *   names the finding.
 */

export type RedactionAction = 'mask' | 'hash' | 'drop';

export interface Hint {
  readonly source: string;
  readonly ignoreCase?: boolean;
}

export interface Detector {
  readonly id: string;
  readonly description: string;
  readonly defaultAction: RedactionAction;
  /** Characters of the value `mask` keeps at the end (`…abcd`), for values of 16 or more. */
  readonly keepLast: number;
  readonly hints: readonly Hint[];
  /** Global; with the `d` flag when the value is a capture group. */
  readonly pattern: RegExp;
  /** How much of the value, from its start, really is a finding (0: none). Default: all. */
  readonly accept?: (value: string) => number;
  /** The form hashed by the `hash` action, so equal values written differently correlate. */
  readonly normalize?: (value: string) => string;
}

const SECRET_HINT_KEY_ASSIGNMENT: Hint = {
  source: String.raw`(?:password|passwd|passphrase|pwd|secret|token|key|authorization|cookie|credentials)\\?["']?\s*[=:]`,
  ignoreCase: true,
};
/** Ten digits with up to three separators between each: every digit-shaped detector needs that. */
const DIGITS_HINT: Hint = { source: String.raw`\d(?:[ ()\-.№]{0,3}\d){9}` };

const all = (value: string) => value.length;
const check = (valid: (value: string) => boolean) => (value: string) => (valid(value) ? value.length : 0);
const alnumOnly = (value: string) => value.replace(/[^0-9A-Za-z]/g, '');
const digitsOnly = (value: string) => value.replace(/\D/g, '');

/**
 * The longest prefix of `value` that ends before a separator (or at the end) and passes
 * `valid`. A card number followed by a CVV (`4111 1111 1111 1111 123`) is matched as one run
 * of digit groups; the card is the prefix.
 */
function longestValidPrefix(value: string, separators: RegExp, valid: (value: string) => boolean): number {
  for (let end = value.length; end > 0; end--) {
    if (end < value.length && !separators.test(value[end]!)) continue;
    if (separators.test(value[end - 1]!)) continue;
    if (valid(value.slice(0, end))) return end;
  }
  return 0;
}

function base64Decode(value: string): string | undefined {
  if (value.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return decoded.includes('\uFFFD') ? undefined : decoded;
}

const UUID_CREDENTIAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[\x21-\x7e]+$/i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const PRINTABLE_CREDENTIAL = /^[^\x00-\x1f\x7f:]{1,256}:[^\x00-\x1f\x7f]{1,512}$/;

/** A base64 credential after `Basic ` or an `authorization_key=`-style name. */
const BASE64_CREDENTIAL_SOURCE = String.raw`(?:(?<![A-Za-z](?<!\\[nrtbf]))basic\s+|(?:gigachat[-_]?credentials|authorization[-_]?key|auth[-_]?key|credentials)\\?["']?\s*[=:]\s*\\?["']?(?:basic\s+)?)([A-Za-z0-9+/]{4,}={0,2})`;

/** Query parameters whose value is a secret. */
const SECRET_PARAM_NAMES =
  '(?:key|api[-_]?key|apikey|access[-_]?token|refresh[-_]?token|id[-_]?token|token|auth|password|pass|secret|client[-_]?secret|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|code)';

/** Lengths of IBANs by country (SWIFT IBAN registry); countries not listed: 15 to 34. */
const IBAN_LENGTHS: ReadonlyMap<string, number> = new Map(
  [
    'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18',
    'DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23',
    'IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31',
    'MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24',
    'SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30',
  ]
    .join(' ')
    .split(' ')
    .map((entry) => [entry.slice(0, 2), Number(entry.slice(2))] as const),
);

function ibanWithLength(compact: string): boolean {
  const expected = IBAN_LENGTHS.get(compact.slice(0, 2));
  if (expected !== undefined && compact.length !== expected) return false;
  return ibanValid(compact);
}

/** At most two separators in a row, and 8 to 15 digits (E.164). */
function phoneShape(value: string): boolean {
  if (/[^\d]{3}/.test(value.slice(1))) return false;
  const digits = digitsOnly(value).length;
  return digits >= 8 && digits <= 15;
}

export const BUILTIN_DETECTORS = [
  {
    id: 'anthropic_key',
    description: 'Anthropic API key (sk-ant-...)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'sk-' }],
    pattern: /(?<![A-Za-z0-9](?<!\\[nrtbf]))sk-ant-[A-Za-z0-9_-]{20,}/g,
  },
  {
    id: 'openai_key',
    description:
      'OpenAI API key (sk-..., sk-proj-..., sk-svcacct-..., sk-admin-..., sk-None-...); also DeepSeek and other sk- keys',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'sk-' }],
    pattern:
      /(?<![A-Za-z0-9](?<!\\[nrtbf]))sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20}[A-Za-z0-9_-]*)/g,
  },
  {
    id: 'provider_key',
    description:
      'Other provider keys: Groq gsk_, Hugging Face hf_, xAI xai-, Perplexity pplx-, Replicate r8_',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: '(?:gsk|hf|xai|pplx|r8)[_-]' }],
    pattern: /(?<![A-Za-z0-9](?<!\\[nrtbf]))(?:gsk|hf|xai|pplx|r8)[_-][A-Za-z0-9]{20,}/g,
  },
  {
    id: 'google_api_key',
    description: 'Google API key (AIza...)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'AIza' }],
    pattern: /AIza[0-9A-Za-z_-]{35}/g,
  },
  {
    id: 'aws_access_key_id',
    description: 'AWS access key id (AKIA..., ASIA...)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'AKIA|ASIA' }],
    pattern: /(?<![A-Za-z0-9](?<!\\[nrtbf]))(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])/g,
  },
  {
    id: 'aws_secret_key',
    description: 'AWS secret access key after aws_secret_access_key= or "SecretAccessKey":',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'secret_?access_?key', ignoreCase: true }],
    pattern:
      /(?:aws_?secret_?access_?key|secretaccesskey)\\?["']?\s*[=:]\s*\\?["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/dgi,
  },
  {
    id: 'azure_openai_key',
    description:
      'Azure OpenAI key (32 hex, or 84 characters) after api-key:, subscription-key: or azure...key=',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: String.raw`key\\?["']?\s*[=:]`, ignoreCase: true }],
    pattern:
      /(?:api[-_]?key|subscription[-_]?key|azure[-_a-z]{0,30}key)\\?["']?\s*[=:]\s*\\?["']?([0-9a-f]{32}|[A-Za-z0-9]{84})(?![A-Za-z0-9])/dgi,
  },
  {
    id: 'yandex_api_key',
    description: 'Yandex Cloud API key (AQVN...)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'AQVN' }],
    pattern: /(?<![A-Za-z0-9_-](?<!\\[nrtbf]))AQVN[A-Za-z0-9_-]{30,}/g,
  },
  {
    id: 'yandex_iam_token',
    description: 'Yandex Cloud IAM token (t1....)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: String.raw`t1\.` }],
    pattern: /(?<![A-Za-z0-9_.-](?<!\\[nrtbf]))t1\.[A-Za-z0-9_-]+=*\.[A-Za-z0-9_-]{86,}=*/g,
  },
  {
    id: 'yandex_oauth_token',
    description: 'Yandex OAuth token (y0_... to y3_...)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'y[0-3]_' }],
    pattern: /(?<![A-Za-z0-9_-](?<!\\[nrtbf]))y[0-3]_[A-Za-z0-9_-]{55,199}/g,
  },
  {
    id: 'gigachat_auth_key',
    description:
      'GigaChat authorization key: base64 of client_id:secret (client_id a UUID) after Basic or a credentials name',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: String.raw`basic\s|(?:credentials|key)\\?["']?\s*[=:]`, ignoreCase: true }],
    pattern: new RegExp(BASE64_CREDENTIAL_SOURCE, 'dgi'),
    accept: check((value) => UUID_CREDENTIAL.test(base64Decode(value) ?? '')),
  },
  {
    id: 'basic_auth',
    description: 'Any other HTTP Basic credential (base64 of user:password)',
    defaultAction: 'mask',
    keepLast: 0,
    hints: [{ source: String.raw`basic\s|(?:credentials|key)\\?["']?\s*[=:]`, ignoreCase: true }],
    pattern: new RegExp(BASE64_CREDENTIAL_SOURCE, 'dgi'),
    accept: check((value) => PRINTABLE_CREDENTIAL.test(base64Decode(value) ?? '')),
  },
  {
    id: 'kordon_proxy_key',
    description:
      'Kordon proxy key (kdn_ + base62); 16 characters or more, so mistyped and cut keys are caught too',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'kdn_' }],
    pattern: /kdn_[0-9A-Za-z]{16,}/g,
  },
  // The admin API's tokens (services/admin/src/auth/tokens.ts). Like a proxy key, from 16
  // characters on: a token cut in a log still gives most of it away, and the 12-character
  // display prefix of an API token (`kat_` + 8) is no finding.
  {
    id: 'kordon_api_token',
    description: 'Kordon admin API machine token (kat_ + 40 base62)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'kat_' }],
    pattern: /kat_[0-9A-Za-z]{16,}/g,
  },
  {
    id: 'kordon_refresh_token',
    description: 'Kordon admin API refresh token (krt_ + 43 base62)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'krt_' }],
    pattern: /krt_[0-9A-Za-z]{16,}/g,
  },
  {
    id: 'kordon_invitation_token',
    description: 'Kordon invitation link token (kin_ + 43 base62)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'kin_' }],
    pattern: /kin_[0-9A-Za-z]{16,}/g,
  },
  {
    id: 'private_key',
    description: 'PEM private key block (-----BEGIN ... PRIVATE KEY-----)',
    defaultAction: 'mask',
    keepLast: 0,
    hints: [{ source: 'PRIVATE KEY-----' }],
    pattern:
      /-----BEGIN[A-Z ]{0,40} PRIVATE KEY-----(?:(?!-----(?:END|BEGIN))[A-Za-z0-9+/=\s\\:,.-])*(?:-----END[A-Z ]{0,40} PRIVATE KEY-----)?/g,
  },
  {
    id: 'jwt',
    description: 'JSON Web Token (eyJ....)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: 'eyJ' }],
    pattern: /(?<![A-Za-z0-9_-](?<!\\[nrtbf]))eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
  },
  {
    id: 'bearer_token',
    description: 'Bearer token (Authorization: Bearer ...)',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: String.raw`bearer\s`, ignoreCase: true }],
    pattern: /(?<![A-Za-z](?<!\\[nrtbf]))bearer\s+([A-Za-z0-9._~+/-]{8,}=*)/dgi,
    // A token has a digit or punctuation, or is long; "the bearer accordingly" is prose.
    accept: check((value) => /[^A-Za-z]/.test(value) || value.length >= 20),
  },
  {
    id: 'url_password',
    description: 'Password in a URL (scheme://user:password@host)',
    defaultAction: 'mask',
    keepLast: 0,
    // `:\/\/` too: JSON with escaped slashes (PHP's json_encode, some models' tool calls).
    hints: [{ source: String.raw`:(?:\/\/|\\\/\\\/)` }],
    pattern:
      /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}:(?:\/\/|\\\/\\\/)[^\s:/?#@"'<>]*:([^\s/?#@"'<>]+)@/dg,
  },
  {
    id: 'url_secret_param',
    description: 'Secret query parameter (?key=, &api_key=, access_token=, sig=, ...)',
    defaultAction: 'mask',
    keepLast: 0,
    hints: [{ source: `[?&;]${SECRET_PARAM_NAMES}=`, ignoreCase: true }],
    pattern: new RegExp(`[?&;]${SECRET_PARAM_NAMES}=([^&#;?\\s"'<>]+)`, 'dgi'),
  },
  {
    id: 'secret_field',
    description:
      'Value after password=, secret:, token=, api-key:, x-api-key:, authorization:, cookie: ... in text; in redactValue, the whole value of such a key',
    defaultAction: 'mask',
    keepLast: 0,
    hints: [SECRET_HINT_KEY_ASSIGNMENT],
    pattern:
      /(?:password|passwd|passphrase|pwd|secret|token|api[-_]?key|private[-_]?key|subscription[-_]?key|authorization|credentials)\\?["']?\s*[=:]\s*\\?["']?(?:(?:bearer|basic|token|api-key|oauth)\s+)?([^\s"'\\,;&}\]]{1,200})|(?<![A-Za-z](?<!\\[nrtbf]))(?:set-)?cookie\\?["']?\s*:\s*\\?["']?([^\r\n"\\]{1,2000})/dgi,
  },
  {
    id: 'email',
    description: 'E-mail address',
    defaultAction: 'hash',
    keepLast: 0,
    hints: [{ source: '(?<=[A-Za-z0-9А-Яа-яЁё._%+-])@[A-Za-z0-9А-Яа-яЁё-]' }],
    // Not inside URL credentials (`//user:pass@host`, `\/\/user:pass@host`): url_password's.
    // Cyrillic too: an address in Cyrillic (иван@почта.рф, RFC 6531) is as personal.
    pattern:
      /(?<![A-Za-z0-9А-Яа-яЁё._%+-]|(?:\/\/|\\\/\\\/)[^\s/@:]{0,256}:)[A-Za-z0-9А-Яа-яЁё._%+-]{1,64}@[A-Za-z0-9А-Яа-яЁё-]{1,63}(?:\.[A-Za-z0-9А-Яа-яЁё-]{1,63}){0,8}\.[A-Za-zА-Яа-яЁё]{2,24}(?![A-Za-z0-9А-Яа-яЁё-])/g,
    normalize: (value: string) => value.toLowerCase(),
  },
  {
    id: 'phone',
    description: 'Phone number: international E.164 (+...) or Russian 8 (9xx) xxx-xx-xx, with separators',
    defaultAction: 'mask',
    keepLast: 0,
    hints: [{ source: String.raw`\+[1-9]` }, DIGITS_HINT],
    pattern:
      /(?<![\w+.](?<!\\[nrtbf]))(?:\+[1-9][\d \-().]{6,22}\d|8[ -]?\(?[3489]\d{2}\)?[ -]?\d{3}[ -]?\d{2}[ -]?\d{2})(?![\w])/g,
    accept: (value: string) => (value.startsWith('8') || phoneShape(value) ? value.length : 0),
    normalize: digitsOnly,
  },
  {
    id: 'payment_card',
    description: 'Payment card number: 13 to 19 digits starting 2-6, spaces or dashes allowed, Luhn-checked',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [DIGITS_HINT],
    pattern: /(?<![\d.])[2-6]\d{3}(?:[ -]?\d){9,15}(?!\d)/g,
    accept: (value: string) =>
      longestValidPrefix(value, /[ -]/, (prefix) => {
        const digits = digitsOnly(prefix);
        return digits.length >= 13 && luhnValid(digits);
      }),
    normalize: digitsOnly,
  },
  {
    id: 'iban',
    description: 'IBAN, upper case, spaces allowed, length by country and mod-97 checked',
    defaultAction: 'mask',
    keepLast: 4,
    hints: [{ source: String.raw`[A-Z]{2}\d{2}` }],
    pattern: /(?<![A-Za-z0-9](?<!\\[nrtbf]))[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])/g,
    accept: (value: string) => longestValidPrefix(value, / /, (prefix) => ibanWithLength(alnumOnly(prefix))),
    normalize: alnumOnly,
  },
  {
    id: 'ru_inn',
    description: 'Russian taxpayer number (ИНН), 10 or 12 digits, checksum-verified',
    defaultAction: 'mask',
    keepLast: 0,
    hints: [DIGITS_HINT],
    pattern: /(?<![\d.])(?:\d{12}|\d{10})(?!\d)/g,
    accept: check(innValid),
  },
  {
    id: 'ru_snils',
    description: 'Russian pension insurance number (СНИЛС), 123-456-789 01, checksum-verified',
    defaultAction: 'mask',
    keepLast: 0,
    hints: [DIGITS_HINT],
    pattern: /(?<![\d.])\d{3}[- ]?\d{3}[- ]?\d{3}[- ]?\d{2}(?!\d)/g,
    accept: check((value) => snilsValid(digitsOnly(value))),
    normalize: digitsOnly,
  },
  {
    id: 'ru_passport',
    description:
      'Russian passport series and number: 45 07 123456, or 4507 123456 after паспорт/passport/серия',
    defaultAction: 'mask',
    keepLast: 0,
    hints: [DIGITS_HINT, { source: 'паспорт|passport|серия', ignoreCase: true }],
    pattern:
      /(?<![\d.])(\d{2} \d{2} \d{6})(?!\d)|(?:паспорт|passport|серия)[^\d\n]{0,40}?(\d{2} ?\d{2} ?(?:(?:№|номер|No\.?|N) ?)?\d{6})(?!\d)/dgi,
    normalize: digitsOnly,
  },
] as const satisfies readonly Detector[];

export type DetectorId = (typeof BUILTIN_DETECTORS)[number]['id'];

export const DETECTOR_IDS: readonly DetectorId[] = BUILTIN_DETECTORS.map((d) => d.id);

export function acceptLength(detector: Detector, value: string): number {
  return (detector.accept ?? all)(value);
}

/** What each built-in detector is, for documentation and admin UIs (no regex state exposed). */
export const DETECTOR_CATALOGUE: readonly {
  readonly id: DetectorId;
  readonly description: string;
  readonly defaultAction: RedactionAction;
  readonly keepLast: number;
}[] = Object.freeze(
  BUILTIN_DETECTORS.map(({ id, description, defaultAction, keepLast }) =>
    Object.freeze({ id, description, defaultAction, keepLast }),
  ),
);
