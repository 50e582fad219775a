/*
 * KORDON_ADMIN_TOKEN is the bootstrap owner's key to every org. Placeholders and guessable
 * values are refused at start: shorter than 32 characters, sample words, too few distinct
 * characters, or less than 128 bits of estimated entropy.
 */

const SAMPLE_WORDS = [
  'changeme',
  'change-me',
  'change_me',
  'replaceme',
  'replace-me',
  'password',
  'passw0rd',
  'secret',
  'example',
  'sample',
  'default',
  'your-token',
  'your_token',
  'yourtoken',
  'admin-token',
  'admintoken',
  'kordon',
  'letmein',
  'xxxxxxxx',
  'todo',
  'insert',
];

/**
 * A sample word found in a token. Words under eight letters count only as whole words: four
 * random letters spell "todo" about 4 times in 100,000 tokens of `openssl rand -base64 32`.
 * (The words are letters, digits, `-` and `_`: literal in a pattern.)
 */
const SAMPLE_WORD_PATTERNS = SAMPLE_WORDS.map((word) =>
  word.length >= 8 ? new RegExp(word) : new RegExp(`(?:^|[^a-z0-9])${word}(?:$|[^a-z0-9])`),
);

export const ADMIN_TOKEN_MIN_LENGTH = 32;

/** Why this cannot be the bootstrap token, or null when it looks random enough. Never quotes it. */
export function adminTokenWeakness(token: string): string | null {
  if (token.length < ADMIN_TOKEN_MIN_LENGTH) {
    return `must have at least ${ADMIN_TOKEN_MIN_LENGTH} characters (openssl rand -base64 32)`;
  }
  if (token.length > 512) return 'must have at most 512 characters';
  if (!/^[\x21-\x7e]+$/.test(token)) return 'must be printable ASCII without spaces';
  const lower = token.toLowerCase();
  const word = SAMPLE_WORD_PATTERNS.some((pattern) => pattern.test(lower));
  if (word) return 'contains a placeholder or sample word: generate a random one (openssl rand -base64 32)';
  const counts = new Map<string, number>();
  for (const char of token) counts.set(char, (counts.get(char) ?? 0) + 1);
  if (counts.size < 12) return `has only ${counts.size} distinct characters; random tokens have many more`;
  // The entropy of the characters as counted, with the Miller-Madow correction: counted from
  // a few dozen characters, the plain estimate falls short of a random token's true entropy,
  // and refused about 3 in 100,000 tokens made by `openssl rand -base64 32`.
  let perChar = (counts.size - 1) / (2 * token.length * Math.LN2);
  for (const count of counts.values()) {
    const p = count / token.length;
    perChar -= p * Math.log2(p);
  }
  if (perChar * token.length < 128) return 'has too little entropy (under 128 bits); generate a random one';
  let steady = 0;
  for (let i = 2; i < token.length; i++) {
    const step = token.charCodeAt(i) - token.charCodeAt(i - 1);
    if (Math.abs(step) <= 2 && step === token.charCodeAt(i - 1) - token.charCodeAt(i - 2)) steady++;
  }
  if (steady > token.length / 3) return 'is mostly a run of consecutive characters';
  for (let period = 1; period <= token.length / 2; period++) {
    if (
      token ===
      token
        .slice(0, period)
        .repeat(Math.ceil(token.length / period))
        .slice(0, token.length)
    ) {
      return 'repeats a short pattern';
    }
  }
  return null;
}
