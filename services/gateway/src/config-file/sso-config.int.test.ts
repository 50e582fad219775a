import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, type RecordedEvent } from '@kordon/events';
import { type TestStore, testStores } from '@kordon/events/testing';
import { InMemoryProjectionRunner } from '@kordon/projections';
import { ProxyKeyHasher } from '../proxy-keys/index.js';
import { type RegistryState, registryProjection } from '../registry/registry.js';
import { decryptSecret, MasterKey, MasterKeyRing } from '../secrets/index.js';
import { applyConfigFile, type ConfigCrypto } from './apply-config.js';
import { ConfigFileError, loadConfigFile } from './load-config-file.js';
import { oidcSecretContext } from './plan-sso.js';

const CLIENT_SECRET = 'oidc-client-secret-FIRST-0123456789abcdef';
const CLIENT_SECRET_2 = 'oidc-client-secret-SECOND-0123456789abcdef';

describe('configuration file: org single sign-on (sso.oidc)', () => {
  let fixture: TestStore;
  let runner: InMemoryProjectionRunner<RegistryState, KordonEvent>;
  let dir: string;
  const crypto: ConfigCrypto = {
    masterKeys: new MasterKeyRing(MasterKey.generate('test')),
    proxyKeyHasher: new ProxyKeyHasher({ current: randomBytes(32) }),
    idSecret: randomBytes(32),
  };

  before(async () => {
    fixture = (await testStores.pglite()) as TestStore;
    runner = new InMemoryProjectionRunner(registryProjection, (e: RecordedEvent) =>
      kordonCatalogue.decode(e),
    );
    await runner.start(fixture.store);
    dir = mkdtempSync(join(tmpdir(), 'kordon-sso-config-'));
  });
  after(async () => {
    await runner.stop();
    await fixture.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (sso: string) => {
    const path = join(dir, 'kordon.yaml');
    writeFileSync(path, `orgs:\n  - slug: acme\n    name: Acme\n${sso}`);
    return path;
  };
  const oidc = (issuer: string, domains: string, autoProvision = 'true') => `    sso:
      oidc:
        issuer: ${issuer}
        clientId: kordon-admin
        clientSecret: "\${OIDC_SECRET}"
        allowedDomains: [${domains}]
        autoProvision: ${autoProvision}
`;
  const apply = (path: string, env: Record<string, string>) =>
    applyConfigFile({
      file: loadConfigFile(path, env),
      store: fixture.store,
      registry: () => runner.state,
      waitForRegistry: (p) => runner.waitFor(p, 5_000),
      crypto,
    });
  const oidcEvents = async () =>
    (await fixture.store.readAll({ after: 0, maxCount: 10_000 })).filter((e) => e.type === 'OidcConfigured');

  it('becomes OidcConfigured with the secret encrypted; an unchanged file appends nothing', async () => {
    const path = write(
      oidc('https://login.acme.example/realms/staff', 'Acme.Example, research.acme.example'),
    );
    await apply(path, { OIDC_SECRET: CLIENT_SECRET });
    const [event, ...more] = await oidcEvents();
    assert.equal(more.length, 0);
    const data = kordonCatalogue.decode(event!).data as { [key: string]: unknown };
    assert.equal(data.issuer, 'https://login.acme.example/realms/staff');
    assert.deepEqual(data.allowedDomains, ['acme.example', 'research.acme.example'], 'lower-cased');
    assert.equal(data.autoProvision, true);
    assert.equal(event!.actor.kind, 'config');
    const orgId = runner.state.orgIdBySlug.get('acme')!;
    const entry = runner.state.sso.get(orgId)!;
    assert.equal(
      decryptSecret(entry.clientSecret, oidcSecretContext(orgId), crypto.masterKeys).reveal(),
      CLIENT_SECRET,
    );
    const log = JSON.stringify(await fixture.store.readAll({ after: 0, maxCount: 10_000 }));
    assert.ok(!log.includes(CLIENT_SECRET) && !log.includes(CLIENT_SECRET.slice(10, 30)), 'no plaintext');

    const head = await fixture.store.headPosition();
    const again = await apply(path, { OIDC_SECRET: CLIENT_SECRET });
    assert.equal(again.appends.length, 0);
    assert.equal(await fixture.store.headPosition(), head);
  });

  it('a new secret, domain or switch is a new OidcConfigured; leaving the block out changes nothing', async () => {
    const base = 'https://login.acme.example/realms/staff';
    await apply(write(oidc(base, 'acme.example, research.acme.example')), { OIDC_SECRET: CLIENT_SECRET_2 });
    assert.equal((await oidcEvents()).length, 2, 'another secret');
    await apply(write(oidc(base, 'acme.example', 'false')), { OIDC_SECRET: CLIENT_SECRET_2 });
    const events = await oidcEvents();
    assert.equal(events.length, 3, 'other domains and autoProvision');
    const head = await fixture.store.headPosition();
    await apply(write(''), {});
    assert.equal(await fixture.store.headPosition(), head);
  });

  it('domains repeated in another case, or in another order, are the same settings: nothing appended', async () => {
    const base = 'https://login.acme.example/realms/staff';
    await apply(write(oidc(base, 'acme.example, research.acme.example')), { OIDC_SECRET: CLIENT_SECRET });
    const head = await fixture.store.headPosition();
    for (const domains of [
      'acme.example, Acme.Example, research.acme.example',
      'research.acme.example, ACME.example, acme.example',
    ]) {
      const again = await apply(write(oidc(base, domains)), { OIDC_SECRET: CLIENT_SECRET });
      assert.equal(again.appends.length, 0, domains);
    }
    assert.equal(await fixture.store.headPosition(), head);
  });

  it('refuses a plain-http issuer off this machine, wildcard domains and a missing secret variable', () => {
    const problems = (text: string, env: Record<string, string>) => {
      try {
        loadConfigFile(write(text), env);
        return '';
      } catch (error) {
        assert.ok(error instanceof ConfigFileError);
        return error.message;
      }
    };
    assert.match(
      problems(oidc('http://login.acme.example', 'acme.example'), { OIDC_SECRET: 'x' }),
      /orgs\.0\.sso\.oidc\.issuer: must be https/,
    );
    assert.equal(problems(oidc('http://127.0.0.1:9999', 'acme.example'), { OIDC_SECRET: 'x' }), '');
    assert.match(
      problems(oidc('https://login.acme.example', '"*.acme.example"'), { OIDC_SECRET: 'x' }),
      /allowedDomains\.0/,
    );
    const missing = problems(oidc('https://login.acme.example', 'acme.example'), {});
    assert.match(missing, /OIDC_SECRET is not set/);
  });
});

describe('configuration file: team membership', () => {
  let fixture: TestStore;
  let runner: InMemoryProjectionRunner<RegistryState, KordonEvent>;
  let dir: string;
  const crypto: ConfigCrypto = {
    masterKeys: new MasterKeyRing(MasterKey.generate('test')),
    proxyKeyHasher: new ProxyKeyHasher({ current: randomBytes(32) }),
    idSecret: randomBytes(32),
  };

  before(async () => {
    fixture = (await testStores.pglite()) as TestStore;
    runner = new InMemoryProjectionRunner(registryProjection, (e: RecordedEvent) =>
      kordonCatalogue.decode(e),
    );
    await runner.start(fixture.store);
    dir = mkdtempSync(join(tmpdir(), 'kordon-team-config-'));
  });
  after(async () => {
    await runner.stop();
    await fixture.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const apply = (team: string | undefined) => {
    const path = join(dir, 'kordon.yaml');
    writeFileSync(
      path,
      `orgs:
  - slug: acme
    name: Acme
    teams: [{ name: research }, { name: ops }]
    users:
      - email: alice@acme.test
${team ? `        team: ${team}\n` : ''}        proxyKeys: [{ name: laptop }]
`,
    );
    return applyConfigFile({
      file: loadConfigFile(path, {}),
      store: fixture.store,
      registry: () => runner.state,
      waitForRegistry: (p) => runner.waitFor(p, 5_000),
      crypto,
    });
  };
  const memberships = async (after: number) =>
    (await fixture.store.readAll({ after, maxCount: 10_000 }))
      .map((e) => kordonCatalogue.decode(e))
      .flatMap((e) =>
        (e.type === 'RoleGranted' || e.type === 'RoleRevoked') && e.data.teamId !== null
          ? [`${e.type} ${e.data.role} ${e.data.teamId}`]
          : [],
      );
  const teamId = (name: string) => [...runner.state.teams.values()].find((t) => t.name === name)!.teamId;
  const alice = () => [...runner.state.users.values()].find((u) => u.email === 'alice@acme.test')!;

  it("makes the user a member of the file's team (a role within it), the same events as the admin API", async () => {
    await apply('research');
    assert.deepEqual(await memberships(0), [`RoleGranted developer ${teamId('research')}`]);
    assert.equal(alice().teamId, teamId('research'));
    assert.deepEqual([...alice().roles], ['developer'], 'no org-level role from the team');
    const key = [...runner.state.proxyKeys.values()].find((k) => k.userId === alice().userId)!;
    assert.equal(key.teamId, teamId('research'));
    const head = await fixture.store.headPosition();
    await apply('research');
    assert.equal(await fixture.store.headPosition(), head, 'unchanged: nothing');
  });

  it('moves the user to another team, and takes them out when the file no longer names one', async () => {
    let head = await fixture.store.headPosition();
    await apply('ops');
    assert.deepEqual(await memberships(head), [
      `RoleRevoked developer ${teamId('research')}`,
      `RoleGranted developer ${teamId('ops')}`,
    ]);
    head = await fixture.store.headPosition();
    await apply(undefined);
    assert.deepEqual(await memberships(head), [`RoleRevoked developer ${teamId('ops')}`]);
    assert.equal(alice().teamId, null);
  });

  it('leaves a membership made through the admin API alone when the file names no team', async () => {
    const user = alice();
    const stream = `org:${user.orgId}:user:${user.userId}`;
    const granted = kordonCatalogue.create(
      'RoleGranted',
      stream,
      { userId: user.userId, role: 'developer', teamId: teamId('ops') },
      { orgId: user.orgId, actor: { kind: 'user', id: 'usr_admin' } },
    );
    const { lastPosition } = await fixture.store.append(stream, [granted], 'any');
    await runner.waitFor(lastPosition, 5_000);
    const head = await fixture.store.headPosition();
    await apply(undefined);
    assert.equal(await fixture.store.headPosition(), head);
    assert.equal(alice().teamId, teamId('ops'));
  });
});
