/**
 * Cuts secrets out of text that came back from a provider before it reaches an error, a
 * log or an event. Providers echo keys back (OpenAI masks all but a few characters,
 * Yandex and others quote the key whole), and a gateway must never repeat them.
 *
 * Two layers: the exact secrets of the call (the key, an OAuth token), then patterns of
 * credentials we know the shape of, for the ones we were not told about.
 */

const REDACTED = '[redacted]';

/** Credential shapes of the providers Kordon speaks to, plus generic auth-header forms. */
const PATTERNS: readonly [RegExp, string][] = [
  // Authorization schemes followed by a credential: `Bearer x`, `Basic x`, `Api-Key x`.
  [/\b(Bearer|Basic|Api-Key)\s+[A-Za-z0-9._~+/=-]{6,}/gi, `$1 ${REDACTED}`],
  // OpenAI, Anthropic, Mistral-style secret keys (also half-masked ones like `sk-pro****abcd`).
  [/\bsk-[A-Za-z0-9_*-]{6,}/g, `sk-${REDACTED}`],
  // Google API keys.
  [/\bAIza[0-9A-Za-z_-]{10,}/g, REDACTED],
  // Yandex Cloud API keys (AQVN...), IAM tokens (t1....) and OAuth tokens (y0_...).
  [/\bAQVN[A-Za-z0-9_-]{10,}/g, REDACTED],
  [/\bt1\.[A-Za-z0-9_.-]{10,}/g, REDACTED],
  [/\by[0-3]_[A-Za-z0-9_-]{10,}/g, REDACTED],
  // Kordon's own: proxy keys (kdn_), admin API tokens (kat_), refresh (krt_) and invitation
  // (kin_) tokens, a caller may have pasted into a prompt the provider quotes back; masked too.
  // Not inside a word, but after a JSON escape (`\nkdn_...` in a raw body) yes.
  [/(?<![A-Za-z0-9](?<!\\[nrtbf]))(k(?:dn|at|rt|in)_)[A-Za-z0-9*]{8,}/g, `$1${REDACTED}`],
  // JWTs (GigaChat and Entra access tokens).
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // Keys passed as query parameters, quoted back in URLs.
  [/([?&](?:key|api[_-]?key|access_token|token)=)[^&\s"']+/gi, `$1${REDACTED}`],
];

/** Secrets shorter than this are not searched for: they would match ordinary words. */
const MIN_SECRET_LENGTH = 6;

export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let clean = text;
  for (const secret of secrets) {
    if (secret.length >= MIN_SECRET_LENGTH && clean.includes(secret))
      clean = clean.replaceAll(secret, REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) clean = clean.replace(pattern, replacement);
  return clean;
}
