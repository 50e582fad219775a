/**
 * The floor of bench:gateway: the least a Node.js data plane can do, a pass-through on
 * node:http + an undici keep-alive Pool, streaming both ways, no parsing, no auth.
 *   node --import tsx tests/bench/passthrough-proxy.ts <upstream origin>   (prints {"url":...})
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

export function startPassthroughProxy(upstream: string, port = 0) {
  const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });
  const server = createServer({ noDelay: true, keepAliveTimeout: 65_000 }, async (req, res) => {
    try {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers))
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      const answer = await pool.request({
        method: req.method as 'POST',
        path: req.url ?? '/',
        headers,
        body: req,
      });
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers))
        if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      res.writeHead(answer.statusCode, out);
      await pipeline(answer.body, res);
    } catch {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    }
  });
  return new Promise<{ url: string; close(): Promise<void> }>((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: async () => {
          server.closeAllConnections();
          await new Promise((done) => server.close(done));
          await pool.close();
        },
      }),
    ),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const proxy = await startPassthroughProxy(process.argv[2] ?? 'http://127.0.0.1:8081');
  process.stdout.write(`${JSON.stringify({ url: proxy.url })}\n`);
  process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
}
