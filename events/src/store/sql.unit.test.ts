import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitStatements } from './sql.js';

test('migrations split at semicolons outside literals and dollar-quoted bodies', () => {
  const sql = `
    CREATE TABLE a (x text DEFAULT 'a;b');
    CREATE FUNCTION f(t timestamptz) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      IF t IS NULL THEN RETURN; END IF;
      EXECUTE format('SELECT %L;', t);
    END $$;
    CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT 'x;$$;y' $body$;
    SELECT $1::int;
    CREATE TABLE "odd;name" (y int)
  `;
  const statements = splitStatements(sql);
  assert.equal(statements.length, 5);
  assert.equal(statements[0], "CREATE TABLE a (x text DEFAULT 'a;b')");
  assert.match(statements[1]!, /^CREATE FUNCTION f[\s\S]*END \$\$$/);
  assert.equal(
    statements[2],
    "CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT 'x;$$;y' $body$",
  );
  assert.equal(statements[3], 'SELECT $1::int');
  assert.equal(statements[4], 'CREATE TABLE "odd;name" (y int)');
  assert.deepEqual(splitStatements(' ; ;'), []);
});
