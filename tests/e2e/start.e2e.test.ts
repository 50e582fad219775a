import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from '@kordon/events/testing';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** npm exits at once on a signal while the server still drains: wait for the server's word. */
async function waitForOutput(started: Started, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(started.output())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in output:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs `npm start` as a user would and waits for its "ready" log line. */
async function npmStart(t: TestContext, env: Record<string, string>): Promise<Started> {
  // Its own process group, like a terminal's foreground job: Ctrl-C or `kill -TERM -<pgid>`
  // reaches npm, the start script and the server together (npm alone does not forward).
  const child = spawn('npm', ['start'], {
    cwd: root,
    env: { ...process.env, KORDON_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  // Whatever happens in the test, leave no server behind.
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kordon did not get ready:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)".*"msg":"kordon is ready"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`kordon exited with ${code}:\n${output}`)));
  });
  return { child, url, output: () => output, exited };
}

/** Runs `npm start` expecting it to refuse to start. */
async function npmStartFails(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, output };
}

describe('npm start', () => {
  it('serves /healthz and /readyz on the embedded store, and exits cleanly on SIGTERM', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kordon-start-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const kordon = await npmStart(t, { KORDON_DATA_DIR: dataDir });
    const health = await fetch(`${kordon.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${kordon.url}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { store: { adapter: string; reachable: boolean } };
    assert.deepEqual(body.store, { adapter: 'pglite', reachable: true });
    const metrics = await fetch(`${kordon.url}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /^kordon_event_store_reachable 1$/m);
    assert.match(text, /^kordon_event_spool_full 0$/m);
    assert.match(text, /^kordon_process_resident_memory_bytes \d+/m);
    assert.equal((await fetch(`${kordon.url}/nothing-here`)).status, 404);
    assert.equal((await fetch(`${kordon.url}/healthz`, { method: 'POST' })).status, 405);
    // The ready line says what the process serves beside the data plane: by default, everything.
    assert.match(kordon.output(), /"adminApi":"on","requestLog":"in-process".*"msg":"kordon is ready"/);
    // Settings only (and the tests' own KORDON_TEST_DATABASE_URL): no variable is warned about.
    assert.doesNotMatch(kordon.output(), /is not a Kordon setting/);

    process.kill(-kordon.child.pid!, 'SIGTERM');
    await waitForOutput(kordon, /"msg":"stopped: events flushed"/);
  });

  it('the kordon CLI exits 0 after SIGTERM (as under a process manager)', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kordon-start-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const child = spawn(process.execPath, [join(root, 'services/server/dist/cli.js'), 'start'], {
      env: {
        ...process.env,
        KORDON_PORT: '0',
        KORDON_DATA_DIR: dataDir,
        KORDON_DEV_MODE: 'true',
        // Misspelled: ignored, with a warning that names it and never shows its value.
        KORDON_LOG_LEVL: 'debug-hunter2',
        // The embedded store is used, not this: said, with the setting meant.
        KORDON_DATABSE_URL: 'postgres://kordon:hunter2@db.example/kordon',
        // Like no setting: named all the same.
        KORDON_FROBNICATE: 'hunter2-frob',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('kordon is ready')) resolve();
      });
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(
      out,
      /"level":40,.*"variable":"KORDON_LOG_LEVL","meant":"KORDON_LOG_LEVEL","msg":"KORDON_LOG_LEVL is not a Kordon setting and is ignored: did you mean KORDON_LOG_LEVEL\?"/,
    );
    assert.match(
      out,
      /"level":40,.*"variable":"KORDON_DATABSE_URL","meant":"KORDON_DATABASE_URL","msg":"KORDON_DATABSE_URL is not a Kordon setting and is ignored: did you mean KORDON_DATABASE_URL\?"/,
    );
    assert.match(
      out,
      /"level":40,.*"variable":"KORDON_FROBNICATE","msg":"KORDON_FROBNICATE is not a Kordon setting and is ignored"/,
    );
    assert.match(out, /"store":"pglite"/);
    assert.equal(out.match(/is not a Kordon setting/g)?.length, 3, 'only these three');
    assert.doesNotMatch(out, /hunter2/);
  });

  it('a second SIGTERM while draining ends the open requests at once, events still flushed', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kordon-start-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const child = spawn(process.execPath, [join(root, 'services/server/dist/cli.js'), 'start'], {
      env: {
        ...process.env,
        KORDON_PORT: '0',
        KORDON_DATA_DIR: dataDir,
        KORDON_DEV_MODE: 'true',
        KORDON_SHUTDOWN_TIMEOUT_MS: '120000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => child.kill('SIGKILL'));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const started: Started = { child, url: '', output: () => out, exited };
    await waitForOutput(started, /"url":"http:\/\/[^"]+".*"msg":"kordon is ready"/);
    const port = Number(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out)?.[1]);
    // A request whose body never finishes keeps the drain waiting for its whole timeout.
    const held = connect(port, '127.0.0.1');
    t.after(() => held.destroy());
    await new Promise<void>((resolve) => held.once('connect', resolve));
    // `Expect: 100-continue`: the admin API answers `100 Continue` once the request is open, a
    // sure sign it counts as in flight (a fixed wait could lose the race on a busy machine).
    const continued = new Promise<void>((resolve) => {
      let heard = '';
      held.on('data', (c: Buffer) => {
        heard += c.toString();
        if (heard.startsWith('HTTP/1.1 100 Continue')) resolve();
      });
    });
    held.write(
      'POST /admin/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n',
    );
    await continued;
    held.write('{"email":');
    child.kill('SIGTERM');
    await waitForOutput(started, /"inFlight":1,"msg":"draining"/);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(child.exitCode, null, 'the first signal waits for the open request');
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000, 'still running'))]);
    assert.equal(code, 0, 'exit 0 soon after the second signal');
    assert.match(out, /"inFlight":1,"msg":"drain cut short: requests still open are ended now"/);
    assert.match(out, /"msg":"stopped: events flushed"/);
  });

  it('a stray rejected promise stops the CLI as a signal would: drained, flushed, exit 1', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kordon-start-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    // A promise no one awaits rejects once the server is up (a bug anywhere in the process;
    // here on SIGUSR2):
    // Node's default would end it at once, the events still buffered with it.
    const stray = `process.on('SIGUSR2', () => Promise.reject(new Error('stray rejection')));`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        `data:text/javascript,${encodeURIComponent(stray)}`,
        join(root, 'services/server/dist/cli.js'),
        'start',
      ],
      {
        env: { ...process.env, KORDON_PORT: '0', KORDON_DATA_DIR: dataDir, KORDON_DEV_MODE: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    t.after(() => child.kill('SIGKILL'));
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!output.includes('kordon is ready') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(output, /"msg":"kordon is ready"/);
    child.kill('SIGUSR2');
    assert.equal(await exited, 1, output);
    assert.match(output, /stray rejection.*"msg":"unhandled promise rejection: stopping"/);
    assert.match(output, /"msg":"stopped: events flushed"/);
  });

  it('a log file that cannot be written refuses the start, naming KORDON_LOG_FILE on stderr', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kordon-start-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    // Its folder would be under a file: the log's worker cannot create it.
    writeFileSync(join(dataDir, 'not-a-folder'), '');
    const child = spawn(process.execPath, [join(root, 'services/server/dist/cli.js'), 'start'], {
      env: {
        ...process.env,
        KORDON_PORT: '0',
        KORDON_DATA_DIR: dataDir,
        KORDON_DEV_MODE: 'true',
        KORDON_LOG_FILE: join(dataDir, 'not-a-folder', 'logs', 'kordon.log'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    assert.equal(await exited, 1);
    assert.match(stderr, /kordon: failed to start: KORDON_LOG_FILE: .*ENOTDIR/);
  });

  it('uses PostgreSQL when KORDON_DATABASE_URL is set', async (t) => {
    const database = await createTestDatabase();
    if (!database) return t.skip('KORDON_TEST_DATABASE_URL is not set');
    const dataDir = mkdtempSync(join(tmpdir(), 'kordon-start-'));
    t.after(async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
    });
    const kordon = await npmStart(t, { KORDON_DATA_DIR: dataDir, KORDON_DATABASE_URL: database.url });
    const body = (await (await fetch(`${kordon.url}/readyz`)).json()) as { store: { adapter: string } };
    assert.equal(body.store.adapter, 'postgres');
    process.kill(-kordon.child.pid!, 'SIGTERM');
    await waitForOutput(kordon, /"msg":"stopped: events flushed"/);
  });

  it('refuses a bad setting with a message that names the variable and hides credentials', async () => {
    const port = await npmStartFails({ KORDON_PORT: 'eighty' });
    assert.notEqual(port.code, 0);
    assert.match(port.output, /KORDON_PORT: expected a whole number from 0 to 65535 \(got "eighty"\)/);

    const url = await npmStartFails({
      KORDON_PORT: '0',
      KORDON_DATABASE_URL: 'mysql://admin:hunter2@db/kordon',
    });
    assert.notEqual(url.code, 0);
    assert.match(url.output, /KORDON_DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    assert.doesNotMatch(url.output, /hunter2/);

    const level = await npmStartFails({ KORDON_PORT: '0', KORDON_LOG_LEVEL: 'loud' });
    assert.match(level.output, /KORDON_LOG_LEVEL: /);

    // Outside dev mode, no master key means no start (provider keys could not be stored).
    const dataDir = mkdtempSync(join(tmpdir(), 'kordon-start-'));
    const noKey = await npmStartFails({
      KORDON_PORT: '0',
      KORDON_DEV_MODE: 'false',
      KORDON_DATA_DIR: dataDir,
    });
    rmSync(dataDir, { recursive: true, force: true });
    assert.notEqual(noKey.code, 0);
    assert.match(noKey.output, /KORDON_MASTER_KEY is not set/);
  });

  it('a port it cannot listen on refuses the start naming the settings, in the log file too', async (t) => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    t.after(() => taken.close());
    const { port } = taken.address() as AddressInfo;
    const dataDir = mkdtempSync(join(tmpdir(), 'kordon-start-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const logFile = join(dataDir, 'kordon.log');
    const failed = await npmStartFails({
      KORDON_PORT: String(port),
      KORDON_DEV_MODE: 'true',
      KORDON_DATA_DIR: dataDir,
      KORDON_LOG_FILE: logFile,
    });
    assert.equal(failed.code, 1);
    const refusal = new RegExp(
      `cannot listen on 127\\.0\\.0\\.1 port ${port} \\(KORDON_HOST, KORDON_PORT\\): listen EADDRINUSE`,
    );
    assert.match(failed.output, refusal);
    // The log file holds it as well, written out before the process exited (pino-roll numbers
    // the file: kordon.1.log).
    const logged = readFileSync(join(dataDir, 'kordon.1.log'), 'utf8');
    assert.match(logged, /"level":60,.*"msg":"failed to start"/);
    assert.match(logged, refusal);
  });
});
