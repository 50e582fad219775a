import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { newEventId } from '@kordon/events';
import {
  continueWhenBodyIsRead,
  dialectOfHeaders,
  GatewayError,
  errorBody as gatewayErrorBody,
  InFlightList,
} from '@kordon/gateway';
import { applyCors, type CorsPolicy } from './cors.js';
import { sendJson } from './respond.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServer {
  server: Server;
  /** Requests being served right now. */
  inFlight(): number;
  /**
   * Stops accepting, lets in-flight requests finish until the deadline; then `atDeadline` may
   * end what it can cleanly (streams, with an error event), given a moment to be written, and
   * the rest is cut. Resolves once every cut request has heard its connection close.
   */
  drain(timeoutMs: number, atDeadline?: () => void): Promise<void>;
  /** The drain's deadline is now: what is still open is ended as at the deadline. */
  endDrainNow(): void;
}

/**
 * A lean node:http front: exact-path routes, no framework on the hot path (the data
 * plane's handlers mount here; express serves only the admin API, under its prefix). A route
 * `METHOD /prefix/*` takes every path under the prefix (`GET /v1/models/{model}`), looked up
 * only when no exact route matches.
 */
export function createHttpServer(
  routes: Record<string, Handler>,
  onError: (error: unknown) => void,
  /** Path prefix -> handler of everything under it (the admin API's express app under `/admin/`). */
  mounts: Record<string, Handler> = {},
  /** Which web pages may call the data plane (`/v1/...`) from a browser; undefined: none. */
  cors: CorsPolicy | undefined,
  /** How long the data plane lets a request body send no byte (KORDON_BODY_IDLE_TIMEOUT_MS). */
  timeouts: { bodyIdleTimeoutMs: number },
): HttpServer {
  /**
   * The answers being served; told to close their connection once the drain begins. A list, not
   * a Set: a response held in a long-lived Set outlived its request (in-flight-list.ts says why).
   */
  const open = new InFlightList<ServerResponse>();
  let draining = false;
  /** Set by endDrainNow: the drain stops waiting for open requests to finish by themselves. */
  let deadlineNow = false;
  const server = createServer((req, res) => {
    res.once('close', open.add(res));
    if (draining) closeConnectionAfter(res);
    const path = pathOf(req);
    // Only browsers send Origin: the SDKs' calls from servers pass by with one header lookup.
    if (cors && path.startsWith('/v1/')) {
      const origin = req.headers.origin;
      if (origin !== undefined && applyCors(cors, req, res, origin)) return;
    }
    const handler =
      routes[`${req.method} ${path}`] ??
      prefixRouteFor(routes, req.method, path) ??
      mountFor(mounts, path) ??
      // RFC 9110 section 9.3.2: HEAD is GET without the body (Node drops the body it writes).
      (req.method === 'HEAD' ? (routes[`GET ${path}`] ?? prefixRouteFor(routes, 'GET', path)) : undefined);
    if (!handler) {
      const allowed = methodsServed(routes, path);
      // RFC 9110 section 15.5.6: a 405 lists the methods the resource does serve.
      if (allowed.length > 0)
        sendError(req, res, 405, `method ${req.method} not allowed on ${path}`, {
          allow: allowed.join(', '),
        });
      else sendError(req, res, 404, `no route for ${req.method} ${path}`);
      return;
    }
    const fail = (error: unknown): void => {
      onError(error);
      if (!res.headersSent) sendError(req, res, 500, 'internal error');
      else res.destroy();
    };
    // Called at once, not from a microtask: one promise a request fewer, and no hop.
    let handled: unknown;
    try {
      handled = handler(req, res);
    } catch (error) {
      fail(error);
      return;
    }
    if (handled instanceof Promise) handled.catch(fail);
  });
  // Expect: 100-continue (curl sends it with a large upload): a /v1 body is asked for only once
  // the checks before it have passed, so a refused upload is never sent; the admin API's at once.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (pathOf(req).startsWith('/v1/')) continueWhenBodyIsRead(req, res);
    else res.writeContinue();
    server.emit('request', req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts
  server.headersTimeout = 66_000;
  server.requestTimeout = requestTimeoutFor(timeouts.bodyIdleTimeoutMs);

  return {
    server,
    inFlight: () => open.size,
    drain: async (timeoutMs, atDeadline) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Keep-alive callers (a load balancer, an SDK's pool) would send their next request on
      // a connection about to be cut: each answer still open closes its connection instead.
      draining = true;
      for (const res of open.values()) closeConnectionAfter(res);
      const until = async (deadline: number, early = () => false) => {
        while (open.size > 0 && Date.now() < deadline && !early())
          await new Promise((r) => setTimeout(r, 20));
      };
      await until(Date.now() + timeoutMs, () => deadlineNow);
      if (open.size > 0 && atDeadline) {
        atDeadline();
        await until(Date.now() + LAST_WORDS_MS);
      }
      server.closeAllConnections();
      await closed;
      // The server counts as closed once its sockets are destroyed, a moment before their
      // requests hear of it: a handler still waiting on a provider must see its caller leave
      // (a cancellation, not failed over) before the owner destroys the upstream client under
      // it, which would look like the provider's connection failing.
      await until(Date.now() + LAST_WORDS_MS);
    },
    endDrainNow: () => {
      deadlineNow = true;
    },
  };
}

/**
 * Ends the connection with this answer: `Connection: close` while its head is unsent, or
 * (a stream under way) the connection ended once the answer has been written.
 */
function closeConnectionAfter(res: ServerResponse): void {
  if (!res.headersSent) {
    res.setHeader('connection', 'close');
    return;
  }
  // Node detaches the socket from the answer as it finishes: held here for after.
  const socket = res.socket;
  res.once('finish', () => socket?.end());
}

/** How long requests ended at the drain deadline have to write their last bytes. */
const LAST_WORDS_MS = 1_000;

/**
 * Node's requestTimeout: the most a whole request (headers and body) may take to arrive; Node
 * answers a bare 408 and closes after it. The readers' idle timeout answers a stalled body
 * first, in the caller's dialect; this bounds a body that trickles a byte now and then, which
 * would hold its share of the body budget for Node's default of 5 minutes. Twice the idle
 * timeout, and 2 minutes at least (as Node's docs advise without a reverse proxy in front).
 * It ends when the request has arrived: an answer streamed for an hour is not cut by it.
 */
export function requestTimeoutFor(bodyIdleTimeoutMs: number): number {
  return Math.max(120_000, 2 * bodyIdleTimeoutMs);
}

/**
 * An error from the front itself (no such route or method, a handler that threw), in the
 * shape the caller's SDK reads (the gateway's own error shapes; the admin API and probes read
 * `error.message` of either), with a request id as the gateway's answers have: `x-request-id`,
 * and `request-id` and `request_id` for the Anthropic SDK (its errors' `_request_id`).
 */
function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  status: 404 | 405 | 500,
  message: string,
  headers: Record<string, string> = {},
): void {
  const error =
    status === 404
      ? new GatewayError('not_found', message)
      : status === 405
        ? new GatewayError('invalid_request', message, { status })
        : new GatewayError('internal', message);
  const dialect = dialectOfHeaders(req);
  const requestId = newEventId();
  const ids: Record<string, string> =
    dialect === 'anthropic'
      ? { 'x-request-id': requestId, 'request-id': requestId }
      : { 'x-request-id': requestId };
  sendJson(res, status, gatewayErrorBody(error, dialect, requestId), { ...ids, ...headers });
}

/** The methods of the routes for this path, each once, in the order the routes are listed. */
function methodsServed(routes: Record<string, Handler>, path: string): string[] {
  const methods = new Set<string>();
  for (const route in routes) if (routePath(route, path)) methods.add(route.slice(0, route.indexOf(' ')));
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods];
}

/** Whether a route (`METHOD /path` or `METHOD /prefix/*`) is for this path, whatever the method. */
function routePath(route: string, path: string): boolean {
  const routed = route.slice(route.indexOf(' ') + 1);
  return routed.endsWith('/*') ? isUnder(path, routed) : routed === path;
}

function isUnder(path: string, prefixRoute: string): boolean {
  const prefix = prefixRoute.slice(0, -1);
  return path.length > prefix.length && path.startsWith(prefix);
}

function prefixRouteFor(
  routes: Record<string, Handler>,
  method: string | undefined,
  path: string,
): Handler | undefined {
  for (const route in routes) {
    if (
      route.endsWith('/*') &&
      route.startsWith(`${method} `) &&
      isUnder(path, route.slice(route.indexOf(' ') + 1))
    )
      return routes[route];
  }
  return undefined;
}

function mountFor(mounts: Record<string, Handler>, path: string): Handler | undefined {
  for (const prefix in mounts) if (path.startsWith(prefix)) return mounts[prefix];
  return undefined;
}

/**
 * The path of a request target: origin form (`/v1/models?x=1`), or absolute form
 * (`http://host/v1/models`), which a server must accept (RFC 9112 section 3.2.2). An absolute
 * target is rewritten to origin form in `req.url`: handlers read their id and query from it
 * (`GET /v1/models/{model}`), and would take the scheme and host for part of the path.
 */
function pathOf(req: IncomingMessage): string {
  const url = req.url;
  if (url === undefined) return '/';
  if (url.charCodeAt(0) !== 0x2f /* / */ && /^https?:\/\//i.test(url)) {
    try {
      const parsed = new URL(url);
      req.url = `${parsed.pathname}${parsed.search}`;
      return parsed.pathname;
    } catch {
      return url.split('?', 1)[0]!;
    }
  }
  return url.split('?', 1)[0]!;
}
