import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPgliteEventStore, LOCK_FILE } from '@kordon/events';
import { startOpenAIMock } from '@kordon/mock-providers';
import { issuedProxyKeys } from './support/issued-proxy-keys.js';

const OPENAI_KEY = 'sk-data-folder-lock-1';

const config = (openaiUrl: string) => `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiUrl}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Child {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `kordon start` (the built CLI) as its own process on the embedded store in `dataDir`. */
function spawnKordon(dataDir: string): Child {
  const child = spawn(process.execPath, [join(root, 'services/server/dist/cli.js'), 'start'], {
    env: {
      ...process.env,
      KORDON_PORT: '0',
      KORDON_HOST: '127.0.0.1',
      KORDON_DATA_DIR: dataDir,
      KORDON_DEV_MODE: 'true',
      KORDON_CONFIG: join(dataDir, 'kordon.yaml'),
      KORDON_LOG_LEVEL: 'info',
      OPENAI_KEY,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Its URL once it logs "kordon is ready". */
async function ready(c: Child): Promise<string> {
  const deadline = Date.now() + 90_000;
  let exited = false;
  void c.exited.then(() => {
    exited = true;
  });
  for (;;) {
    const match = /"url":"(http:\/\/[^"]+)".*"msg":"kordon is ready"/.exec(c.output());
    if (match) return match[1]!;
    if (exited || Date.now() > deadline) throw new Error(`kordon did not get ready:\n${c.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function storedRequests(dataDir: string): Promise<number> {
  const store = await createPgliteEventStore(join(dataDir, 'pglite'));
  try {
    const { rows } = await store.sql.query<{ n: string | number }>(
      "SELECT count(*) AS n FROM kordon_events WHERE type = 'RequestCompleted'",
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await store.close();
  }
}

const issuedKey = (dataDir: string) => {
  const key = issuedProxyKeys(dataDir).get('dev@acme.test--laptop');
  assert.ok(key, 'the first start issued the key');
  return key;
};

const chat = async (url: string, key: string): Promise<number> => {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
  });
  await response.arrayBuffer();
  return response.status;
};

it('a second Kordon on the same embedded data folder is refused, naming the first; the first loses nothing', async (t) => {
  const mock = await startOpenAIMock({ keys: [OPENAI_KEY] });
  const dataDir = mkdtempSync(join(tmpdir(), 'kordon-two-'));
  writeFileSync(join(dataDir, 'kordon.yaml'), config(mock.url));
  const children: Child[] = [];
  t.after(async () => {
    for (const c of children) c.child.kill('SIGKILL');
    await mock.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const first = spawnKordon(dataDir);
  children.push(first);
  const url = await ready(first);
  const key = issuedKey(dataDir);

  // A deploy that starts the new process before the old one is gone, a second `kordon start`
  // by mistake: PGlite has no postmaster.pid of its own, each process would keep its own copy.
  const second = spawnKordon(dataDir);
  children.push(second);
  const refused = await Promise.race([
    second.exited,
    ready(second).then(
      () => 'ready',
      () => second.exited,
    ),
  ]);
  assert.equal(refused, 1, 'the second process refuses to start');
  assert.match(second.output(), /in use by another process \(pid \d+/);
  assert.ok(second.output().includes(`pid ${first.child.pid}`), second.output());

  let answered = 0;
  for (let i = 0; i < 10; i++) if ((await chat(url, key)) === 200) answered++;
  assert.equal(answered, 10);
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);
  assert.equal(existsSync(join(dataDir, 'pglite', LOCK_FILE)), false, 'a clean stop releases the folder');
  assert.equal(await storedRequests(dataDir), answered, 'every answered request is recorded');
});

it('a lock left by a killed Kordon is stale: the next start takes the folder over', async (t) => {
  const mock = await startOpenAIMock({ keys: [OPENAI_KEY] });
  const dataDir = mkdtempSync(join(tmpdir(), 'kordon-stale-'));
  writeFileSync(join(dataDir, 'kordon.yaml'), config(mock.url));
  const children: Child[] = [];
  t.after(async () => {
    for (const c of children) c.child.kill('SIGKILL');
    await mock.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const killed = spawnKordon(dataDir);
  children.push(killed);
  await ready(killed);
  killed.child.kill('SIGKILL'); // OOM killer, `docker kill`: the lock file stays
  await killed.exited;
  assert.equal(existsSync(join(dataDir, 'pglite', LOCK_FILE)), true);

  const next = spawnKordon(dataDir);
  children.push(next);
  const url = await ready(next);
  assert.equal(await chat(url, issuedKey(dataDir)), 200);
  next.child.kill('SIGTERM');
  assert.equal(await next.exited, 0);
});
