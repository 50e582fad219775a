// `npm start`: install what is missing, build, then run the kordon CLI in a child
// process, forwarding SIGTERM/SIGINT so that it can drain and flush before exit.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureInstalled, root } from './bootstrap.mjs';

ensureInstalled();
const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-b', join(root, 'services/server')],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// `npm start` is the local, try-it-out way to run Kordon: dev mode (generated secrets in
// the data folder, with a loud warning) unless the caller says otherwise. Production runs
// `kordon start` (services/server/dist/cli.js) with real secrets; see docs/operations.md.
const cli = join(root, 'services/server/dist/cli.js');
// The V8 and malloc settings of docs/operations.md, unless NODE_OPTIONS or the environment sets its own.
const { availableCpus, kordonNodeFlags, kordonNodeEnv } = await import(
  join(root, 'services/server/dist/node-flags.js')
);
const env = {
  ...process.env,
  ...kordonNodeEnv(process.env),
  KORDON_DEV_MODE: process.env.KORDON_DEV_MODE ?? 'true',
};
// The child runs where this process may: its CPUs (affinity, container quota) are ours.
const nodeFlags = kordonNodeFlags(process.env.NODE_OPTIONS, [], {
  postgres: Boolean(process.env.KORDON_DATABASE_URL),
  cpus: availableCpus(),
});
const child = spawn(process.execPath, [...nodeFlags, '--enable-source-maps', cli, ...process.argv.slice(2)], {
  cwd: process.cwd(),
  stdio: 'inherit',
  env,
});
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
