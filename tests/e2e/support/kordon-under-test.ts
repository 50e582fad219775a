import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KordonEvent, kordonCatalogue, streams } from '@kordon/events';
import { closeLogger, createLogger, loadConfig, type RunningKordon, startKordon } from '@kordon/server';
import { issuedProxyKeys } from './issued-proxy-keys.js';

/** A Kordon started in this process from a config file, with its issued proxy keys. */
export interface KordonUnderTest {
  kordon: RunningKordon;
  url: string;
  dataDir: string;
  orgId: string;
  /** Issued proxy keys by the file name's `<email>--<key name>` part. */
  proxyKeys: Map<string, string>;
  /** The org's request events, decoded, once the appender has written them. */
  requestEvents(): Promise<KordonEvent[]>;
  /** Every event of the log, decoded. */
  allEvents(): Promise<KordonEvent[]>;
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * Starts Kordon on a free port with `config` (YAML) as KORDON_CONFIG; `env` adds variables
 * (`${NAME}` in the file, KORDON_DATABASE_URL...). Pass `dataDir` to start again on the same data.
 */
export async function startKordonUnderTest(
  config: string,
  env: Record<string, string> = {},
  options: { dataDir?: string; orgSlug?: string; logFileInDataDir?: string } = {},
): Promise<KordonUnderTest> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kordon-e2e-'));
  const configPath = join(dataDir, 'kordon.yaml');
  writeFileSync(configPath, config);
  const fullEnv = {
    KORDON_PORT: '0',
    KORDON_HOST: '127.0.0.1',
    KORDON_DATA_DIR: dataDir,
    KORDON_LOG_LEVEL: 'silent',
    KORDON_DEV_MODE: 'true',
    KORDON_CONFIG: configPath,
    ...env,
    ...(options.logFileInDataDir ? { KORDON_LOG_FILE: join(dataDir, options.logFileInDataDir) } : {}),
  };
  const loaded = loadConfig(fullEnv);
  const logger = createLogger(loaded);
  const kordon = await startKordon(loaded, logger, fullEnv);
  const proxyKeys = issuedProxyKeys(dataDir);
  const decode = (events: Awaited<ReturnType<typeof kordon.storage.store.readAll>>) =>
    events.map((e) => kordonCatalogue.decode(e) as KordonEvent);
  const allEvents = async () => {
    await kordon.storage.appender.flush();
    return decode(await kordon.storage.store.readAll({ after: 0, maxCount: 100_000 }));
  };
  const org = (await allEvents()).find(
    (e) => e.type === 'OrgCreated' && (options.orgSlug === undefined || e.data.slug === options.orgSlug),
  );
  if (!org?.orgId) throw new Error('the config file created no org');
  const orgId = org.orgId;
  return {
    kordon,
    url: kordon.url,
    dataDir,
    orgId,
    proxyKeys,
    allEvents,
    requestEvents: async () => {
      await kordon.storage.appender.flush();
      return decode(await kordon.storage.store.readStream(streams.usage(orgId)));
    },
    stop: async ({ keepData = false } = {}) => {
      await kordon.stop();
      await closeLogger(logger);
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The event of one request (its `data.requestId`), once the gateway has recorded it (10 s at
 * most: a request its caller left is recorded when the gateway notices, later on a busy machine).
 */
export async function eventOfRequest(
  k: KordonUnderTest,
  requestId: string | null | undefined,
): Promise<KordonEvent> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = (await k.allEvents()).find(
      (e) => (e.data as { requestId?: string }).requestId === requestId,
    );
    if (found) return found;
    if (Date.now() > deadline) assert.fail(`no event for ${requestId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One provider's key health, as the admin API shows it (`GET /orgs/{org}/provider-keys/health`). */
export async function providerKeyHealth(
  k: KordonUnderTest,
  adminToken: string,
  provider: string,
  org = 'acme',
): Promise<Record<string, unknown>> {
  const answer = await fetch(`${k.url}/admin/v1/orgs/${org}/provider-keys/health`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(answer.status, 200);
  const { items } = (await answer.json()) as { items: Array<Record<string, unknown>> };
  const item = items.find((i) => i.provider === provider);
  assert.ok(item, provider);
  return item;
}

/** The `authorization` header's key, to tell which provider key a mock request used. */
export function bearerOf(headers: Record<string, unknown>): string | undefined {
  const value = headers.authorization;
  return typeof value === 'string' ? value.replace(/^Bearer /, '') : undefined;
}

/**
 * The config of one org with an OpenAI and a Claude provider (a model each, one key each, from
 * `${OPENAI_KEY}` and `${ANTHROPIC_KEY}`) and a user `dev@acme.test` holding one proxy key.
 */
export function openAIAndClaudeConfig(urls: { openai: string; anthropic: string }, proxyKey: string): string {
  return `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${urls.openai}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
      - name: claude
        type: anthropic
        baseUrl: ${urls.anthropic}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: ${proxyKey} }]
`;
}
