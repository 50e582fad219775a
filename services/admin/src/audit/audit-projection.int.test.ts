import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createPostgresExecutor,
  type KordonEventType,
  kordonCatalogue,
  migrate,
  type RecordedEvent,
  type SqlExecutor,
  streams,
} from '@kordon/events';
import { createTestDatabase, POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { auditProjection, decodeForAudit } from './audit-projection.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;

describe('audit projection on PostgreSQL', { skip }, () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: SqlExecutor;
  const ORG = 'org_a';
  const stream = streams.proxyKey(ORG, 'pxk_1');
  let position = 0;
  const recorded = (type: KordonEventType, data: unknown): RecordedEvent => {
    const event = kordonCatalogue.create(type, stream, data as never, {
      orgId: ORG,
      actor: { kind: 'user', id: 'usr_1', ip: '203.0.113.9' },
      time: new Date(),
    });
    return { ...event, data: JSON.parse(JSON.stringify(event.data)), streamVersion: ++position, position };
  };
  const apply = async (event: RecordedEvent) => {
    await sql.transaction(async (tx) => {
      for (const statement of auditProjection.project(decodeForAudit(event)))
        await tx.query(statement.text, statement.params);
    });
  };

  before(async () => {
    database = await createTestDatabase();
    sql = createPostgresExecutor({ connectionString: database!.url });
    await migrate(sql, auditProjection.migrations);
  });
  after(async () => {
    await sql?.close();
    await database?.drop();
  });

  it('an event applied again (a second process behind the first) takes no state back', async () => {
    const suspended = recorded('ProxyKeySuspended', {
      proxyKeyId: 'pxk_1',
      reason: 'manual',
      byFraudDetector: false,
      fraudSignalId: null,
      note: 'leaked in a chat',
    });
    const reinstated = recorded('ProxyKeyReinstated', { proxyKeyId: 'pxk_1', note: 'rotated' });
    const revoked = recorded('ProxyKeyRevoked', { proxyKeyId: 'pxk_1', reason: 'manual', note: null });
    await apply(suspended);
    await apply(reinstated);
    await apply(suspended); // the process behind, catching up
    await apply(revoked);
    const { rows } = await sql.query<{ action: string; before: { status?: string } | null }>(
      'SELECT action, before FROM kordon_admin_audit ORDER BY position',
    );
    assert.deepEqual(
      rows.map((row) => [row.action, row.before?.status ?? null]),
      [
        ['ProxyKeySuspended', null],
        ['ProxyKeyReinstated', 'suspended'],
        ['ProxyKeyRevoked', 'active'],
      ],
    );
  });
});
