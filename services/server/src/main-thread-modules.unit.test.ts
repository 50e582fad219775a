import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import test from 'node:test';

// The log file's writer runs in pino's worker thread; its dependencies (pino-roll, and with it
// all of date-fns) must not load into the server's own heap, where they took 2-3 MB for nothing.
test("the server's modules do not load the log file writer's dependencies", () => {
  const server = new URL('./kordon.ts', import.meta.url).href;
  const script = `
    await import(${JSON.stringify(server)});
    const { createRequire } = await import('node:module');
    const loaded = Object.keys(createRequire(process.cwd() + '/').cache);
    process.stdout.write(JSON.stringify({
      modules: loaded.length,
      writer: loaded.filter((path) => /[\\\\/](pino-roll|date-fns)[\\\\/]/.test(path)),
    }));`;
  const run = spawnSync(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: new URL('..', import.meta.url), encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  const { modules, writer } = JSON.parse(run.stdout) as { modules: number; writer: string[] };
  // CommonJS dependencies (pino, pg, undici...) did load: the check looks where pino-roll would be.
  assert.ok(modules > 20, `only ${modules} CommonJS modules loaded`);
  assert.deepEqual(writer, []);
});
