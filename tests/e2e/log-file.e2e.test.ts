import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const logText = (dir: string) => {
  try {
    return readdirSync(dir)
      .filter((name) => name.startsWith('kordon.'))
      .map((name) => readFileSync(join(dir, name), 'utf8'))
      .join('');
  } catch {
    return '';
  }
};

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); await sleep(50))
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
}

it('a log file that fails after the start is said once on stderr, requests are still served, and its return is said', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kordon-log-file-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const logs = join(dataDir, 'logs');
  const child = spawn(process.execPath, [join(root, 'services/server/dist/cli.js'), 'start'], {
    env: {
      ...process.env,
      KORDON_PORT: '0',
      KORDON_DATA_DIR: dataDir,
      KORDON_DEV_MODE: 'true',
      KORDON_LOG_FILE: join(logs, 'kordon.log'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.resume();
  await until(() => /"msg":"kordon is ready"/.test(logText(logs)) || exitCode !== undefined, 'ready');
  const url = /"url":"(http:\/\/[^"]+)"/.exec(logText(logs))?.[1];
  assert.ok(url, `no url in the log:\n${logText(logs)}\n${stderr}`);

  // The log folder gone, a file in its place: the log file can neither be written nor made again.
  rmSync(logs, { recursive: true });
  writeFileSync(logs, 'in the way');
  await until(
    () => /cannot write the log file/.test(stderr) || exitCode !== undefined,
    'the failure on stderr',
  );
  assert.equal(exitCode, undefined, `kordon stopped:\n${stderr}`);
  assert.match(
    stderr,
    /^kordon: cannot write the log file .*logs\/kordon\.\d+\.log: .*requests are still served$/m,
  );
  // The data plane and the probes go on: a log sink is no reason to stop serving, nor to be
  // taken out of a load balancer (docs/operations.md).
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  assert.equal(
    (await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer kdn_nope' } })).status,
    401,
  );
  const failing = await (await fetch(`${url}/metrics`)).text();
  assert.match(failing, /^kordon_log_file_writable 0$/m);
  assert.match(failing, /^kordon_log_write_errors_total [1-9]\d*$/m);

  rmSync(logs);
  await until(() => /is written again/.test(stderr), 'the recovery on stderr');
  assert.match(
    stderr,
    /^kordon: the log file .*logs\/kordon\.\d+\.log is written again after \d+ s; \d+ log lines were dropped$/m,
  );
  assert.match(await (await fetch(`${url}/metrics`)).text(), /^kordon_log_file_writable 1$/m);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.equal(stderr.match(/cannot write the log file/g)?.length, 1, `said once:\n${stderr}`);
  assert.match(logText(logs), /"msg":"stopped: events flushed"/);
});
