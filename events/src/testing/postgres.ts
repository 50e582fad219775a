import pg from 'pg';
import { newEventId } from '../ids.js';

/**
 * A fresh database on the test server named by KORDON_TEST_DATABASE_URL, so test files
 * running in parallel never see each other's events. Returns undefined when no server is
 * configured (the caller skips, saying why).
 */
export async function createTestDatabase(
  baseUrl = process.env.KORDON_TEST_DATABASE_URL,
): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  if (!baseUrl) return undefined;
  const name = `kordon_test_${newEventId().replaceAll('-', '').slice(-16)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export const POSTGRES_SKIP_REASON =
  'KORDON_TEST_DATABASE_URL is not set (npm test starts a throwaway PostgreSQL when its binaries are installed; CI always does)';
