import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTransientSqlError, SessionNotOpenedError } from './sql.js';

const sqlError = (code: string, message = 'refused', severity = 'ERROR') =>
  Object.assign(new Error(message), { code, severity });

test('the database being unable to write now is an outage, retried: not a fault of the events', () => {
  for (const code of [
    '08006', // connection failure
    '25006', // read-only transaction: failover to a standby, database put read-only
    '25P03', // idle-in-transaction session timeout
    '25P04', // transaction timeout
    '28000', // invalid authorization: a role dropped, a pg_hba.conf change
    '28P01', // invalid password: a rotation not yet everywhere
    '40001', // serialization failure
    '40P01', // deadlock
    '53100', // disk full
    '53300', // too many connections
    '55P03', // lock not available
    '57014', // query cancelled: statement_timeout
    '57P01', // admin shutdown
    '57P03', // cannot connect now: starting up, in recovery
    '58030', // I/O error
    'ECONNREFUSED',
    'ECONNRESET',
    'EAI_AGAIN', // DNS did not answer
    'ENETUNREACH',
  ]) {
    assert.equal(isTransientSqlError(sqlError(code)), true, code);
  }
  const notAccepting = sqlError('55000', 'database "kordon" is not currently accepting connections', 'FATAL');
  assert.equal(isTransientSqlError(notAccepting), true, 'ALLOW_CONNECTIONS false: the session is refused');
  assert.equal(isTransientSqlError(new Error('Connection terminated unexpectedly')), true);
  assert.equal(isTransientSqlError(new Error('timeout exceeded when trying to connect')), true);
  assert.equal(isTransientSqlError(new Error('Query read timeout')), true, "pg's query_timeout: no answer");
});

test('a refusal of what was sent is not an outage: the event is set aside', () => {
  for (const code of [
    '22P02', // invalid text representation
    '22021', // character not in repertoire
    '23505', // unique violation
    '23514', // check violation
    '42601', // syntax error
    '54000', // program limit exceeded: a row too big
    '25P02', // in failed transaction: the error before it is the one that counts
    '55000', // object not in prerequisite state, raised by a statement (currval before nextval)
    'XX000', // internal error
  ]) {
    assert.equal(isTransientSqlError(sqlError(code)), false, code);
  }
  assert.equal(isTransientSqlError(new Error('boom')), false);
  assert.equal(isTransientSqlError(undefined), false);
  assert.equal(isTransientSqlError('25006'), false);
});

test('a session that could not be opened is an outage whatever its code and however its severity is spelled', () => {
  // lc_messages = ru_RU: FATAL is "ВАЖНО"; the fields alone read like a statement's ERROR 55000.
  const russian = sqlError('55000', 'база данных "kordon" не принимает подключения', 'ВАЖНО');
  assert.equal(isTransientSqlError(russian), false);
  const refused = new SessionNotOpenedError(russian);
  assert.equal(isTransientSqlError(refused), true);
  assert.equal(refused.code, '55000');
  assert.equal(refused.message, russian.message);
  assert.equal(refused.cause, russian);
  // a database dropped or renamed, a login refused: nothing was sent either
  for (const code of ['3D000', '28P01', '42501']) {
    assert.equal(
      isTransientSqlError(new SessionNotOpenedError(sqlError(code, 'refused', 'ВАЖНО'))),
      true,
      code,
    );
  }
  assert.equal(new SessionNotOpenedError('no code').code, undefined);
});
