import type { DetectorId } from '../detectors.js';

/*
 * One planted value per built-in detector, and a prompt that carries all of them: for this
 * package's tests and for end-to-end tests that send the prompt through the gateway and then
 * search everything written to disk for the `secret` strings.
 *
 * The secrets are made up and assembled at run time, so no literal in the repository looks
 * like a real key to a secret scanner.
 */

export interface CorpusSample {
  readonly detector: DetectorId;
  /** The text as it appears in the prompt. */
  readonly text: string;
  /** The part that must never be written anywhere after redaction. */
  readonly secret: string;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` deterministic pseudo-random characters of `alphabet` (a linear congruential generator). */
export function fakeToken(length: number, seed: number, alphabet = BASE62): string {
  let state = seed >>> 0 || 1;
  let out = '';
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out += alphabet[(state >>> 8) % alphabet.length];
  }
  return out;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

const openai = ['sk', 'proj', fakeToken(48, 1)].join('-');
const anthropic = ['sk', 'ant', 'api03', `${fakeToken(60, 2)}AA`].join('-');
const groq = `gsk_${fakeToken(52, 3)}`;
const google = `AIza${fakeToken(35, 4)}`;
const awsId = `AKIA${fakeToken(16, 5, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')}`;
const awsSecret = fakeToken(40, 6, `${BASE62}/+`);
const azure = fakeToken(32, 7, '0123456789abcdef');
const yandexKey = `AQVN${fakeToken(36, 8)}`;
const yandexIam = `t1.${fakeToken(120, 9)}.${fakeToken(86, 10)}`;
const yandexOauth = `y0_${fakeToken(58, 11)}`;
const gigachat = b64('0194b9a3-1c2d-7e8f-9a0b-1c2d3e4f5a6b:8c1e6a52-3f4d-4b7a-9e2c-5d6f7a8b9c0d');
const basic = b64('alice:Wonderland-42');
const proxyKey = 'kdn_Kordon0proxy0key0test0vector00011b5n6i';
const apiToken = `kat_${fakeToken(40, 16)}`;
const refreshToken = `krt_${fakeToken(43, 17)}`;
const invitationToken = `kin_${fakeToken(43, 18)}`;
const pemBody = fakeToken(64, 12, `${BASE62}+/`);
const pem = ['-----BEGIN ', 'PRIVATE KEY-----\n', pemBody, '\n-----END ', 'PRIVATE KEY-----'].join('');
const jwt = [
  b64url('{"alg":"HS256","typ":"JWT"}'),
  b64url('{"sub":"user-42","org":"acme"}'),
  fakeToken(43, 13),
].join('.');
const bearer = fakeToken(40, 14);
const password = 'Tr0ub4dor-and-3';
const urlPassword = 'C0rrect-Horse';
const queryKey = fakeToken(30, 15);

export const SAMPLES: readonly CorpusSample[] = [
  { detector: 'anthropic_key', text: anthropic, secret: anthropic },
  { detector: 'openai_key', text: openai, secret: openai },
  { detector: 'provider_key', text: groq, secret: groq },
  { detector: 'google_api_key', text: google, secret: google },
  { detector: 'aws_access_key_id', text: awsId, secret: awsId },
  { detector: 'aws_secret_key', text: `aws_secret_access_key = ${awsSecret}`, secret: awsSecret },
  { detector: 'azure_openai_key', text: `api-key: ${azure}`, secret: azure },
  { detector: 'yandex_api_key', text: yandexKey, secret: yandexKey },
  { detector: 'yandex_iam_token', text: yandexIam, secret: yandexIam },
  { detector: 'yandex_oauth_token', text: yandexOauth, secret: yandexOauth },
  { detector: 'gigachat_auth_key', text: `Authorization: Basic ${gigachat}`, secret: gigachat },
  { detector: 'basic_auth', text: `Authorization: Basic ${basic}`, secret: basic },
  { detector: 'kordon_proxy_key', text: proxyKey, secret: proxyKey },
  { detector: 'private_key', text: pem, secret: pemBody },
  { detector: 'jwt', text: jwt, secret: jwt },
  { detector: 'bearer_token', text: `Authorization: Bearer ${bearer}`, secret: bearer },
  { detector: 'secret_field', text: `password=${password}`, secret: password },
  {
    detector: 'url_password',
    text: `postgres://kordon:${urlPassword}@db.internal:5432/kordon`,
    secret: urlPassword,
  },
  {
    detector: 'url_secret_param',
    text: `https://maps.example.com/api?q=moscow&key=${queryKey}`,
    secret: queryKey,
  },
  { detector: 'email', text: 'ivan.petrov@example.ru', secret: 'ivan.petrov@example.ru' },
  { detector: 'phone', text: '+7 (912) 345-67-89', secret: '345-67-89' },
  { detector: 'payment_card', text: '4111 1111 1111 1111', secret: '4111 1111 1111 1111' },
  { detector: 'iban', text: 'DE89 3704 0044 0532 0130 00', secret: 'DE89 3704 0044 0532 0130 00' },
  { detector: 'ru_inn', text: '7707083893', secret: '7707083893' },
  { detector: 'ru_snils', text: '112-233-445 95', secret: '112-233-445 95' },
  { detector: 'ru_passport', text: '45 07 123456', secret: '45 07 123456' },
  // Last, so the indexes other tests use stay put.
  { detector: 'kordon_api_token', text: apiToken, secret: apiToken },
  { detector: 'kordon_refresh_token', text: refreshToken, secret: refreshToken },
  {
    detector: 'kordon_invitation_token',
    text: `https://kordon.example.com/invite/${invitationToken}`,
    secret: invitationToken,
  },
];

/** A prompt stuffed with every sample, each in a sentence of its own. */
export const CORPUS_PROMPT = [
  'Please help me debug my setup. Here is everything I have:',
  ...SAMPLES.map((sample, i) => `Item ${i + 1} is ${sample.text} (used yesterday).`),
  'Thanks!',
].join('\n');
