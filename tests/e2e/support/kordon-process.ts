import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
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
 * added, and waits until it logs "kordon is ready". It listens on a port of its own choosing
 * (KORDON_PORT=0), read from that line: a port picked here and handed over could be taken by
 * another process before the child binds it. The child logs at info (the ready line is an
 * info line) or at a finer KORDON_LOG_LEVEL; its last lines are in the error when it does not
 * get ready. `nodeArgs` go to Node before the script.
 */
export async function startKordonProcess(options: {
  config: string;
  env: Record<string, string>;
  nodeArgs?: string[];
}): Promise<KordonProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kordon-process-'));
  writeFileSync(join(dataDir, 'kordon.yaml'), options.config);
  const asked = options.env.KORDON_LOG_LEVEL;
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
        ...options.env,
        KORDON_LOG_LEVEL: asked === 'debug' || asked === 'trace' ? asked : 'info',
        KORDON_PORT: '0',
        KORDON_HOST: '127.0.0.1',
        KORDON_DATA_DIR: dataDir,
        KORDON_CONFIG: join(dataDir, 'kordon.yaml'),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let resolveUrl: (url: string) => void = () => {};
  const readyUrl = new Promise<string>((resolve) => {
    resolveUrl = resolve;
  });
  // Read to the end (a child whose stdout is not drained blocks on its writes).
  const lastLines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lastLines.push(line);
    if (lastLines.length > 40) lastLines.shift();
    if (!line.includes('kordon is ready')) return;
    try {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'kordon is ready' && typeof entry.url === 'string') resolveUrl(entry.url);
    } catch {
      // not a log line of Kordon's: the ready line is JSON
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const code = await exited;
    rmSync(dataDir, { recursive: true, force: true });
    return code;
  };
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    readyUrl.then((url) => ({ url })),
    exited.then((code) => ({ exitedWith: code })),
    new Promise<{ timedOut: true }>((resolve) => {
      timer = setTimeout(() => resolve({ timedOut: true }), 30_000);
    }),
  ]);
  clearTimeout(timer);
  if ('url' in outcome) {
    const url = outcome.url;
    return { url, dataDir, child, proxyKeys: () => issuedProxyKeys(dataDir), stop };
  }
  await stop();
  const log = lastLines.join('\n');
  if ('exitedWith' in outcome)
    throw new Error(`kordon exited with ${outcome.exitedWith} before it was ready; its last lines:\n${log}`);
  throw new Error(`kordon did not become ready in 30 s; its last lines:\n${log}`);
}
