import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { issuedProxyKeys } from './issued-proxy-keys.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A Kordon started as its own process (the CLI, from source), as a replica runs in production. */
export interface KordonProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  /** Issued proxy keys by the file name's `<email>--<key name>` part. */
  proxyKeys(): Map<string, string>;
  /** SIGTERM, then waits for the exit (its code) and removes the data folder. */
  stop(): Promise<number | null>;
}

/**
 * Starts `kordon start` in a child process with `config` (YAML) as KORDON_CONFIG and `env`
 * added, and waits until /readyz answers 200. `nodeArgs` go to Node before the script.
 */
export async function startKordonProcess(options: {
  config: string;
  env: Record<string, string>;
  nodeArgs?: string[];
}): Promise<KordonProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kordon-process-'));
  writeFileSync(join(dataDir, 'kordon.yaml'), options.config);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      '--conditions=development',
      '--import',
      'tsx',
      'services/server/src/cli.ts',
      'start',
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        KORDON_LOG_LEVEL: 'warn',
        ...options.env,
        KORDON_PORT: String(port),
        KORDON_HOST: '127.0.0.1',
        KORDON_DATA_DIR: dataDir,
        KORDON_CONFIG: join(dataDir, 'kordon.yaml'),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const code = await exited;
    rmSync(dataDir, { recursive: true, force: true });
    return code;
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`kordon exited with ${child.exitCode} before it was ready`);
    }
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, dataDir, child, proxyKeys: () => issuedProxyKeys(dataDir), stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error('kordon did not become ready');
}
