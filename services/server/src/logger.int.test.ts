import assert from 'node:assert/strict';
import { type EventEmitter, once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CORPUS_PROMPT, SAMPLES } from '@kordon/redaction/testing';
import pino, { type Logger } from 'pino';
import { loadConfig } from './config.js';
import { closeLogger, createLogger, logFileStatus, logReady } from './logger.js';

const SECRET = 'c2VydmVyIHNlY3JldCBmb3IgbG9nIHRlc3RzIDEyMzQ1Njc4';

function logDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kordon-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every log file in the folder, parsed line by line. */
const logFiles = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.startsWith('kordon.'))
    .sort();

function readLogs(dir: string): { files: string[]; text: string; lines: Array<Record<string, unknown>> } {
  const files = logFiles(dir);
  const text = files.map((name) => readFileSync(join(dir, name), 'utf8')).join('');
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { files, text, lines };
}

/** The log file's worker has started (lines written before wait in its buffer, in one chunk). */
async function workerReady(logger: Logger): Promise<void> {
  const stream = (logger as unknown as Record<symbol, EventEmitter>)[pino.symbols.streamSym]!;
  await once(stream, 'ready');
}

describe('file logs', () => {
  it('pass every line through the redaction engine: no sample secret reaches the file', async (t) => {
    const dir = logDir(t);
    const config = loadConfig({
      KORDON_LOG_FILE: join(dir, 'kordon.log'),
      KORDON_LOG_LEVEL: 'info',
      KORDON_PROXY_KEY_SECRET: SECRET,
    });
    const logger = createLogger(config);
    const error = new Error(`upstream refused ${SAMPLES.map((s) => s.text).join(' / ')}`);
    // Secrets everywhere a line can carry them: message, interpolation, fields, nested
    // objects, arrays, keys of sensitive names, errors (message, stack, cause), child bindings.
    const child = logger.child({ component: 'gateway', leaked: SAMPLES[0]!.text });
    for (const sample of SAMPLES) {
      child.info(
        { sample: sample.detector, prompt: sample.text, nested: { deep: [sample.text] } },
        sample.text,
      );
      child.warn('interpolated %s here', sample.text);
    }
    child.error(
      { err: new Error('wrapped', { cause: error }), body: { messages: [{ content: CORPUS_PROMPT }] } },
      'failed',
    );
    child.error(error);
    logger.info(
      {
        headers: { authorization: `Bearer ${SAMPLES[15]!.secret}`, 'x-api-key': SAMPLES[1]!.secret },
        config: { databaseUrl: SAMPLES[17]!.text },
        apiKey: 'anything-at-all-is-secret-here',
      },
      'request',
    );
    await closeLogger(logger);

    const { text, lines } = readLogs(dir);
    assert.equal(lines.length, SAMPLES.length * 2 + 3, 'every line is in the file');
    for (const sample of SAMPLES) {
      assert.ok(!text.includes(sample.secret), `${sample.detector}: its secret reached the log file`);
    }
    assert.ok(!text.includes('anything-at-all-is-secret-here'), 'sensitive key names are redacted whole');
    assert.ok(!text.includes('ivan.petrov@example.ru'));
    // Still useful: markers say what was there, fields and levels survive.
    const first = lines[0]!;
    assert.equal(first.level, 30);
    assert.equal(first.component, 'gateway');
    assert.equal(first.sample, SAMPLES[0]!.detector);
    assert.match(String(first.msg), /\[REDACTED:anthropic_key …/);
    const failed = lines.find((line) => line.msg === 'failed')!;
    assert.equal((failed.err as { type: string }).type, 'Error', 'errors keep their shape');
    assert.match(JSON.stringify(failed.err), /REDACTED/);
    const hashed = lines.find((line) => line.sample === 'email')!;
    assert.match(String(hashed.prompt), /^\[email:hmac:[0-9a-f]{12}\]$/);
  });

  it('rotate by size and keep only KORDON_LOG_KEEP rotated files', async (t) => {
    const dir = logDir(t);
    const config = loadConfig({
      KORDON_LOG_FILE: join(dir, 'kordon.log'),
      KORDON_LOG_ROTATE_SIZE: '2k',
      KORDON_LOG_KEEP: '2',
    });
    const logger = createLogger(config);
    await workerReady(logger);
    for (let i = 0; i < 120; i++) {
      logger.info({ i, filler: 'x'.repeat(100) }, 'line');
      if (i % 20 === 19) await sleep(50); // let the worker write and roll between bursts
    }
    // Older files are deleted just after a roll, by the worker in its own time: a fixed wait
    // could end before it on a busy machine.
    for (const deadline = Date.now() + 10_000; logFiles(dir).length > 3 && Date.now() < deadline; )
      await sleep(50);
    await closeLogger(logger);
    const { files, lines } = readLogs(dir);
    assert.ok(files.length <= 3, `the current file and 2 rotated ones at most: ${files}`);
    assert.ok(files.length >= 2, `rotated: ${files}`);
    assert.ok(
      files.every((name) => /^kordon\.\d+\.log$/.test(name)),
      String(files),
    );
    const numbers = lines.map((line) => Number(line.i));
    assert.equal(numbers.at(-1), 119, 'the newest lines are kept');
    assert.ok(numbers.length < 120, 'the oldest files were deleted');
  });

  it('rotate by time', async (t) => {
    const dir = logDir(t);
    const config = loadConfig({
      KORDON_LOG_FILE: join(dir, 'kordon.log'),
      KORDON_LOG_ROTATE_INTERVAL: '1000',
    });
    const logger = createLogger(config);
    logger.info('before');
    // The roll happens on a timer at the interval's end: wait for the new file rather than a
    // fixed time (a loaded machine runs the timer late).
    const deadline = Date.now() + 15_000;
    const logFiles = () => readdirSync(dir).filter((name) => name.startsWith('kordon.')).length;
    while (logFiles() < 2 && Date.now() < deadline) await sleep(50);
    logger.info('after');
    await closeLogger(logger);
    const { files, lines } = readLogs(dir);
    assert.ok(files.length >= 2, `a new file after the interval: ${files}`);
    assert.deepEqual(
      lines.map((line) => line.msg),
      ['before', 'after'],
    );
  });

  /** A logger on `dir/logs/kordon.log` retrying every 100 ms, its stderr captured. */
  async function failingLogger(dir: string) {
    const said: string[] = [];
    const config = loadConfig({ KORDON_LOG_FILE: join(dir, 'logs', 'kordon.log') });
    const logger = createLogger({
      ...config,
      logFileRetryMs: 100,
      stderr: { write: (line) => said.push(String(line)) > 0 },
    });
    await logReady(logger, config.logFile?.path);
    return { logger, said };
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    for (const deadline = Date.now() + 10_000; !condition(); await sleep(20))
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }

  it('a log file that fails after the start is said on stderr once, logging goes on, and its return is said', async (t) => {
    const dir = logDir(t);
    const { logger, said } = await failingLogger(dir);
    logger.info('before');
    await sleep(100);
    // The folder gone and a file in its place: the file can neither be written nor made again.
    rmSync(join(dir, 'logs'), { recursive: true });
    writeFileSync(join(dir, 'logs'), 'in the way');
    await until(() => said.length > 0, 'the failure on stderr');
    for (let i = 0; i < 50; i++) {
      logger.info({ i }, 'while failing'); // never throws, never stops the process
      await sleep(10);
    }
    await sleep(500); // several failed retries
    assert.equal(said.length, 1, `said once, not once a line or a retry: ${said}`);
    assert.match(
      said[0]!,
      /^kordon: cannot write the log file .*logs\/kordon\.\d+\.log: .*requests are still served\n$/,
    );
    const failing = logFileStatus(logger)!;
    assert.equal(failing.writable, false);
    assert.ok(failing.writeErrors >= 2, `the retries count as errors: ${failing.writeErrors}`);

    rmSync(join(dir, 'logs'));
    await until(() => said.length > 1, 'the recovery on stderr');
    assert.equal(said.length, 2, String(said));
    assert.match(
      said[1]!,
      /^kordon: the log file .*logs\/kordon\.\d+\.log is written again after \d+ s; (\d+) log lines were dropped\n$/,
    );
    assert.ok(Number(/(\d+) log lines/.exec(said[1]!)?.[1]) >= 50, said[1]);
    logger.info('after');
    await closeLogger(logger);
    const status = logFileStatus(logger)!;
    assert.equal(status.writable, true);
    assert.ok(status.droppedLines >= 50);
    const { lines } = readLogs(join(dir, 'logs'));
    assert.ok(
      lines.some((line) => line.msg === 'after'),
      'lines are written again',
    );
  });

  it('a log folder removed while open is made again, and the loss said on stderr', async (t) => {
    const dir = logDir(t);
    const { logger, said } = await failingLogger(dir);
    logger.info('before');
    await sleep(100);
    rmSync(join(dir, 'logs'), { recursive: true });
    await until(() => said.length >= 2, 'the removal and the reopen on stderr');
    assert.match(said[0]!, /^kordon: cannot write the log file .*was removed while open/);
    assert.match(said[1]!, /is written again/);
    logger.info('after');
    await closeLogger(logger);
    assert.equal(said.length, 2, String(said));
    const { lines } = readLogs(join(dir, 'logs'));
    assert.deepEqual(
      lines.map((line) => line.msg),
      ['after'],
    );
  });

  it("should the file's writer itself end, logging goes on to stderr instead of throwing", async (t) => {
    const dir = logDir(t);
    const { logger, said } = await failingLogger(dir);
    const child = logger.child({ component: 'gateway' });
    const stream = (logger as unknown as Record<symbol, { worker: { terminate(): Promise<number> } }>)[
      pino.symbols.streamSym
    ]!;
    await stream.worker.terminate();
    await until(() => said.length > 0, 'the writer stopping on stderr');
    child.info('after'); // threw "the worker has exited" at every call
    await closeLogger(logger);
    assert.match(
      said[0]!,
      /^kordon: the log file's writer stopped \(.*\); log lines go to stderr from now on\n$/,
    );
    assert.match(said[1]!, /"component":"gateway","msg":"after"/);
    assert.equal(logFileStatus(logger)?.writable, false);
  });

  it('configuration: defaults, stdout without a file, and bad values named', () => {
    const config = loadConfig({}, '/srv');
    assert.equal(config.logFile, undefined);
    assert.equal(config.retentionIntervalMs, 3_600_000);
    const file = loadConfig({ KORDON_LOG_FILE: 'logs/kordon.log' }, '/srv').logFile;
    assert.deepEqual(file, {
      path: '/srv/logs/kordon.log',
      rotateSize: '100m',
      rotateInterval: 'daily',
      keep: 14,
    });
    assert.throws(
      () =>
        loadConfig({
          KORDON_LOG_ROTATE_SIZE: 'big',
          KORDON_LOG_ROTATE_INTERVAL: 'weekly',
          KORDON_LOG_KEEP: '0',
          KORDON_RETENTION_INTERVAL_MS: '5',
        }),
      (error: Error) =>
        /KORDON_LOG_ROTATE_SIZE: expected a size/.test(error.message) &&
        /KORDON_LOG_ROTATE_INTERVAL: expected daily, hourly/.test(error.message) &&
        /KORDON_LOG_KEEP: expected at least 1/.test(error.message) &&
        /KORDON_RETENTION_INTERVAL_MS: expected at least 1000/.test(error.message),
    );
    // A size of 0 would start a new file at every line.
    for (const zero of ['0m', '0k', '000g'])
      assert.throws(
        () => loadConfig({ KORDON_LOG_ROTATE_SIZE: zero }),
        /KORDON_LOG_ROTATE_SIZE: expected a size like 500k, 100m or 1g \(more than 0\)/,
      );
    assert.equal(
      loadConfig({ KORDON_LOG_FILE: 'k.log', KORDON_LOG_ROTATE_SIZE: '10K' }).logFile?.rotateSize,
      '10k',
    );
  });
});
