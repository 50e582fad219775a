import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { newProxyKey } from '../proxy-keys/index.js';
import { ConfigFileError, loadConfigFile } from './load-config-file.js';

const dir = mkdtempSync(join(tmpdir(), 'kordon-config-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const load = (text: string, env: Record<string, string> = {}) => {
  const path = join(dir, `kordon-${++files}.yaml`);
  writeFileSync(path, text);
  return loadConfigFile(path, env);
};
/** The problems a refused file lists, one a line. */
const problems = (text: string, env: Record<string, string> = {}): string[] => {
  try {
    load(text, env);
  } catch (error) {
    if (error instanceof ConfigFileError) return error.problems;
    throw error;
  }
  assert.fail('the file was accepted');
};

const PROVIDER = 'type: openai, baseUrl: https://api.openai.com/v1, models: [gpt-4o-mini]';

describe('configuration file: each name declared once', () => {
  // Two declarations of one name are each planned against the same state: they undo each other
  // on alternate starts (a provider there one start, gone the next), so the file is refused.
  it('refuses an org slug declared twice, naming both places', () => {
    assert.deepEqual(
      problems(`
orgs:
  - { slug: acme, name: Acme, providers: [{ name: openai-main, ${PROVIDER} }] }
  - { slug: acme, name: Acme, providers: [{ name: claude, ${PROVIDER} }] }
`),
      ['orgs.1.slug: org acme is declared twice (first at orgs.0); each must be unique'],
    );
  });

  it('refuses a provider, a provider key or a team declared twice in an org', () => {
    assert.deepEqual(
      problems(`
orgs:
  - slug: acme
    name: Acme
    teams: [{ name: research }, { name: research }]
    providers:
      - { name: openai-main, ${PROVIDER}, keys: [{ name: k1, secret: sk-aaaaaaaa }, { name: k1, secret: sk-bbbbbbbb }] }
      - { name: openai-main, ${PROVIDER} }
`),
      [
        'orgs.0.teams.1.name: team research is declared twice (first at orgs.0.teams.0); each must be unique',
        'orgs.0.providers.1.name: provider openai-main is declared twice (first at orgs.0.providers.0); each must be unique',
        "orgs.0.providers.0.keys.1.name: provider openai-main's key k1 is declared twice (first at orgs.0.providers.0.keys.0); each must be unique",
      ],
    );
  });

  it('refuses a user declared twice (e-mails in any case) and a proxy key name twice for one user', () => {
    assert.deepEqual(
      problems(`
orgs:
  - slug: acme
    name: Acme
    users:
      - { email: alice@acme.test, role: developer, proxyKeys: [{ name: laptop }, { name: laptop }] }
      - { email: Alice@acme.test, role: owner }
`),
      [
        'orgs.0.users.1.email: user alice@acme.test is declared twice (first at orgs.0.users.0); each must be unique',
        "orgs.0.users.0.proxyKeys.1.name: alice@acme.test's proxy key laptop is declared twice (first at orgs.0.users.0.proxyKeys.0); each must be unique",
      ],
    );
  });

  it('accepts one name in different scopes: the same key name under two providers, a key name under two users', () => {
    const file = load(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - { name: openai-main, ${PROVIDER}, keys: [{ name: k1, secret: sk-aaaaaaaa }] }
      - { name: openai-backup, ${PROVIDER}, keys: [{ name: k1, secret: sk-bbbbbbbb }] }
    users:
      - { email: alice@acme.test, proxyKeys: [{ name: laptop }] }
      - { email: bob@acme.test, proxyKeys: [{ name: laptop }] }
  - { slug: other, name: Other, providers: [{ name: openai-main, ${PROVIDER} }] }
`);
    assert.equal(file.orgs.length, 2);
  });
});

describe('configuration file: one proxy-key secret is one key', () => {
  it('refuses a secret given to two keys, naming both and never the secret', () => {
    const secret = newProxyKey().reveal();
    const found = problems(
      `
orgs:
  - slug: acme
    name: Acme
    users:
      - { email: alice@acme.test, proxyKeys: [{ name: alice-laptop, secret: "\${SHARED}" }] }
  - slug: other
    name: Other
    users:
      - { email: bob@other.test, proxyKeys: [{ name: bob-ci, secret: "\${SHARED}" }] }
`,
      { SHARED: secret },
    );
    assert.equal(found.length, 1);
    assert.match(
      found[0]!,
      /^orgs\.1\.users\.0\.proxyKeys\.0\.secret: the same secret as orgs\.0\.users\.0\.proxyKeys\.0: one secret is one key/,
    );
    assert.ok(!found.join('\n').includes(secret));
  });
});

describe('configuration file: numbers and booleans from environment variables', () => {
  it('reads a value that is exactly one reference as the number or boolean its field wants', () => {
    const file = load(
      `
orgs:
  - slug: acme
    name: "\${ORG_NAME}"
    monthStartDay: \${DAY}
    limits:
      rpm: \${ORG_RPM}
      maxDistinctIps: "\${IPS}"
      rollover: \${ROLLOVER}
      budget: { usd: "\${USD}", period: 1mo }
    prices:
      my-model: { input: 1, output: 1, currency: USD, unitTokens: "\${UNIT}" }
    providers:
      - name: openai-main
        type: openai
        baseUrl: https://api.openai.com/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${SECRET}", weight: "\${WEIGHT}" }]
`,
      {
        ORG_NAME: '2024',
        DAY: '3',
        ORG_RPM: '600',
        IPS: '4',
        ROLLOVER: 'true',
        USD: '12.50',
        UNIT: '1000',
        SECRET: '12345678',
        WEIGHT: '5',
      },
    );
    const org = file.orgs[0]!;
    assert.equal(org.limits?.rpm, 600);
    assert.equal(org.limits?.maxDistinctIps, 4);
    assert.equal(org.limits?.rollover, true);
    assert.equal(org.monthStartDay, 3);
    assert.equal(org.prices?.['my-model']?.unitTokens, 1000);
    assert.equal(org.providers[0]!.keys[0]!.weight, 5);
    // Text fields keep the text, digits or not.
    assert.equal(org.name, '2024');
    assert.equal(org.providers[0]!.keys[0]!.secret, '12345678');
    assert.equal(org.limits?.budget?.usd, '12.50');
  });

  it('refuses text that is not a number or boolean where one goes, naming the field and the variable', () => {
    const yaml = `
orgs:
  - slug: acme
    name: Acme
    limits:
      rpm: \${ORG_RPM}
      rollover: \${ROLLOVER}
`;
    assert.deepEqual(problems(yaml, { ORG_RPM: 'lots', ROLLOVER: 'yes' }), [
      'orgs.0.limits.rpm: must be a number, and environment variable ORG_RPM does not hold one',
      'orgs.0.limits.rollover: must be a boolean, and environment variable ROLLOVER does not hold one',
    ]);
    assert.deepEqual(problems(yaml, { ORG_RPM: '0', ROLLOVER: 'true' }), [
      'orgs.0.limits.rpm: Too small: expected number to be >=1 (the value of environment variable ORG_RPM)',
    ]);
  });

  it('keeps text a reference is only part of', () => {
    assert.deepEqual(
      problems(`orgs:\n  - { slug: acme, name: Acme, limits: { rpm: "\${A}0" } }\n`, { A: '6' }),
      ['orgs.0.limits.rpm: Invalid input: expected number, received string'],
    );
  });
});

describe('configuration file: variable references', () => {
  it('refuses a malformed reference (a space inside the braces) instead of taking it as the secret, naming the field', () => {
    const secret = 'sk-proj-AUDITabcdefghijklmnopqrstuvwxyz0123456789';
    const yaml = (reference: string) => `
orgs:
  - slug: acme
    name: Acme
    providers:
      - { name: openai-main, ${PROVIDER}, keys: [{ name: k1, secret: "${reference}" }] }
`;
    const refused = problems(yaml(`\${ OPENAI_KEY_1 }`), { OPENAI_KEY_1: secret });
    assert.equal(refused.length, 1);
    assert.match(
      refused[0]!,
      /^orgs\[0\]\.providers\[0\]\.keys\[0\]\.secret: holds "\$\{" outside a reference/,
    );
    assert.ok(!refused[0]!.includes('OPENAI_KEY_1'), 'the text written there is not echoed');
    for (const typo of [`\${OPENAI_KEY_1`, `x-\${}`, `\${1KEY}`])
      assert.equal(problems(yaml(typo)).length, 1, typo);
    // A value of a variable may hold "${": it is not read again.
    const file = load(yaml(`\${OPENAI_KEY_1}`), { OPENAI_KEY_1: `sk-\${weird}` });
    assert.equal(file.orgs[0]!.providers[0]!.keys[0]!.secret, `sk-\${weird}`);
  });
});

describe('configuration file: limits the log can hold', () => {
  // Each value is checked by the event field it fills, so the start stops naming the file's
  // field rather than failing later at "PolicySet: limits.ipAllow.0" with no file or scope.
  const org = (lines: string) => `orgs:\n  - slug: acme\n    name: Acme\n${lines}\n`;

  it('refuses an ipAllow or ipDeny entry that is not a CIDR range (one address is /32, as in the admin API)', () => {
    const message =
      'must be an IP range in CIDR form like 10.0.0.0/8 or 2001:db8::/32; one address is 10.0.0.1/32';
    assert.deepEqual(
      problems(org('    limits: { ipAllow: ["10.0.0.1"], ipDeny: ["10.0.0.0/8", "office"] }')),
      [`orgs.0.limits.ipAllow.0: ${message}`, `orgs.0.limits.ipDeny.1: ${message}`],
    );
    const file = load(org('    limits: { ipAllow: ["10.0.0.1/32", "2001:db8::/32"], ipDeny: [] }'));
    assert.deepEqual(file.orgs[0]!.limits?.ipAllow, ['10.0.0.1/32', '2001:db8::/32']);
  });

  it("refuses amounts and counts the events refuse: a key's dailyUsd, a budget, maxDistinctIps", () => {
    assert.deepEqual(
      problems(
        org(`    limits: { budget: { usd: "007", period: 1d }, maxDistinctIps: { count: 200000, period: 1d } }
    providers:
      - { name: p, ${PROVIDER}, keys: [{ name: k, secret: sk-aaaaaaaa, limits: { dailyUsd: "12.1234567" } }] }`),
      ),
      [
        'orgs.0.limits.budget.usd: must be a non-negative decimal string like "0.0125"',
        'orgs.0.limits.maxDistinctIps.count: Too big: expected number to be <=100000',
        'orgs.0.providers.0.keys.0.limits.dailyUsd: must be a USD amount like "50" or "12.5"',
      ],
    );
    const file = load(
      org(`    limits: { budget: { usd: 25.5, period: 1d } }
    providers:
      - { name: p, ${PROVIDER}, keys: [{ name: k, secret: sk-aaaaaaaa, limits: { dailyUsd: 12.5 } }] }`),
    );
    assert.equal(file.orgs[0]!.limits?.budget?.usd, '25.5');
    assert.equal(file.orgs[0]!.providers[0]!.keys[0]!.limits?.dailyUsd, '12.5');
  });
});

describe('configuration file: an empty file', () => {
  // Applying "no orgs" disables every user the file made, for good (no event enables a user
  // again): a file emptied by mistake (a ConfigMap mounted empty, a truncated deploy) must not.
  it('refuses a file with no document (empty, blank or comments only)', () => {
    for (const text of ['', '\n  \n', '# all orgs moved to the admin API\n']) {
      assert.deepEqual(problems(text), [
        'the file is empty; to declare no orgs (every user it made disabled), write `orgs: []`',
      ]);
    }
  });

  it('takes `orgs: []` as no orgs', () => {
    assert.deepEqual(load('orgs: []\n').orgs, []);
  });
});

describe('configuration file: a provider key too short to be one', () => {
  it('is refused naming its field, never its value', () => {
    assert.deepEqual(
      problems(
        `
orgs:
  - slug: acme
    name: Acme
    providers:
      - { name: openai-main, ${PROVIDER}, keys: [{ name: k1, secret: "\${KEY}" }] }
`,
        { KEY: 'sk-1234' },
      ),
      [
        'orgs.0.providers.0.keys.0.secret: is too short: a provider key has at least 8 visible characters (the value of environment variable KEY)',
      ],
    );
  });
});

describe('configuration file: refused before any event, not applied in part', () => {
  it('refuses a proxy-key secret that is not a Kordon key, naming its field, never its value', () => {
    const valid = newProxyKey().reveal();
    const typo = `${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`; // its checksum fails
    const found = problems(
      `
orgs:
  - slug: acme
    name: Acme
    users:
      - email: alice@acme.test
        proxyKeys:
          - { name: good, secret: "\${GOOD}" }
          - { name: typo, secret: "\${TYPO}" }
          - { name: short, secret: kdn_abc }
`,
      { GOOD: valid, TYPO: typo },
    );
    assert.deepEqual(
      found.map((line) => line.split(':')[0]),
      ['orgs.0.users.0.proxyKeys.1.secret', 'orgs.0.users.0.proxyKeys.2.secret'],
    );
    assert.match(found[0]!, /is not a Kordon proxy key .*\(the value of environment variable TYPO\)/);
    assert.ok(!found.join('\n').includes(typo) && !found.join('\n').includes('kdn_abc'));
  });

  it("refuses a user's team the org does not declare, naming the field", () => {
    const found = problems(`
orgs:
  - slug: acme
    name: Acme
    teams: [{ name: research }]
    users:
      - { email: alice@acme.test, team: research }
      - { email: bob@acme.test, team: reserch }
`);
    assert.deepEqual(found, ['orgs.0.users.1.team: team reserch is not declared under orgs.0.teams']);
  });
});

describe('configuration file: what looks like a reference but is not read as one', () => {
  it(`refuses $\${NAME} and \\\${NAME}: no escape, so they would read as "$" or "\\" and the value`, () => {
    const found = problems(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - { name: a, ${PROVIDER}, keys: [{ name: k1, secret: "$\${KEY}" }] }
      - { name: b, ${PROVIDER}, keys: [{ name: k1, secret: '\\\${KEY}' }] }
`,
      { KEY: 'sk-test-0123456789' },
    );
    assert.equal(found.length, 2);
    assert.match(found[0]!, /^orgs\[0\]\.providers\[0\]\.keys\[0\]\.secret: holds "\$\$\{" or .*no escape/);
    assert.match(found[1]!, /^orgs\[0\]\.providers\[1\]\.keys\[0\]\.secret: holds /);
    assert.ok(!found.join('\n').includes('sk-test-0123456789'));
  });

  it('refuses a reference in a key (a deployment named as written otherwise), naming where', () => {
    const found = problems(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: az
        type: azure-openai
        baseUrl: https://acme.openai.azure.com
        apiVersion: "2024-10-21"
        models: [gpt-4o]
        deployments: { "\${MODEL}": acme-gpt-4o }
`,
      { MODEL: 'gpt-4o' },
    );
    assert.deepEqual(found, [
      `orgs[0].providers[0].deployments.\${MODEL}: a key holds "\${"; references are read in values only`,
    ]);
  });

  it("does not read a reference again inside a variable's value", () => {
    const file = load(
      `
orgs:
  - slug: acme
    name: "\${NAME}"
`,
      { NAME: `Acme \${OTHER}`, OTHER: 'expanded' },
    );
    assert.equal(file.orgs[0]!.name, `Acme \${OTHER}`);
  });
});

describe("configuration file: an org price's long-context tiers and peak hours", () => {
  it('reads them, rates as decimal text; refuses ones that cannot apply, naming where', () => {
    const prices = load(`
orgs:
  - slug: acme
    name: Acme
    prices:
      deepseek-chat:
        input: 0.1
        output: 0.4
        peakHours: { utcWindows: [{ from: "01:00", to: "04:00" }], utcWeekdays: [1, 2, 3, 4, 5], multiplier: 2 }
      gpt-4o:
        tiers: [{ aboveInputTokens: 100000, input: 5, output: 20 }]
`).orgs[0]!.prices!;
    assert.deepEqual(prices['deepseek-chat']?.peakHours, {
      utcWindows: [{ from: '01:00', to: '04:00' }],
      utcWeekdays: [1, 2, 3, 4, 5],
      multiplier: '2',
    });
    assert.deepEqual(prices['gpt-4o']?.tiers, [{ aboveInputTokens: 100_000, input: '5', output: '20' }]);
    const refused = problems(`
orgs:
  - slug: acme
    name: Acme
    prices:
      deepseek-chat:
        peakHours: { utcWindows: [{ from: "10:00", to: "06:00" }], multiplier: 2 }
      gpt-4o:
        tiers:
          - { aboveInputTokens: 200000, input: 6, output: 24 }
          - { aboveInputTokens: 100000, input: 5, output: 20 }
`).join('\n');
    assert.match(refused, /orgs\.0\.prices\.deepseek-chat\.peakHours\.utcWindows\.0: from must be before to/);
    assert.match(refused, /orgs\.0\.prices\.gpt-4o: .*tiers must be in ascending order/);
  });
});
