// Makes a fresh clone runnable with nothing but Node.js 20 and npm: installs the
// workspace with the pinned pnpm (through npx, since corepack is not available
// everywhere) when node_modules is missing or older than the lockfile.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM = 'pnpm@12.4.2';

function needsInstall() {
  const marker = join(root, 'node_modules', '.modules.yaml');
  if (!existsSync(marker)) return true;
  const lock = join(root, 'pnpm-lock.yaml');
  return existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs;
}

export function ensureInstalled() {
  if (!needsInstall()) return;
  const frozen = existsSync(join(root, 'pnpm-lock.yaml')) ? ['--frozen-lockfile'] : [];
  console.error(`[kordon] installing dependencies with ${PNPM} ...`);
  const result = spawnSync('npx', ['-y', PNPM, 'install', ...frozen], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('[kordon] dependency install failed');
    process.exit(result.status ?? 1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) ensureInstalled();
