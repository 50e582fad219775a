import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPostgresExecutor, SqlEventStore, type SqlExecutor } from '@kordon/events';
import { createTestDatabase, POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { loadRuntimeSecrets } from '@kordon/gateway';
import { type AdminApi, type AdminApiOptions, startAdminApi } from '../admin.js';
import type { Role } from '../rbac/permissions.js';
import { type RequestLog, startRequestLog } from '../request-log/index.js';

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON when the answer is JSON, else the text. */
  // biome-ignore lint/suspicious/noExplicitAny: test answers are inspected field by field
  body: any;
  text: string;
}

export interface RequestOptions {
  token?: string | undefined;
  body?: unknown;
  /** Sent as is (malformed JSON, other media types). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface TestAdmin {
  url: string;
  adminToken: string;
  api: AdminApi;
  requestLog: RequestLog;
  store: SqlEventStore;
  sql: SqlExecutor;
  request(method: string, path: string, options?: RequestOptions): Promise<Answer>;
  /**
   * Another replica behind the same load balancer: an admin API of its own (its own server,
   * connection pool, and process state) on this one's database, with the same secrets. Close it
   * before this one (which drops the database).
   */
  replica(options?: TestAdminOptions): Promise<TestAdmin>;
  close(): Promise<void>;
}

export type TestAdminOptions = Partial<
  Pick<
    AdminApiOptions,
    'loginThrottle' | 'maxBodyBytes' | 'now' | 'logger' | 'trustedProxies' | 'hashPassword' | 'spendExport'
  >
> & {
  /**
   * Wraps the executor the admin API is given (not the store's or the request log's): a test
   * that must act between two of the API's statements does it there.
   */
  wrapSql?: (sql: SqlExecutor) => SqlExecutor;
};

export const PASSWORD = 'a long and Random passphrase 42';

const silent = { info() {}, warn() {}, error() {} };

/**
 * The admin API on a fresh database of the test PostgreSQL, behind a real HTTP server, with
 * generated secrets; or the reason it cannot run.
 */
export async function startTestAdmin(options: TestAdminOptions = {}): Promise<TestAdmin | string> {
  const database = await createTestDatabase();
  if (!database) return POSTGRES_SKIP_REASON;
  const generated = {
    masterKey: randomBytes(32).toString('base64'),
    proxyKeySecret: randomBytes(32).toString('base64'),
    adminToken: randomBytes(32).toString('base64url'),
  };
  return startOn(database, generated, options);
}

async function startOn(
  database: { url: string; drop: () => Promise<void> },
  generated: { masterKey: string; proxyKeySecret: string; adminToken: string },
  options: TestAdminOptions,
): Promise<TestAdmin> {
  const sql = createPostgresExecutor({ connectionString: database.url });
  const store = await SqlEventStore.open('postgres', sql);
  const secrets = loadRuntimeSecrets({
    masterKey: generated.masterKey,
    oldMasterKeys: undefined,
    proxyKeySecret: generated.proxyKeySecret,
    oldProxyKeySecrets: undefined,
    devMode: false,
    dataDir: '/nonexistent',
    nodeEnv: 'test',
  });
  const { adminToken } = generated;
  const requestLog = await startRequestLog({ store, sql, logger: silent });
  // Listening first: the API's public URL (the OIDC redirect URI) is the server's own.
  let api: AdminApi | undefined;
  const server = createServer((req, res) => api!.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api = await startAdminApi({
    store,
    sql: options.wrapSql ? options.wrapSql(sql) : sql,
    secrets,
    adminToken,
    logger: options.logger ?? silent,
    requestLog,
    publicUrl: url,
    loginThrottle: options.loginThrottle ?? { maxFailures: 1000, windowMs: 60_000 },
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.trustedProxies ? { trustedProxies: options.trustedProxies } : {}),
    ...(options.hashPassword ? { hashPassword: options.hashPassword } : {}),
    ...(options.spendExport ? { spendExport: options.spendExport } : {}),
  });

  const request = async (method: string, path: string, opts: RequestOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      headers: response.headers,
      body: /json/.test(type) && text !== '' ? JSON.parse(text) : text,
      text,
    };
  };

  return {
    url,
    adminToken,
    api,
    requestLog,
    store,
    sql,
    request,
    replica: (replicaOptions = {}) =>
      startOn({ url: database.url, drop: async () => {} }, generated, replicaOptions),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.stop();
      await requestLog.stop();
      await store.close();
      await database.drop();
    },
  };
}

/** An org with one signed-in user per role, for tests that act as each of them. */
export interface TestOrg {
  orgId: string;
  slug: string;
  users: Record<Role, { userId: string; email: string; token: string }>;
}

export async function expectStatus(answer: Promise<Answer> | Answer, status: number): Promise<Answer> {
  const resolved = await answer;
  if (resolved.status !== status) {
    throw new Error(`expected ${status}, got ${resolved.status}: ${resolved.text.slice(0, 500)}`);
  }
  return resolved;
}

export async function createOrgWithRoles(admin: TestAdmin, slug: string): Promise<TestOrg> {
  const created = await expectStatus(
    admin.request('POST', '/admin/v1/orgs', { token: admin.adminToken, body: { slug, name: `Org ${slug}` } }),
    201,
  );
  const orgId = created.body.id as string;
  const users = {} as TestOrg['users'];
  for (const role of ['owner', 'admin', 'finance', 'developer', 'auditor'] as const) {
    const email = `${role}@${slug}.test`;
    const user = await expectStatus(
      admin.request('POST', `/admin/v1/orgs/${slug}/users`, {
        token: admin.adminToken,
        body: { email, role, password: PASSWORD },
      }),
      201,
    );
    const login = await expectStatus(
      admin.request('POST', '/admin/v1/auth/login', { body: { email, password: PASSWORD } }),
      200,
    );
    users[role] = { userId: user.body.id, email, token: login.body.accessToken };
  }
  return { orgId, slug, users };
}
