import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';
import { CSV_PAGE_ROWS } from './routes/audit.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;

/** More entries than the export once cut at (100,000), across many of its pages. */
const ENTRIES = 100_050;
/** Positions far above the log's own, so the seeded entries follow every real one. */
const SEEDED_FROM = 1_000_000_000;

describe('audit log CSV export', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;
  let globex: TestOrg;

  /** Audit entries written straight into the projection's table: the export is what is tested. */
  const seed = async (org: TestOrg, from: number, count: number) => {
    await admin.sql.query(
      `INSERT INTO kordon_admin_audit (position, event_id, org_id, occurred_at, actor_kind, actor_id,
         actor_ip, action, subject_type, subject_id, before, after)
       SELECT $2::bigint + g, gen_random_uuid(), $1, now(), 'user', 'u-seed', '10.0.0.1', 'KeySeeded',
              'proxy-key', 'pk-' || g, NULL, jsonb_build_object('n', $2::bigint + g)
         FROM generate_series(1, $3::int) AS g`,
      [org.orgId, from, count],
    );
  };

  const csvLines = (text: string) => text.trimEnd().split('\n');
  const seededNumber = (line: string) => Number(/"\{""n"":(\d+)\}"/.exec(line)?.[1]);

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
    globex = await createOrgWithRoles(admin, 'globex');
    await seed(acme, SEEDED_FROM, ENTRIES);
    await seed(globex, SEEDED_FROM + 10_000_000, 25);
  });
  after(() => admin?.close());

  it('exports every matching entry, in order, once, and only the caller org’s', async () => {
    assert.ok(ENTRIES > 50 * CSV_PAGE_ROWS, 'the export crosses many pages');
    const answer = await expectStatus(
      admin.request('GET', '/admin/v1/orgs/acme/audit?format=csv&action=KeySeeded', {
        token: acme.users.auditor.token,
      }),
      200,
    );
    assert.match(answer.headers.get('content-type') ?? '', /^text\/csv/);
    assert.equal(answer.headers.get('content-disposition'), 'attachment; filename="audit-acme.csv"');
    const lines = csvLines(answer.text);
    assert.equal(
      lines[0],
      'time,actor_kind,actor_id,actor_ip,action,subject_type,subject_id,before,after,event_id',
    );
    assert.equal(lines.length, ENTRIES + 1, 'a header and every entry');
    for (let i = 1; i < lines.length; i++) {
      const n = seededNumber(lines[i]!);
      if (n !== SEEDED_FROM + i) assert.fail(`line ${i + 1}: expected entry ${SEEDED_FROM + i}, got ${n}`);
    }

    const newestFirst = await expectStatus(
      admin.request('GET', '/admin/v1/orgs/globex/audit?format=csv&action=KeySeeded&sort=-time', {
        token: globex.users.finance.token,
      }),
      200,
    );
    const globexLines = csvLines(newestFirst.text);
    assert.equal(globexLines.length, 26);
    assert.equal(seededNumber(globexLines[1]!), SEEDED_FROM + 10_000_025);
  });

  it('starts with a UTF-8 byte order mark when asked (bom=true, for Excel), and only then', async () => {
    // Raw bytes: fetch's text() would drop a byte order mark and hide whether one was sent.
    const bytesOf = async (query: string) => {
      const response = await fetch(`${admin.url}/admin/v1/orgs/globex/audit?${query}`, {
        headers: { authorization: `Bearer ${globex.users.auditor.token}` },
      });
      assert.equal(response.status, 200, query);
      return Buffer.from(await response.arrayBuffer());
    };
    const plain = await bytesOf('format=csv&action=KeySeeded');
    const marked = await bytesOf('format=csv&action=KeySeeded&bom=true');
    assert.equal(plain.subarray(0, 5).toString('utf8'), 'time,');
    assert.deepEqual([...marked.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    assert.ok(marked.subarray(3).equals(plain), 'the mark, then the same file');
    assert.ok((await bytesOf('format=csv&action=KeySeeded&bom=false')).equals(plain));

    const refused = await admin.request('GET', '/admin/v1/orgs/globex/audit?bom=true', {
      token: globex.users.auditor.token,
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'validation_failed');
    assert.deepEqual(refused.body.errors, [{ path: 'query.bom', message: 'only with format=csv' }]);
  });

  it('says how many of the org’s events the audit log could not apply (JSON and CSV)', async () => {
    // The projection applies any event the catalogue lets in, so a fault is made: a trigger
    // refuses one team's entry, the batch fails, and the runner applies the rest one by one and
    // parks that event.
    await admin.sql.query(`CREATE FUNCTION kordon_test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.action = 'TeamCreated' AND NEW.after->>'name' = 'Unreadable' THEN
          RAISE EXCEPTION 'refused by the test';
        END IF;
        RETURN NEW;
      END $$`);
    await admin.sql.query(`CREATE TRIGGER kordon_test_refuse_audit BEFORE INSERT ON kordon_admin_audit
      FOR EACH ROW EXECUTE FUNCTION kordon_test_refuse_audit()`);
    const before = new Date().toISOString();
    try {
      for (const name of ['Readable', 'Unreadable'])
        await expectStatus(
          admin.request('POST', '/admin/v1/orgs/acme/teams', {
            token: acme.users.admin.token,
            body: { name },
          }),
          201,
        );
      // The entries are applied in the background: a read waits for them (and the parking).
      await expectStatus(
        admin.request('GET', '/admin/v1/orgs/acme/audit?limit=1', { token: acme.users.auditor.token }),
        200,
      );
    } finally {
      await admin.sql.query('DROP TRIGGER kordon_test_refuse_audit ON kordon_admin_audit');
      await admin.sql.query('DROP FUNCTION kordon_test_refuse_audit()');
    }
    const audit = (org: TestOrg, query: string) =>
      expectStatus(
        admin.request('GET', `/admin/v1/orgs/${org === acme ? 'acme' : 'globex'}/audit?${query}`, {
          token: org.users.auditor.token,
        }),
        200,
      );
    const teams = await audit(acme, 'action=TeamCreated');
    assert.deepEqual(
      teams.body.items.map((e: { after: { name: string } }) => e.after.name),
      ['Readable'],
      'the parked event has no entry',
    );
    assert.equal(teams.body.unreadEvents, 1);
    assert.equal(teams.headers.get('x-kordon-unread-events'), '1');
    assert.equal((await audit(acme, '')).body.unreadEvents, 1);
    assert.equal((await audit(acme, `from=${encodeURIComponent(before)}`)).body.unreadEvents, 1);
    // Another action, a range before it, another org: none.
    assert.equal((await audit(acme, 'action=OrgCreated')).body.unreadEvents, 0);
    assert.equal((await audit(acme, `to=${encodeURIComponent(before)}`)).body.unreadEvents, 0);
    assert.equal((await audit(globex, '')).body.unreadEvents, 0);
    // The CSV body is entries only: the export says it in its header.
    const csv = await audit(acme, 'format=csv&action=TeamCreated');
    assert.equal(csv.headers.get('x-kordon-unread-events'), '1');
    assert.equal(
      (await audit(globex, 'format=csv&action=KeySeeded')).headers.get('x-kordon-unread-events'),
      '0',
    );
  });

  it('holds to the log as it was when the export began', async () => {
    const response = await fetch(`${admin.url}/admin/v1/orgs/acme/audit?format=csv&action=KeySeeded`, {
      headers: { authorization: `Bearer ${acme.users.admin.token}` },
    });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const first = await reader.read();
    text += decoder.decode(first.value, { stream: true });
    // Entries written while the export runs (a busy org) are left for the next export.
    await seed(acme, SEEDED_FROM + ENTRIES, 3 * CSV_PAGE_ROWS);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const lines = csvLines(text);
    assert.equal(lines.length, ENTRIES + 1);
    assert.equal(seededNumber(lines.at(-1)!), SEEDED_FROM + ENTRIES);
  });

  it('stops when the client leaves, and serves the next request', async () => {
    const controller = new AbortController();
    const response = await fetch(`${admin.url}/admin/v1/orgs/acme/audit?format=csv`, {
      headers: { authorization: `Bearer ${acme.users.auditor.token}` },
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await assert.rejects(reader.read());
    const page = await expectStatus(
      admin.request('GET', '/admin/v1/orgs/acme/audit?limit=1', { token: acme.users.auditor.token }),
      200,
    );
    assert.equal(page.body.items.length, 1);
  });
});
