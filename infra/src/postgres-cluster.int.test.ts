import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { postgresAvailable, startPostgresCluster } from './postgres-cluster.js';

/** The pids of this machine's processes, each with its argv and parent (from /proc; no procps). */
function processes(): { pid: number; argv: string[]; ppid: number }[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return [{ pid: Number(pid), argv, ppid }];
      } catch {
        return []; // gone
      }
    });
}

/** The pids of a server's processes: the postmaster (first) and its children. */
function serverProcesses(port: number): number[] {
  const all = processes();
  const postmaster = all.find(({ argv }) => argv[0]?.endsWith('/postgres') && argv.includes(String(port)));
  assert.ok(postmaster, `no postmaster on port ${port}`);
  return [postmaster.pid, ...all.filter(({ ppid }) => ppid === postmaster.pid).map(({ pid }) => pid)];
}

/**
 * Scheduling policy (field 41 of /proc/<pid>/stat: 5 is SCHED_IDLE), or undefined for a process
 * gone since it was listed (a server's short-lived children, such as the startup process, exit).
 */
function policyOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
}

/** A process's autogroup ("/autogroup-12"), or undefined where the kernel has none. */
function autogroupOf(pid: number | 'self'): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/autogroup`, 'utf8').split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Whether the server on the URL's port accepts connections (pg_isready). */
function answers(url: string): boolean {
  const isReady = spawnSync('bash', ['-c', 'ls /usr/lib/postgresql/*/bin/pg_isready | sort -V | tail -1'], {
    encoding: 'utf8',
  }).stdout.trim();
  return spawnSync(isReady || 'pg_isready', ['-q', '-h', '127.0.0.1', '-p', new URL(url).port]).status === 0;
}

test('an idle cluster runs in this session at SCHED_IDLE, and stops and starts again so', {
  skip: !postgresAvailable() && 'PostgreSQL server binaries not installed',
}, () => {
  const cluster = startPostgresCluster({ idle: true });
  try {
    assert.ok(answers(cluster.url));
    const pids = serverProcesses(cluster.port);
    assert.ok(pids.length > 1, 'the postmaster and its background processes');
    const policies = pids.map(policyOf);
    assert.equal(policies[0], 5, 'the postmaster at SCHED_IDLE');
    for (const [i, policy] of policies.entries()) {
      if (policy !== undefined) assert.equal(policy, 5, `process ${pids[i]} at SCHED_IDLE`);
    }
    assert.equal(autogroupOf(pids[0]!), autogroupOf('self'), "the postmaster in this process's autogroup");

    cluster.stop();
    assert.ok(!answers(cluster.url));
    cluster.start();
    assert.ok(answers(cluster.url));
    assert.equal(policyOf(serverProcesses(cluster.port)[0]!), 5, 'started again at SCHED_IDLE');
  } finally {
    cluster.destroy();
  }
});

test('a cluster started as for tests runs in a session of its own at the normal policy', {
  skip: !postgresAvailable() && 'PostgreSQL server binaries not installed',
}, () => {
  const cluster = startPostgresCluster();
  try {
    const [postmaster] = serverProcesses(cluster.port);
    assert.equal(policyOf(postmaster!), 0);
    if (autogroupOf('self')) assert.notEqual(autogroupOf(postmaster!), autogroupOf('self'));
  } finally {
    cluster.destroy();
  }
});
