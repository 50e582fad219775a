import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { streams } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { hashPassword } from '../auth/passwords.js';
import {
  createOrgWithRoles,
  expectStatus,
  PASSWORD,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;

/** The sign-in throttle holds against guesses sent all at once, not only one after another. */
describe('admin API: sign-in throttle under concurrency', { skip }, () => {
  const V1 = '/admin/v1';
  const MAX = 5;
  let admin: TestAdmin;
  let org: TestOrg;

  before(async () => {
    const started = await startTestAdmin({ loginThrottle: { maxFailures: MAX, windowMs: 15 * 60_000 } });
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    org = await createOrgWithRoles(admin, 'burst');
  });
  after(() => admin?.close());

  const attempt = (email: string, password: string) =>
    admin.request('POST', `${V1}/auth/login`, { body: { email, password } });

  it('checks at most the allowed number of passwords when the guesses arrive together', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => attempt(org.users.developer.email, `wrong guess number ${i}`)),
    );
    const checked = answers.filter((answer) => answer.status === 401).length;
    const throttled = answers.filter((answer) => answer.status === 429).length;
    assert.equal(checked + throttled, answers.length, answers.map((a) => a.status).join(' '));
    assert.ok(checked <= MAX, `${checked} passwords were checked; at most ${MAX} may be`);
    // The right password is refused now too: the account is throttled.
    assert.equal((await attempt(org.users.developer.email, PASSWORD)).status, 429);
  });

  it('a successful sign-in does not count against its IP', async () => {
    const fresh = await startTestAdmin({ loginThrottle: { maxFailures: 2, windowMs: 15 * 60_000 } });
    if (typeof fresh === 'string') throw new Error(fresh);
    try {
      // createOrgWithRoles signs in five people from this IP: none of them is a failure.
      const other = await createOrgWithRoles(fresh, 'calm');
      await expectStatus(
        fresh.request('POST', `${V1}/auth/login`, {
          body: { email: other.users.owner.email, password: PASSWORD },
        }),
        200,
      );
    } finally {
      await fresh.close();
    }
  });
});

/**
 * Several replicas behind a load balancer share the throttle (through the database): guesses
 * spread over them count once each, and a replica started later forgets none.
 */
describe('admin API: sign-in throttle shared by the replicas', { skip }, () => {
  const V1 = '/admin/v1';
  const MAX = 5;
  // Each guess from an address of its own (X-Forwarded-For): only the account's count holds.
  const settings = {
    loginThrottle: { maxFailures: MAX, windowMs: 15 * 60_000 },
    trustedProxies: ['127.0.0.0/8'],
  };
  let client = 0;
  let one: TestAdmin;
  let two: TestAdmin;
  let org: TestOrg;

  before(async () => {
    const started = await startTestAdmin(settings);
    if (typeof started === 'string') throw new Error(started);
    one = started;
    two = await one.replica(settings);
    org = await createOrgWithRoles(one, 'replicas');
  });
  after(async () => {
    await two?.close();
    await one?.close();
  });

  const attempt = (admin: TestAdmin, email: string, password: string) =>
    admin.request('POST', `${V1}/auth/login`, {
      body: { email, password },
      headers: { 'x-forwarded-for': `203.0.113.${++client}` },
    });

  it('counts failures on one replica against the others, and a restart forgets none', async () => {
    const email = org.users.auditor.email;
    for (let i = 0; i < MAX; i++) {
      await expectStatus(attempt(i % 2 === 0 ? one : two, email, `wrong guess ${i}`), 401);
    }
    for (const admin of [one, two]) {
      const refused = await expectStatus(attempt(admin, email, PASSWORD), 429);
      assert.match(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    }
    const restarted = await one.replica(settings);
    try {
      await expectStatus(attempt(restarted, email, PASSWORD), 429);
    } finally {
      await restarted.close();
    }
  });

  it('checks at most the allowed number of passwords when guesses reach every replica at once', async () => {
    const email = org.users.finance.email;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        attempt(i % 2 === 0 ? one : two, email, `wrong guess number ${i}`),
      ),
    );
    const checked = answers.filter((answer) => answer.status === 401).length;
    const throttled = answers.filter((answer) => answer.status === 429).length;
    assert.equal(checked + throttled, answers.length, answers.map((a) => a.status).join(' '));
    assert.ok(checked <= MAX, `${checked} passwords were checked; at most ${MAX} may be`);
  });
});

/** Behind a load balancer (KORDON_TRUSTED_PROXIES), the client is who X-Forwarded-For names. */
describe('admin API: client address behind a trusted proxy', { skip }, () => {
  const V1 = '/admin/v1';
  let admin: TestAdmin;
  let org: TestOrg;

  before(async () => {
    const started = await startTestAdmin({
      loginThrottle: { maxFailures: 2, windowMs: 15 * 60_000 },
      trustedProxies: ['127.0.0.0/8'],
    });
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    org = await createOrgWithRoles(admin, 'behind');
  });
  after(() => admin?.close());

  const from = (client: string, email: string, password: string) =>
    admin.request('POST', `${V1}/auth/login`, {
      body: { email, password },
      headers: { 'x-forwarded-for': client },
    });

  it("throttles the client that failed, not everyone behind the proxy, and records the client's address", async () => {
    for (let i = 0; i < 2; i++) {
      await expectStatus(from('203.0.113.9', org.users.auditor.email, 'not the password'), 401);
    }
    assert.equal((await from('203.0.113.9', org.users.finance.email, PASSWORD)).status, 429);
    const signedIn = await expectStatus(from('198.51.100.4', org.users.owner.email, PASSWORD), 200);
    const sid = JSON.parse(Buffer.from(signedIn.body.accessToken.split('.')[1], 'base64url').toString()).sid;
    const [started] = await admin.store.readStream(streams.session(org.orgId, sid));
    assert.equal(started?.actor.ip, '198.51.100.4');
  });

  it('failures sent by others do not keep an account out from where its owner signs in', async () => {
    const victim = org.users.developer.email;
    await expectStatus(from('198.51.100.20', victim, PASSWORD), 200);
    // Wrong guesses from elsewhere, each address below its own limit: the account is held.
    await expectStatus(from('203.0.113.21', victim, 'not the password'), 401);
    await expectStatus(from('203.0.113.22', victim, 'not the password'), 401);
    assert.equal((await from('203.0.113.23', victim, PASSWORD)).status, 429, 'a stranger waits');
    // The owner, from where they signed in before, is not held back by the others' failures.
    await expectStatus(from('198.51.100.20', victim, PASSWORD), 200);
  });
});

/**
 * Accepting an invitation sets a password: it is throttled like a sign-in, per client address
 * (the same counts) and per invitation, and a refused token costs no argon2id hash.
 */
describe('admin API: invitations under the sign-in throttle', { skip }, () => {
  const V1 = '/admin/v1';
  const MAX = 5;
  const NEW_PASSWORD = 'Invited and Random passphrase 7';
  const TOO_MANY =
    /^too many invalid invitation tokens from this address or for this invitation; try again in \d+ s$/;
  let admin: TestAdmin;
  let org: TestOrg;
  /** The admin API's clock runs `offset` ms ahead of the real one. */
  let offset = 0;
  let hashes = 0;
  let counter = 0;

  before(async () => {
    const started = await startTestAdmin({
      loginThrottle: { maxFailures: MAX, windowMs: 15 * 60_000 },
      trustedProxies: ['127.0.0.0/8'],
      now: () => new Date(Date.now() + offset),
      hashPassword: (password) => {
        hashes += 1;
        return hashPassword(password);
      },
    });
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    org = await createOrgWithRoles(admin, 'invites');
  });
  after(() => admin?.close());

  const invite = async () =>
    (
      await expectStatus(
        admin.request('POST', `${V1}/orgs/invites/invitations`, {
          token: org.users.owner.token,
          body: { email: `invitee${++counter}@invites.test`, role: 'developer' },
        }),
        201,
      )
    ).body.token as string;
  const accept = (client: string, token: string) =>
    admin.request('POST', `${V1}/auth/accept-invitation`, {
      body: { token, password: NEW_PASSWORD },
      headers: { 'x-forwarded-for': client },
    });

  it('an expired invitation sent many times at once costs no hash and is throttled', async () => {
    const token = await invite();
    offset = 8 * 86_400_000; // the invitation is valid 7 days
    try {
      const before = hashes;
      const answers = await Promise.all(Array.from({ length: 20 }, () => accept('203.0.113.30', token)));
      const refused = answers.filter((answer) => answer.status === 401).length;
      const throttled = answers.filter((answer) => answer.status === 429);
      assert.equal(refused + throttled.length, answers.length, answers.map((a) => a.status).join(' '));
      assert.ok(refused <= MAX, `${refused} attempts were let through; at most ${MAX} may be`);
      assert.equal(hashes, before, 'a refused invitation hashed the password');
      assert.match(throttled[0]!.body.detail, TOO_MANY);
      assert.match(throttled[0]!.headers.get('retry-after') ?? '', /^\d+$/);
    } finally {
      offset = 0;
    }
  });

  it('counts per invitation too: failures on one from many addresses hold it', async () => {
    const token = await invite();
    offset = 8 * 86_400_000;
    try {
      for (let i = 0; i < MAX; i++) await expectStatus(accept(`203.0.113.${40 + i}`, token), 401);
      const held = await accept('203.0.113.60', token);
      assert.equal(held.status, 429, held.text);
      assert.match(held.body.detail, TOO_MANY);
    } finally {
      offset = 0;
    }
    // Another invitation from a fresh address is not held by that one's failures.
    await expectStatus(accept('203.0.113.61', await invite()), 200);
  });

  it('a person who joins is not counted against their address', async () => {
    for (let i = 0; i <= MAX; i++) await expectStatus(accept('198.51.100.70', await invite()), 200);
    assert.equal((await accept('198.51.100.70', `kin_${'A'.repeat(43)}`)).status, 401);
  });
});
