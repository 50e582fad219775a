// `npm test`: install what is missing, lint, typecheck, then run every *.test.ts with
// node's test runner. PostgreSQL suites use KORDON_TEST_DATABASE_URL; when it is unset
// and PostgreSQL's server binaries are installed, a throwaway cluster is started here.
//   npm test                      everything
//   npm test -- --tier unit       only *.unit.test.ts (also: int, e2e)
//   npm test -- path/to/x.test.ts only those files
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ensureInstalled, root } from './bootstrap.mjs';

const args = process.argv.slice(2);
const tierIndex = args.indexOf('--tier');
const tier = tierIndex >= 0 ? args[tierIndex + 1] : undefined;
const explicit = args.filter((a, i) => a.endsWith('.ts') && (tierIndex < 0 || i !== tierIndex + 1));

ensureInstalled();

function run(label, command, commandArgs, options = {}) {
  console.log(`\n== ${label}`);
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`== ${label} failed`);
    process.exit(result.status ?? 1);
  }
}

if (explicit.length === 0) {
  run('lint (biome)', process.execPath, [join(root, 'node_modules/@biomejs/biome/bin/biome'), 'check', '.']);
  run('typecheck (tsc -b)', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b']);
}

const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', '.kordon', '.tmp']);
function findTests(dir, found = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) findTests(path, found);
    else if (entry.name.endsWith('.test.ts') && (!tier || entry.name.endsWith(`.${tier}.test.ts`)))
      found.push(path);
  }
  return found;
}
const files =
  explicit.length > 0
    ? explicit
    : ['events', 'projections', 'services', 'infra', 'tests', 'web'].flatMap((d) => {
        try {
          return findTests(join(root, d));
        } catch {
          return [];
        }
      });
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const env = { ...process.env };
let cluster;
if (!env.KORDON_TEST_DATABASE_URL) {
  const clusterScript = join(root, 'infra/postgres/cluster.sh');
  const dir = mkdtempSync(join(tmpdir(), 'kordon-test-pg-'));
  const started = spawnSync('bash', [clusterScript, 'start', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = /KORDON_TEST_DATABASE_URL=(\S+)/.exec(started.stdout ?? '')?.[1];
  if (started.status === 0 && url) {
    env.KORDON_TEST_DATABASE_URL = url;
    cluster = { script: clusterScript, dir };
    console.log(`\n== PostgreSQL for tests: ${url}`);
  } else if (env.CI) {
    console.error(`PostgreSQL is required in CI and could not be started:\n${started.stderr}`);
    process.exit(1);
  } else {
    console.warn(
      '\n== PostgreSQL not available: its suites will be skipped (install postgresql to run them)',
    );
  }
}

console.log(`\n== tests (${files.length} files)`);
// TAP to the terminal as before, and each failure to a file, printed again at the end.
const failuresDir = mkdtempSync(join(tmpdir(), 'kordon-test-failures-'));
const failuresFile = join(failuresDir, 'failures.txt');
const result = spawnSync(
  process.execPath,
  [
    '--conditions=development',
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=tap',
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts/failures-reporter.mjs')}`,
    `--test-reporter-destination=${failuresFile}`,
    ...files.map((f) => relative(root, f)),
  ],
  { cwd: root, stdio: 'inherit', env },
);
if (cluster) {
  spawnSync('bash', [cluster.script, 'stop', cluster.dir, 'immediate'], { stdio: 'ignore' });
  rmSync(cluster.dir, { recursive: true, force: true });
}
const failures = existsSync(failuresFile) ? readFileSync(failuresFile, 'utf8') : '';
if (failures.trim()) console.log(`\n== failed tests, again\n\n${failures.trimEnd()}`);
rmSync(failuresDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
