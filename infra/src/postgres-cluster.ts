import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'postgres', 'cluster.sh');

export interface PostgresCluster {
  url: string;
  port: number;
  /** Stops the server: `immediate` is a crash as far as clients can tell. */
  stop(mode?: 'fast' | 'immediate'): void;
  /** Starts it again on the same port and data. */
  start(): void;
  destroy(): void;
}

function run(args: string[], env?: NodeJS.ProcessEnv): string {
  const result = spawnSync('bash', [script, ...args], {
    encoding: 'utf8',
    env: env ? { ...process.env, ...env } : undefined,
  });
  if (result.status !== 0) throw new Error(`cluster.sh ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** Whether PostgreSQL's server binaries are installed here (`cluster.sh install` adds them). */
export function postgresAvailable(): boolean {
  const result = spawnSync('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin/initdb || command -v pg_config'], {
    encoding: 'utf8',
  });
  return result.status === 0;
}

export interface PostgresClusterOptions {
  /** Environment of the server's processes besides this one's (e.g. LOCPATH for its locales). */
  env?: NodeJS.ProcessEnv;
  /**
   * Run the server in this process's session at SCHED_IDLE (`cluster.sh start-idle`): for
   * benchmarks, where it shares a core with the load generator and must take only its spare time.
   * Its children (each backend) call setsid(), so each is an autogroup of its own, which the
   * caller must also weigh down (bench:gateway's `keepPostgresSessionsLow`).
   */
  idle?: boolean;
}

/** A private PostgreSQL server for a test that needs to stop and start it. */
export function startPostgresCluster(options: PostgresClusterOptions = {}): PostgresCluster {
  const dir = mkdtempSync(join(tmpdir(), 'kordon-pg-'));
  const start = options.idle ? 'start-idle' : 'start';
  const out = run([start, dir], options.env);
  const url = /KORDON_TEST_DATABASE_URL=(\S+)/.exec(out)?.[1];
  if (!url) throw new Error(`cluster.sh start printed no URL: ${out}`);
  const port = Number(new URL(url).port);
  return {
    url,
    port,
    stop: (mode = 'fast') => {
      run(['stop', dir, mode]);
    },
    start: () => {
      run([start, dir, String(port)], options.env);
    },
    destroy: () => {
      spawnSync('bash', [script, 'stop', dir, 'immediate'], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
