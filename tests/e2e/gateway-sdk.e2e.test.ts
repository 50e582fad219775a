import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createLogger, loadConfig, type RunningKordon, startKordon } from '@kordon/server';
import OpenAI from 'openai';

/**
 * The official SDKs, unmodified, against Kordon started from a config file: the file's
 * proxy keys authenticate, and each caller sees its org's models only.
 */
describe('official SDKs against Kordon', () => {
  let kordon: RunningKordon;
  let dataDir: string;
  let aliceKey: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kordon-sdk-'));
    const configPath = join(dataDir, 'kordon.yaml');
    writeFileSync(
      configPath,
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai-main
        type: openai
        baseUrl: http://127.0.0.1:9/v1
        models: [gpt-4o-mini, text-embedding-3-small, "gpt-4.1*"]
        keys: [{ name: k1, secret: "\${OPENAI_KEY_1}" }]
      - name: claude
        type: anthropic
        baseUrl: http://127.0.0.1:9
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY_1}" }]
    users:
      - email: alice@acme.test
        proxyKeys: [{ name: alice-laptop }]
  - slug: globex
    name: Globex
    providers:
      - name: openai
        type: openai
        baseUrl: http://127.0.0.1:9/v1
        models: [gpt-4o]
        keys: [{ name: k1, secret: "\${OPENAI_KEY_1}" }]
`,
    );
    const env = {
      KORDON_PORT: '0',
      KORDON_DATA_DIR: dataDir,
      KORDON_LOG_LEVEL: 'silent',
      KORDON_DEV_MODE: 'true',
      KORDON_CONFIG: configPath,
      OPENAI_KEY_1: 'sk-proj-sdktestabcdefghijklmnopqrstuvwxyz012345',
      ANTHROPIC_KEY_1: 'sk-ant-api03-sdktestabcdefghijklmnopqrstuvwxyz',
    };
    const config = loadConfig(env);
    kordon = await startKordon(config, createLogger(config), env);
    const issuedDir = join(dataDir, 'issued-proxy-keys');
    const [file] = readdirSync(issuedDir);
    aliceKey = readFileSync(join(issuedDir, file!), 'utf8').trim();
  });
  after(async () => {
    await kordon?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('OpenAI SDK: models.list shows the org models, never another org', async () => {
    const client = new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey: aliceKey, maxRetries: 0 });
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.deepEqual(ids.sort(), ['claude-sonnet-4-5', 'gpt-4o-mini', 'text-embedding-3-small']);
  });

  it('Anthropic SDK: models.list in its own shape', async () => {
    const client = new Anthropic({ baseURL: kordon.url, apiKey: aliceKey, maxRetries: 0 });
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.ok(ids.includes('claude-sonnet-4-5'));
  });

  it('a wrong key is refused in each dialect, without echoing it', async () => {
    const openai = new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey: 'sk-not-a-kordon-key', maxRetries: 0 });
    await assert.rejects(openai.models.list(), (error: unknown) => {
      assert.ok(error instanceof OpenAI.AuthenticationError);
      assert.equal(error.status, 401);
      assert.equal((error.error as { code?: string }).code, 'invalid_api_key');
      assert.doesNotMatch(error.message, /sk-not-a-kordon-key/);
      return true;
    });
    const anthropic = new Anthropic({
      baseURL: kordon.url,
      apiKey: `${aliceKey.slice(0, -1)}x`,
      maxRetries: 0,
    });
    await assert.rejects(anthropic.models.list(), (error: unknown) => {
      assert.ok(error instanceof Anthropic.AuthenticationError);
      assert.equal((error.error as { error?: { type?: string } }).error?.type, 'authentication_error');
      return true;
    });
  });
});
