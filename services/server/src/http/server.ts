import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sendJson } from './respond.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServer {
  server: Server;
  /** Requests being served right now. */
  inFlight(): number;
  /** Stops accepting, lets in-flight requests finish until the deadline, then cuts the rest. */
  drain(timeoutMs: number): Promise<void>;
}

/**
 * A lean node:http front: exact-path routes, no framework on the hot path (the data
 * plane's handlers mount here; express serves only the admin API, under its prefix).
 */
export function createHttpServer(
  routes: Record<string, Handler>,
  onError: (error: unknown) => void,
  /** Path prefix -> handler of everything under it (the admin API's express app under `/admin/`). */
  mounts: Record<string, Handler> = {},
): HttpServer {
  let inFlight = 0;
  const server = createServer((req, res) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
    });
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const handler = routes[`${req.method} ${path}`] ?? mountFor(mounts, path);
    if (!handler) {
      const allowed = Object.keys(routes).some((route) => route.endsWith(` ${path}`));
      if (allowed) sendJson(res, 405, { error: { message: `method ${req.method} not allowed on ${path}` } });
      else sendJson(res, 404, { error: { message: `no route for ${path}` } });
      return;
    }
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((error: unknown) => {
        onError(error);
        if (!res.headersSent) sendJson(res, 500, { error: { message: 'internal error' } });
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts
  server.headersTimeout = 66_000;

  return {
    server,
    inFlight: () => inFlight,
    drain: async (timeoutMs) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + timeoutMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await closed;
    },
  };
}

function mountFor(mounts: Record<string, Handler>, path: string): Handler | undefined {
  for (const prefix in mounts) if (path.startsWith(prefix)) return mounts[prefix];
  return undefined;
}
