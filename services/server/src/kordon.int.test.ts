import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { createPgliteEventStore, streams } from '@kordon/events';
import { requestCompletedEvent } from '@kordon/events/testing';
import { configFileVariables } from '@kordon/gateway';
import { loadConfig, unknownSettingMessage, unknownSettings } from './config.js';
import { startKordon } from './kordon.js';
import { createLogger } from './logger.js';

it('stop() drains and flushes every handed-over event before closing the store', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kordon-stop-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({
    KORDON_PORT: '0',
    KORDON_DATA_DIR: dataDir,
    KORDON_LOG_LEVEL: 'silent',
    KORDON_DEV_MODE: 'true',
  });
  const kordon = await startKordon(config, createLogger(config));
  for (let i = 0; i < 5000; i++) kordon.storage.appender.enqueue(requestCompletedEvent('org_stop', i));
  await kordon.stop(); // without awaiting any append: stop must flush them
  await kordon.stop(); // a second stop is harmless

  const reopened = await createPgliteEventStore(join(dataDir, 'pglite'));
  t.after(() => reopened.close());
  assert.equal((await reopened.readStream(streams.usage('org_stop'))).length, 5000);
});

it('parses configuration with defaults and names each bad variable', () => {
  const config = loadConfig({}, '/srv/kordon');
  assert.equal(config.port, 8080);
  assert.equal(config.dataDir, '/srv/kordon/.kordon');
  assert.equal(config.databaseUrl, undefined);
  assert.equal(loadConfig({ KORDON_PORT: '' }).port, 8080, 'an empty variable counts as unset');
  assert.throws(
    () => loadConfig({ KORDON_PORT: '70000', KORDON_SPOOL_MAX_BYTES: 'lots' }),
    (error: Error) =>
      /KORDON_PORT: expected at most 65535 \(got "70000"\)/.test(error.message) &&
      /KORDON_SPOOL_MAX_BYTES: expected a whole number/.test(error.message),
  );
  assert.equal(config.maxBodyBytesInFlight, undefined, 'unset: the gateway takes a share of the heap');
  assert.equal(loadConfig({ KORDON_MAX_BODY_BYTES_IN_FLIGHT: '20971520' }).maxBodyBytesInFlight, 20_971_520);
  assert.throws(
    () => loadConfig({ KORDON_MAX_BODY_BYTES: '2000000', KORDON_MAX_BODY_BYTES_IN_FLIGHT: '1000000' }),
    /KORDON_MAX_BODY_BYTES_IN_FLIGHT: expected at least KORDON_MAX_BODY_BYTES \(2000000\)/,
  );
  assert.equal(config.eventWriteBacklog, 10_000);
  assert.equal(loadConfig({ KORDON_EVENT_WRITE_BACKLOG: '500' }).eventWriteBacklog, 500);
  assert.throws(() => loadConfig({ KORDON_EVENT_WRITE_BACKLOG: '0' }), /KORDON_EVENT_WRITE_BACKLOG/);
  assert.equal(config.cors, undefined, 'no web page may call /v1 unless allowed');
  assert.equal(loadConfig({ KORDON_CORS_ORIGINS: ' * ' }).cors?.origins, '*');
  assert.deepEqual(
    loadConfig({ KORDON_CORS_ORIGINS: 'https://Chat.Acme.example:443/, http://localhost:5173' }).cors
      ?.origins,
    new Set(['https://chat.acme.example', 'http://localhost:5173']),
  );
  for (const notAnOrigin of [
    'https://acme.example/app',
    'chat.acme.example',
    'ftp://acme.example',
    '*, https://a.example',
  ])
    assert.throws(
      () => loadConfig({ KORDON_CORS_ORIGINS: notAnOrigin }),
      /KORDON_CORS_ORIGINS: expected `\*` or origins like https:\/\/chat\.acme\.example.*not an origin/,
      notAnOrigin,
    );
  assert.equal(config.maxResponseBytes, 64 * 1024 * 1024);
  assert.equal(config.preloadTokenizers, false);
  assert.equal(loadConfig({ KORDON_PRELOAD_TOKENIZERS: 'true' }).preloadTokenizers, true);
  assert.throws(
    () => loadConfig({ KORDON_MAX_RESPONSE_BYTES: String(1024 * 1024 * 1024) }),
    /KORDON_MAX_RESPONSE_BYTES: expected at most 536870912/,
  );
  assert.equal(config.adminApi, 'on');
  assert.equal(loadConfig({ KORDON_ADMIN_API: 'off' }).adminApi, 'off');
  assert.throws(() => loadConfig({ KORDON_ADMIN_API: 'no' }), /KORDON_ADMIN_API: .*"on".*"off"/);
});

it('never echoes credentials written into a URL-valued variable it refuses', () => {
  for (const [name, value] of [
    ['KORDON_PUBLIC_URL', 'https://ops:hunter2pass@kordon.example.com'],
    ['KORDON_CORS_ORIGINS', 'https://ops:hunter2pass@chat.acme.example'],
  ] as const)
    assert.throws(
      () => loadConfig({ [name]: value }),
      (error: Error) => {
        assert.match(error.message, new RegExp(`${name}: `));
        assert.doesNotMatch(error.message, /hunter2pass/);
        return true;
      },
    );
});

it('names every KORDON_ variable that is no setting, with the setting it is spelled like', () => {
  assert.deepEqual(
    unknownSettings(
      {
        KORDON_LOG_LEVL: 'debug',
        kordon_port: '9000',
        KORDON_TRUSTED_PROXY: '10.0.0.0/8',
        KORDON_MASTERKEY: 'c2VjcmV0',
        KORDON_DATABSE_URL: 'postgres://kordon@db/kordon',
        // Like no setting: named all the same, with nothing offered.
        KORDON_HOME: '/srv',
        KORDON_FROBNICATE: 'on',
        // Settings as spelled, variables the configuration file reads, and those of the tests.
        KORDON_PORT: '8080',
        KORDON_OPENAI_KEY: 'sk-test',
        KORDON_TEST_DATABASE_URL: 'postgres://test@db/test',
        KORDON_BENCH_DATABASE_URL: 'postgres://bench@db/bench',
        KORDON_TEST_LOADED_MODULES: '/tmp/modules.txt',
        PATH: '/usr/bin',
      },
      new Set(['KORDON_OPENAI_KEY', 'OPENAI_KEY_2']),
    ),
    [
      { name: 'KORDON_LOG_LEVL', meant: 'KORDON_LOG_LEVEL' },
      { name: 'kordon_port', meant: 'KORDON_PORT' },
      { name: 'KORDON_TRUSTED_PROXY', meant: 'KORDON_TRUSTED_PROXIES' },
      { name: 'KORDON_MASTERKEY', meant: 'KORDON_MASTER_KEY' },
      { name: 'KORDON_DATABSE_URL', meant: 'KORDON_DATABASE_URL' },
      { name: 'KORDON_HOME', meant: undefined },
      { name: 'KORDON_FROBNICATE', meant: undefined },
    ],
  );
  assert.deepEqual(unknownSettings({ KORDON_PORT: '1', KORDON_LOG_LEVEL: 'info' }), []);
  assert.equal(
    unknownSettingMessage({ name: 'KORDON_DATABSE_URL', meant: 'KORDON_DATABASE_URL' }),
    'KORDON_DATABSE_URL is not a Kordon setting and is ignored: did you mean KORDON_DATABASE_URL?',
  );
  assert.equal(
    unknownSettingMessage({ name: 'KORDON_HOME', meant: undefined }),
    'KORDON_HOME is not a Kordon setting and is ignored',
  );
});

it("reads the variables a configuration file's values name, and none from a file it cannot read", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kordon-config-vars-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'kordon.yaml');
  writeFileSync(
    file,
    [
      '# ${KORDON_IN_A_COMMENT} is not read',
      'orgs:',
      '  - name: "${KORDON_ORG} and ${ORG_SUFFIX}"',
      '    providers:',
      '      "${KORDON_IN_A_KEY}": { keys: [{ secret: "${KORDON_OPENAI_KEY}" }] }',
      '    tags: ["${KORDON_TAG}", 3]',
    ].join('\n'),
  );
  assert.deepEqual([...configFileVariables(file)].sort(), [
    'KORDON_OPENAI_KEY',
    'KORDON_ORG',
    'KORDON_TAG',
    'ORG_SUFFIX',
  ]);
  assert.deepEqual([...configFileVariables(join(dir, 'missing.yaml'))], []);
});
