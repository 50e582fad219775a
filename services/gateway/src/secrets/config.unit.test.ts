import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isKordonError } from '@kordon/events';
import {
  DEV_MASTER_KEY_FILE_NAME,
  generateDevMasterKey,
  loadMasterKeyRing,
  parseMasterKeySetting,
  parseOlderMasterKeys,
} from './config.js';
import { masterKeyId } from './master-key.js';

const POSIX = process.platform !== 'win32';
const root = mkdtempSync(join(tmpdir(), 'kordon-secrets-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${dirs++}`);

function assertConfigInvalid(fn: () => unknown, pattern: RegExp, mustNotContain: string[] = []) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isKordonError(error, 'config_invalid'), `expected config_invalid, got ${String(error)}`);
    assert.match(error.message, pattern);
    for (const text of mustNotContain) assert.ok(!error.message.includes(text), error.message);
    return true;
  });
}

describe('generateDevMasterKey', () => {
  test('creates a 0600 key file under the data dir (creating the dir) and warns loudly', () => {
    const dataDir = join(freshDir(), 'nested');
    const dev = generateDevMasterKey(dataDir);
    assert.equal(dev.path, join(dataDir, DEV_MASTER_KEY_FILE_NAME));
    assert.equal(dev.created, true);
    if (POSIX) {
      assert.equal(statSync(dev.path).mode & 0o777, 0o600);
      assert.equal(statSync(dataDir).mode & 0o077, 0, 'a new data dir is private');
    }
    const stored = readFileSync(dev.path, 'utf8');
    assert.match(stored, /^[A-Za-z0-9+/]{43}=\n$/);
    assert.equal(masterKeyId(Buffer.from(stored.trim(), 'base64')), dev.key.id);
    assert.match(dev.warning, /^WARNING: DEV MODE MASTER KEY/);
    assert.ok(dev.warning.includes(dev.path) && dev.warning.includes(dev.key.id));
    assert.ok(!dev.warning.includes(stored.trim()), 'the warning does not print the key');
    assert.deepEqual(readdirSync(dataDir), [DEV_MASTER_KEY_FILE_NAME], 'no temporary file left behind');
  });

  test('reuses the stored key on the next start', () => {
    const dataDir = freshDir();
    const first = generateDevMasterKey(dataDir);
    const second = generateDevMasterKey(dataDir);
    assert.equal(second.created, false);
    assert.equal(second.key.id, first.key.id);
    assert.ok(second.key.equals(first.key));
    assert.match(second.warning, /generated earlier/);
  });

  test('the dev key file can be used as KORDON_MASTER_KEY=file:<path>', () => {
    const dev = generateDevMasterKey(freshDir());
    assert.equal(parseMasterKeySetting(`file:${dev.path}`).id, dev.key.id);
  });

  test('refuses the key file once its permissions are wider than 0600', { skip: !POSIX }, () => {
    const dev = generateDevMasterKey(freshDir());
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o700]) {
      chmodSync(dev.path, mode);
      assertConfigInvalid(
        () => generateDevMasterKey(join(dev.path, '..')),
        new RegExp(`permissions 0${mode.toString(8)} are wider than 0600.*chmod 600`),
      );
    }
    chmodSync(dev.path, 0o400);
    assert.equal(generateDevMasterKey(join(dev.path, '..')).key.id, dev.key.id, '0400 is narrower: fine');
    chmodSync(dev.path, 0o600);
    assert.equal(generateDevMasterKey(join(dev.path, '..')).key.id, dev.key.id);
  });

  test('refuses a symlinked dev key file', { skip: !POSIX }, () => {
    const target = generateDevMasterKey(freshDir());
    const dataDir = freshDir();
    generateDevMasterKey(dataDir); // creates the dir
    rmSync(join(dataDir, DEV_MASTER_KEY_FILE_NAME));
    symlinkSync(target.path, join(dataDir, DEV_MASTER_KEY_FILE_NAME));
    assertConfigInvalid(() => generateDevMasterKey(dataDir), /symbolic link/);
  });

  test('refuses a dev key file holding a weak or malformed key', { skip: !POSIX }, () => {
    const dataDir = freshDir();
    const path = generateDevMasterKey(dataDir).path;
    writeFileSync(path, `${Buffer.alloc(32).toString('base64')}\n`, { mode: 0o600 });
    assertConfigInvalid(() => generateDevMasterKey(dataDir), /weak master key/);
    writeFileSync(path, 'oops\n', { mode: 0o600 });
    assertConfigInvalid(() => generateDevMasterKey(dataDir), /expected 32 bytes/);
  });
});

describe('parseMasterKeySetting', () => {
  test('hex and base64 values', () => {
    const bytes = randomBytes(32);
    assert.equal(parseMasterKeySetting(bytes.toString('hex')).id, masterKeyId(bytes));
    assert.equal(parseMasterKeySetting(bytes.toString('base64')).id, masterKeyId(bytes));
  });

  test('file: with text or 32 raw bytes; refuses missing, world-writable, oversized files', () => {
    const dir = freshDir();
    generateDevMasterKey(dir);
    const bytes = randomBytes(32);
    const text = join(dir, 'text-key');
    const raw = join(dir, 'raw-key');
    writeFileSync(text, `${bytes.toString('hex')}\n`, { mode: 0o644 });
    writeFileSync(raw, bytes, { mode: 0o440 });
    assert.equal(parseMasterKeySetting(`file:${text}`).id, masterKeyId(bytes));
    assert.equal(parseMasterKeySetting(`file:${raw}`).id, masterKeyId(bytes));
    assert.match(parseMasterKeySetting(`file:${raw}`).source, /KORDON_MASTER_KEY \(file /);

    assertConfigInvalid(() => parseMasterKeySetting(`file:${join(dir, 'missing')}`), /cannot open.*ENOENT/);
    assertConfigInvalid(() => parseMasterKeySetting('file:'), /needs a path/);
    assertConfigInvalid(() => parseMasterKeySetting(`file:${dir}`), /not a regular file/);
    if (POSIX) {
      chmodSync(text, 0o666);
      assertConfigInvalid(() => parseMasterKeySetting(`file:${text}`), /anyone can write it/);
    }
    const big = join(dir, 'big');
    writeFileSync(big, randomBytes(5000));
    assertConfigInvalid(() => parseMasterKeySetting(`file:${big}`), /too large/);
  });
});

describe('parseOlderMasterKeys', () => {
  const a = randomBytes(32);
  const b = randomBytes(32);

  test('comma-separated keys, optionally prefixed by their id, files allowed', () => {
    const dir = freshDir();
    generateDevMasterKey(dir);
    const file = join(dir, 'old');
    writeFileSync(file, b.toString('base64'));
    const keys = parseOlderMasterKeys(
      ` ${masterKeyId(a)}:${a.toString('base64')} , ,${masterKeyId(b)}:file:${file},`,
    );
    assert.deepEqual(
      keys.map((key) => key.id),
      [masterKeyId(a), masterKeyId(b)],
    );
    assert.deepEqual(
      parseOlderMasterKeys(`${a.toString('hex')},file:${file}`).map((key) => key.id),
      [masterKeyId(a), masterKeyId(b)],
    );
  });

  test('an id that does not match its key is refused, naming the entry', () => {
    assertConfigInvalid(
      () => parseOlderMasterKeys(`${a.toString('hex')},${masterKeyId(a)}:${b.toString('hex')}`),
      new RegExp(`^KORDON_MASTER_KEYS_OLD\\[1\\]: the id ${masterKeyId(a)} does not match`),
      [b.toString('hex')],
    );
    assertConfigInvalid(() => parseOlderMasterKeys(`old-key:${a.toString('hex')}`), /is not a master key id/);
    assertConfigInvalid(
      () => parseOlderMasterKeys('nonsense'),
      /^KORDON_MASTER_KEYS_OLD\[0\]: expected 32 bytes/,
    );
  });
});

describe('loadMasterKeyRing', () => {
  const current = randomBytes(32);
  const old = randomBytes(32);

  test('current and older keys from the environment', () => {
    const { ring, warnings } = loadMasterKeyRing({
      KORDON_MASTER_KEY: current.toString('base64'),
      KORDON_MASTER_KEYS_OLD: old.toString('hex'),
    });
    assert.equal(ring.currentId, masterKeyId(current));
    assert.deepEqual(ring.ids, [masterKeyId(current), masterKeyId(old)]);
    assert.deepEqual(warnings, []);
  });

  test('refuses to start without a master key outside dev mode', () => {
    assertConfigInvalid(() => loadMasterKeyRing({}), /KORDON_MASTER_KEY is not set/);
    assertConfigInvalid(() => loadMasterKeyRing({ KORDON_MASTER_KEY: '  ' }), /KORDON_MASTER_KEY is not set/);
  });

  test('a weak configured key stops the start, without quoting it', () => {
    const weak = Buffer.alloc(32, 7).toString('base64');
    assertConfigInvalid(
      () => loadMasterKeyRing({ KORDON_MASTER_KEY: weak }),
      /^KORDON_MASTER_KEY: refusing/,
      [weak],
    );
  });

  test('dev mode generates a key with a warning, but a configured key wins', () => {
    const dataDir = freshDir();
    const dev = loadMasterKeyRing({}, { devMode: true, dataDir });
    assert.equal(dev.warnings.length, 1);
    assert.match(dev.warnings[0] ?? '', /DEV MODE/);
    assert.equal(loadMasterKeyRing({}, { devMode: true, dataDir }).ring.currentId, dev.ring.currentId);

    const configured = loadMasterKeyRing(
      { KORDON_MASTER_KEY: current.toString('hex') },
      { devMode: true, dataDir },
    );
    assert.equal(configured.ring.currentId, masterKeyId(current));
    assert.deepEqual(configured.warnings, []);
  });

  test('dev mode is refused in production and without a data dir', () => {
    assertConfigInvalid(
      () => loadMasterKeyRing({ NODE_ENV: 'production' }, { devMode: true, dataDir: freshDir() }),
      /NODE_ENV=production/,
    );
    assertConfigInvalid(() => loadMasterKeyRing({}, { devMode: true }), /needs a data dir/);
  });
});
