import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUILTIN_DETECTORS, DETECTOR_IDS, type DetectorId } from './detectors.js';
import { createRedactor } from './redactor.js';
import { fakeToken, SAMPLES } from './testing/corpus.js';

const hashKey = Buffer.from(fakeToken(32, 99));
const redactor = createRedactor({ hashKey });
const rulesIn = (text: string) => redactor.findings(text).map((f) => f.rule);

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

interface Cases {
  /** Texts in which the detector must name a finding (besides the corpus sample). */
  readonly positive: readonly string[];
  /** Texts in which this detector must find nothing. */
  readonly negative: readonly string[];
}

const CASES = {
  anthropic_key: {
    positive: [`x-api-key: sk-ant-admin01-${fakeToken(40, 1)}`],
    negative: ['sk-ant-short', 'skeleton key', 'ask-ant-colony-questions-about-everything'],
  },
  openai_key: {
    positive: [
      `OPENAI_API_KEY=sk-${fakeToken(48, 2)}`,
      `"sk-svcacct-${fakeToken(30, 3)}"`,
      // A user key made without a project: `sk-None-` and 48 characters.
      `my key is sk-None-${fakeToken(48, 30)} thanks`,
    ],
    negative: [
      'skeleton',
      'sk-learn-is-a-machine-learning-library',
      `task-${fakeToken(30, 4)}`,
      'sk-short123',
      'risk-assessment-2024-and-beyond-forever',
    ],
  },
  provider_key: {
    positive: [`hf_${fakeToken(34, 5)}`, `xai-${fakeToken(60, 6)}`, `r8_${fakeToken(37, 7)}`],
    negative: ['hf_short', 'self_hosted_inference_configuration', 'xai-grok-2'],
  },
  google_api_key: {
    positive: [`https://generativelanguage.googleapis.com/v1?x=AIza${fakeToken(35, 8)}`],
    negative: [`AIza${fakeToken(20, 9)}`, 'AIzawhat'],
  },
  aws_access_key_id: {
    positive: [`ASIA${fakeToken(16, 10, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')}`],
    negative: [
      `AKIA${fakeToken(15, 11, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')}`,
      'ASIA PACIFIC region',
      `XAKIA${fakeToken(16, 12, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')}`,
    ],
  },
  aws_secret_key: {
    positive: [`{"SecretAccessKey": "${fakeToken(40, 13)}"}`, `AWS_SECRET_ACCESS_KEY=${fakeToken(40, 14)}`],
    negative: [fakeToken(40, 15), 'aws_secret_access_key=short'],
  },
  azure_openai_key: {
    positive: [
      `"api-key":"${fakeToken(32, 16, '0123456789abcdef')}"`,
      `AZURE_OPENAI_KEY=${fakeToken(32, 17, '0123456789ABCDEF')}`,
    ],
    negative: [
      'trace_id: 4bf92f3577b34da6a3ce929d0e0e4736',
      `api-key: ${fakeToken(31, 18, '0123456789abcdef')}`,
      `etag: ${fakeToken(32, 19, '0123456789abcdef')}`,
    ],
  },
  yandex_api_key: {
    positive: [`Authorization: Api-Key AQVN${fakeToken(36, 20)}`],
    negative: ['AQVN1234', `XAQVN${fakeToken(36, 21)}`],
  },
  yandex_iam_token: {
    positive: [`Authorization: Bearer t1.${fakeToken(90, 22)}.${fakeToken(86, 23)}`],
    negative: ['t1.short.token', `t1.${fakeToken(90, 24)}.${fakeToken(40, 25)}`, 'v1.2.3 and t1.micro'],
  },
  yandex_oauth_token: {
    positive: [`token y3_${fakeToken(60, 26)}`],
    negative: ['y0_short', `array_y0_${fakeToken(60, 27)}`],
  },
  gigachat_auth_key: {
    positive: [`{"GIGACHAT_CREDENTIALS": "${b64('0194b9a3-1c2d-7e8f-9a0b-1c2d3e4f5a6b:secret-part-1')}"}`],
    negative: [`Authorization: Basic ${b64('alice:password1')}`, 'Basic realm="kordon"'],
  },
  basic_auth: {
    positive: [`curl -H 'authorization: basic ${b64('bob:s3cret!')}'`],
    negative: [
      'Basic realm="kordon"',
      'basic settings are fine',
      `Authorization: Basic ${b64('no colon in here at all')}`,
      `Authorization: Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x00, 0x01, 0x02, 0xff, 0x80, 0x81, 0x90, 0x91, 0x92]).toString('base64')}`,
    ],
  },
  kordon_proxy_key: {
    positive: ['a mistyped kdn_Kordon0proxy0key0test0vector00011b5n6ix', 'cut: kdn_Kordon0proxy0key0t'],
    negative: ['display prefix kdn_Kordon0p', 'kdn_', 'the kdn prefix'],
  },
  kordon_api_token: {
    positive: [
      `KORDON_TOKEN=kat_${fakeToken(40, 40)}`,
      `{"apiToken":"kat_${fakeToken(40, 41)}"}`,
      `cut: kat_${fakeToken(16, 43)}`,
    ],
    // The display prefix (`kat_` + 8), too short to be a cut token, another alphabet.
    negative: [`prefix kat_${fakeToken(8, 42)}`, `kat_${fakeToken(15, 43)}`, `kat_${'-'.repeat(40)}`],
  },
  kordon_refresh_token: {
    positive: [`"refreshToken": "krt_${fakeToken(43, 44)}"`, `cut: krt_${fakeToken(20, 45)}`],
    negative: [`krt_${fakeToken(15, 45)}`, 'krt_ and kin_ are prefixes'],
  },
  kordon_invitation_token: {
    positive: [`accept at /invitations/kin_${fakeToken(43, 46)}/accept`],
    negative: [`kin_${fakeToken(15, 47)}`, `kin_${'-'.repeat(43)}`],
  },
  private_key: {
    positive: [
      [
        '-----BEGIN RSA ',
        'PRIVATE KEY-----\\nMIIEow',
        fakeToken(60, 28),
        '\\n-----END RSA PRIVATE KEY-----',
      ].join(''),
    ],
    negative: [
      '-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----',
      'private key rotation is due',
    ],
  },
  jwt: {
    positive: [`id_token=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tIn0.${fakeToken(60, 29)}`],
    negative: ['eyJhbGciOiJIUzI1NiJ9', 'eyJ.a.b', `x${'eyJhbGciOiJIUzI1NiJ9'}`],
  },
  bearer_token: {
    positive: [`"authorization": "Bearer ${fakeToken(24, 30)}"`, `bearer ${fakeToken(12, 31)}1`],
    negative: ['the bearer of bad news', 'bearer accordingly', 'Bearer short1'],
  },
  secret_field: {
    positive: [
      '{"password": "hunter2"}',
      'client_secret=abc123',
      'x-api-key: opaque-value',
      'Cookie: session=abc; other=def',
      'ssh key passphrase: hunter2',
    ],
    negative: [
      'max_tokens: 100',
      'password reset link sent',
      'secretary: bob',
      '"prompt_tokens": 12',
      '"password": ""',
    ],
  },
  url_password: {
    positive: [
      'redis://:p4ss@cache:6379',
      'amqp://guest:guest@rabbit/',
      // JSON with escaped slashes (PHP's json_encode, some models' tool calls).
      String.raw`{"dsn":"postgres:\/\/admin:s3cret@10.0.0.1:5432\/db"}`,
    ],
    negative: ['https://user@example.com/', 'http://example.com:8080/path', 'https://example.com/a:b@c'],
  },
  url_secret_param: {
    positive: [
      'GET /v1/models?api_key=abc123 HTTP/1.1',
      'wss://x.example/?access_token=tok3n&x=1',
      '&sig=abcd%3D',
    ],
    negative: ['?keyboard=1', '&monkey=3', '?q=key', 'https://example.com/search?query=token'],
  },
  email: {
    positive: [
      'mailto:Ivan.Petrov@Example.COM',
      'contact <support+billing@mail.example.co.uk>',
      'пишите: иван.петров@почта.рф',
      'ivan@пример.рус',
      'Ёлкин@yandex.ru',
    ],
    negative: [
      'npm i @kordon/events',
      'иван@почта',
      'user@localhost',
      'a@b',
      'https://user:pass@host.example.com/',
      String.raw`"https:\/\/user:pass@host.example.com\/"`,
    ],
  },
  phone: {
    positive: ['+79123456789', '8 (912) 345-67-89', '89123456789', '+44 20 7946 0958', '+1 (415) 555-2671'],
    negative: ['+1ms', 'took +3 ms', '1234567', 'v8.912.345', '2024-05-01 12:00:00', '+12 34'],
  },
  payment_card: {
    positive: [
      '5555-5555-5555-4444',
      '4111111111111111',
      'card 3782 822463 10005 exp 12/29',
      '4111 1111 1111 1111 123',
    ],
    negative: [
      '4111 1111 1111 1112',
      '5555-5555-5555-4445',
      '1714567890123',
      '0.4111111111111111',
      '4111111111111111111111',
      '9111111111111119',
    ],
  },
  iban: {
    positive: ['GB82WEST12345698765432', 'NL91 ABNA 0417 1643 00', 'pay to DE89370400440532013000.'],
    negative: [
      'DE89 3704 0044 0532 0130 01',
      'GB82WEST1234569876543',
      'ISO8601 timestamps',
      'AB12CDEFGHIJKLMNOPQ',
    ],
  },
  ru_inn: {
    positive: ['ИНН 500100732259', 'inn=7707083893;'],
    negative: ['7707083894', '1234567890', '77070838930', '0.7707083893', '500100732258'],
  },
  ru_snils: {
    positive: ['СНИЛС 112 233 445 95', '11223344595'],
    negative: ['112-233-445 96', '001-001-998 00', '112-233-445 9'],
  },
  ru_passport: {
    positive: ['паспорт серия 4507 № 123456', 'Passport: 4507 123456', 'серия 45 07 номер 654321'],
    negative: ['45 07 12345', '4507 123456', '145 07 123456'],
  },
} as const satisfies Record<DetectorId, Cases>;

describe('built-in detectors', () => {
  test('every detector has cases and a corpus sample, and ids are unique', () => {
    assert.deepEqual(Object.keys(CASES).sort(), [...DETECTOR_IDS].sort());
    assert.deepEqual(SAMPLES.map((s) => s.detector).sort(), [...DETECTOR_IDS].sort());
    assert.equal(new Set(DETECTOR_IDS).size, DETECTOR_IDS.length);
  });

  test('an address in Cyrillic is found whole, not only its Latin part', () => {
    for (const address of ['иван.петров@почта.рф', 'Ёлкин@yandex.ru', 'ivan@пример.рус']) {
      const text = `пишите: ${address}, спасибо`;
      const findings = redactor.findings(text).filter((f) => f.rule === 'email');
      assert.deepEqual(
        findings.map((f) => text.slice(f.start, f.end)),
        [address],
      );
    }
  });

  for (const detector of BUILTIN_DETECTORS) {
    const cases: Cases = CASES[detector.id];
    const sample = SAMPLES.find((s) => s.detector === detector.id)!;

    describe(detector.id, () => {
      test('finds the corpus sample, covering its secret', () => {
        const text = `before ${sample.text} after`;
        const findings = redactor.findings(text);
        const secretStart = text.indexOf(sample.secret);
        const hit = findings.find(
          (f) => f.start <= secretStart && f.end >= secretStart + sample.secret.length,
        );
        assert.ok(hit, `no finding covers ${JSON.stringify(sample.secret)} in ${JSON.stringify(findings)}`);
        assert.equal(hit.rule, detector.id);
        assert.equal(hit.action, detector.defaultAction);
      });

      for (const text of cases.positive) {
        test(`finds: ${text.length > 70 ? `${text.slice(0, 70)}…` : text}`, () => {
          assert.ok(
            rulesIn(text).includes(detector.id),
            `${detector.id} missing in ${JSON.stringify(rulesIn(text))}`,
          );
        });
      }
      for (const text of cases.negative) {
        test(`leaves alone: ${text.length > 70 ? `${text.slice(0, 70)}…` : text}`, () => {
          assert.ok(
            !rulesIn(text).includes(detector.id),
            `unexpected ${detector.id} in ${JSON.stringify(text)}`,
          );
        });
      }
    });
  }

  test('ordinary log lines have no findings at all', () => {
    const lines = [
      'GET /v1/chat/completions 200 in 35ms org=acme model=gpt-4o-mini',
      '{"level":30,"time":1714567890123,"pid":4242,"msg":"request completed","tokens":{"input_tokens":512}}',
      'skeleton crew deployed a task-runner to the asia-east1 region',
      'upstream openai key k-3 cooled down for 30s after 429; retry-after 2024-05-01T10:00:00Z',
      'price 0.15 USD per 1M tokens; 1234567890 bytes; version 8.912.345; ISO8601',
      'Authorization header missing; the bearer of this request is unknown',
      'npm i @kordon/events && visit https://kordon.example.com/docs?page=2#keys',
    ];
    for (const line of lines) assert.deepEqual(redactor.findings(line), [], line);
  });

  test('linear time on adversarial inputs (completes; time printed, not asserted)', () => {
    const n = 100_000;
    const inputs: Record<string, string> = {
      letters: 'a'.repeat(n),
      upper: 'A'.repeat(n),
      digits: '1'.repeat(n),
      'spaced digits': '1 '.repeat(n / 2),
      'dashed digits': '4-'.repeat(n / 2),
      'sk- runs': 'sk-'.repeat(n / 3),
      'sk-a runs': `sk-${'a'.repeat(n)}`,
      'eyJ runs': 'eyJ'.repeat(n / 3),
      'eyJ dots': 'eyJaaaaaaaa.'.repeat(n / 12),
      'kdn_ runs': 'kdn_'.repeat(n / 4),
      'kat_ runs': 'kat_'.repeat(n / 4),
      'scheme runs': 'a://'.repeat(n / 4),
      'userinfo runs': `a://${'b:'.repeat(n / 2)}`,
      'query runs': '?key='.repeat(n / 5),
      'query ; runs': `?key=${'x;'.repeat(n / 2)}`,
      assignments: 'password='.repeat(n / 9),
      'cookie runs': 'cookie: '.repeat(n / 8),
      'email local': `${'a.'.repeat(n / 2)}@`,
      'email domain': `a@${'b.'.repeat(n / 2)}`,
      'cyrillic email local': `${'я.'.repeat(n / 2)}@`,
      'cyrillic email domain': `я@${'б.'.repeat(n / 2)}`,
      'at runs': 'a@'.repeat(n / 2),
      'plus digits': '+1'.repeat(n / 2),
      'iban-ish': 'AB12'.repeat(n / 4),
      'iban spaced': `DE89 ${'A '.repeat(n / 2)}`,
      bearer: 'Bearer '.repeat(n / 7),
      basic: 'Basic '.repeat(n / 6),
      pem: '-----BEGIN PRIVATE KEY-----'.repeat(n / 27),
      passport: 'паспорт '.repeat(n / 8),
      'hex after key': `api-key: ${'a'.repeat(n)}`,
    };
    let slowest = 0;
    let slowestName = '';
    for (const [name, text] of Object.entries(inputs)) {
      const started = performance.now();
      const out = redactor.redactString(text);
      const ms = performance.now() - started;
      assert.equal(typeof out, 'string');
      if (ms > slowest) {
        slowest = ms;
        slowestName = name;
      }
    }
    console.log(`# adversarial 100k inputs: slowest ${slowestName} ${slowest.toFixed(1)} ms`);
  });
});
