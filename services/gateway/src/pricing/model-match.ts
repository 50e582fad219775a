/*
 * How a requested model name finds its price. Names are compared case-insensitively, and
 * tried in this order; the first one the table (or an org override) knows wins:
 *
 *   1. exact                      `gpt-4o-2024-05-13`, `claude-sonnet-4-0` (aliases count as exact)
 *   2. dated snapshot stripped    `gpt-4o-2024-08-06` -> `gpt-4o`,
 *                                 `claude-sonnet-4-5-20250929` -> `claude-sonnet-4-5`,
 *                                 `claude-3-5-sonnet@20240620` -> `claude-3-5-sonnet`,
 *                                 `gemini-2.0-flash-001` -> `gemini-2.0-flash`,
 *                                 `mistral-embed-2312` -> `mistral-embed`, `x-latest` -> `x`
 *   3. provider prefix stripped   `openai/gpt-4o` -> `gpt-4o` (then 1 and 2 again on the rest),
 *                                 `gpt://<folder>/yandexgpt/latest` -> `yandexgpt/latest`, `yandexgpt`,
 *                                 `yandexgpt/latest` (a yandexgpt route's name) -> `yandexgpt`
 *   and for each of these, Claude's version spelled with a dot (OpenRouter's spelling) as
 *   Anthropic spells it: `anthropic/claude-sonnet-4.5` -> `claude-sonnet-4-5`.
 *
 * Only these suffix shapes are stripped: there is no fuzzy or prefix matching, so
 * `gpt-4o-mini-tts` or `gpt-4o-audio-preview` do NOT pick up the price of `gpt-4o-mini` or
 * `gpt-4o`; they stay unpriced until someone prices them.
 */

export type MatchKind = 'exact' | 'snapshot' | 'prefix';

export interface NameCandidate {
  readonly key: string;
  readonly matchedBy: MatchKind;
}

const SNAPSHOT_SUFFIXES: readonly RegExp[] = [
  /-\d{4}-\d{2}-\d{2}$/, // OpenAI: -2024-08-06
  /-\d{8}$/, // Anthropic: -20250929
  /@[0-9a-z][0-9a-z.-]*$/, // Vertex AI: @20240620, @001
  /-\d{4}$/, // Mistral -2411 (YYMM), OpenAI -0613 (MMDD)
  /-\d{3}$/, // Google: -001
  /-latest$/,
];

/** Yandex Foundation Models URIs: gpt://<folder>/<model>[/<branch>] (branch: latest, rc, deprecated). */
const YANDEX_URI = /^(?:gpt|emb):\/\/[^/]+\/(.+)$/;
const YANDEX_BRANCH = /\/(?:latest|rc|deprecated)$/;
/**
 * The same model as a yandexgpt route names it, `<model>/<branch>`: the adapter builds the URI
 * from its folder and refuses one in a request, so `yandexgpt/latest` is what gets priced.
 */
const YANDEX_SHORT = /^[^/]+\/(?:latest|rc|deprecated)$/;

export function normalizeModelName(model: string): string {
  return model.trim().toLowerCase();
}

function stripSnapshot(name: string): string | null {
  for (const suffix of SNAPSHOT_SUFFIXES) {
    if (suffix.test(name)) {
      const stripped = name.replace(suffix, '');
      return stripped.length > 0 ? stripped : null;
    }
  }
  return null;
}

/** The names to try for a requested model, most specific first, without duplicates. */
export function nameCandidates(model: string): NameCandidate[] {
  const raw = normalizeModelName(model);
  const out: NameCandidate[] = [];
  const seen = new Set<string>();
  const push = (key: string | null, matchedBy: MatchKind) => {
    if (key === null || key.length === 0 || seen.has(key)) return;
    seen.add(key);
    out.push({ key, matchedBy });
  };

  push(raw, 'exact');
  push(stripSnapshot(raw), 'snapshot');

  const path = YANDEX_URI.exec(raw)?.[1] ?? (YANDEX_SHORT.test(raw) ? raw : undefined);
  if (path !== undefined) {
    push(path, 'prefix');
    push(path.replace(YANDEX_BRANCH, ''), 'prefix');
  } else {
    const slash = raw.lastIndexOf('/');
    if (slash >= 0 && slash < raw.length - 1) {
      const tail = raw.slice(slash + 1);
      push(tail, 'prefix');
      push(stripSnapshot(tail), 'prefix');
    }
  }
  // Anthropic's ids have no dots: `claude-3.7-sonnet`, `claude-opus-4.6` are its models.
  for (const { key, matchedBy } of [...out]) {
    if (key.startsWith('claude-') && CLAUDE_DOTTED_VERSION.test(key))
      push(key.replace(CLAUDE_DOTTED_VERSION_ALL, '$1-$2'), matchedBy);
  }
  return out;
}

const CLAUDE_DOTTED_VERSION = /(\d)\.(\d)/;
const CLAUDE_DOTTED_VERSION_ALL = /(\d)\.(\d)/g;
