import { newEventId } from '@kordon/events';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { authenticate, unauthenticated } from '../auth/principal.js';
import { parseIfMatch } from '../commands/execute.js';
import { AdminError, ERROR_STATUS, type FieldProblem, notFound } from '../errors.js';
import type { AdminDeps } from './deps.js';
import { resolveOrg } from './helpers.js';
import type { PassportInstance as Passport } from './passport.js';
import type { AnyRoute, RouteContext } from './route.js';

export const BASE_PATH = '/admin/v1';
export const DOCS_PATH = `${BASE_PATH}/docs`;

const EMPTY = z.strictObject({});

export function problemType(code: string): string {
  return `${DOCS_PATH}#problem-${code}`;
}

function sendProblem(res: Response, error: AdminError, instance: string, requestId: string): void {
  const { status, title } = ERROR_STATUS[error.code];
  res.status(status);
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.type('application/problem+json').send(
    JSON.stringify({
      type: problemType(error.code),
      title,
      status,
      detail: error.message,
      instance,
      code: error.code,
      requestId,
      ...(error.errors ? { errors: error.errors } : {}),
    }),
  );
}

function zodProblems(error: z.ZodError, where: string): FieldProblem[] {
  return error.issues.slice(0, 20).map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
}

function parse<S extends z.ZodType>(schema: S, input: unknown, where: 'query' | 'body'): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const errors = zodProblems(result.error, where);
    throw new AdminError('validation_failed', errors.map((e) => `${e.path}: ${e.message}`).join('; '), {
      errors,
    });
  }
  return result.data;
}

/** Compiles `/orgs/{org}/users` to a matcher of the full path (for 404 versus 405). */
function pathMatcher(path: string): RegExp {
  const pattern = path
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${BASE_PATH.replace(/\//g, '\\/')}${pattern}/?$`);
}

const JSON_TYPES = ['application/json', 'application/*+json'];

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export interface AdminAppOptions {
  routes: AnyRoute[];
  deps: AdminDeps;
  maxBodyBytes: number;
  openApi: () => object;
  docsPage: { html: string; csp: string };
  passport: Passport;
}

/**
 * The express app of the admin API. Every route: authenticate, resolve `{org}` (another
 * org's is 404, as if it did not exist), check the permission table, validate query and body
 * strictly, run the handler, and send the answer through the route's response schema. Every
 * error, including 404, 405, bad JSON and oversized bodies, is problem+json.
 */
export function createAdminApp(options: AdminAppOptions): express.Express {
  const { deps } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    res.locals.requestId = newEventId();
    res.setHeader('X-Request-Id', res.locals.requestId as string);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method) && hasBody(req) && !req.is(JSON_TYPES)) {
      next(new AdminError('unsupported_media_type', 'send the body as application/json'));
      return;
    }
    next();
  });
  app.use(express.json({ limit: options.maxBodyBytes, strict: true, type: JSON_TYPES }));
  app.use(options.passport.initialize());

  const router = express.Router({ caseSensitive: true, strict: false });
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(JSON.stringify(options.openApi()));
  });
  router.get('/docs', (_req, res) => {
    res.setHeader('Content-Security-Policy', options.docsPage.csp);
    res.type('text/html').send(options.docsPage.html);
  });

  for (const route of options.routes) {
    const expressPath = route.path.replace(/\{([^}]+)\}/g, ':$1');
    router[route.method](expressPath, (req, res, next) => {
      handle(route, req, res).catch(next);
    });
  }
  app.use(BASE_PATH, router);

  const matchers = options.routes.map((route) => ({ route, matcher: pathMatcher(route.path) }));
  matchers.push(
    { route: { method: 'get' } as AnyRoute, matcher: pathMatcher('/openapi.json') },
    { route: { method: 'get' } as AnyRoute, matcher: pathMatcher('/docs') },
  );
  app.use((req, _res, next) => {
    const path = req.path;
    const allowed = matchers.filter((m) => m.matcher.test(path)).map((m) => m.route.method.toUpperCase());
    if (allowed.length > 0) {
      const allow = [...new Set(allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed)].join(', ');
      next(
        new AdminError('method_not_allowed', `${req.method} is not allowed here; use ${allow}`, {
          headers: { Allow: allow },
        }),
      );
      return;
    }
    next(notFound(`${path}`));
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = (res.locals.requestId as string | undefined) ?? newEventId();
    const instance = req.originalUrl.split('?', 1)[0]!;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendProblem(res, toAdminError(error, deps, requestId), instance, requestId);
  });

  async function handle(route: AnyRoute, req: Request, res: Response): Promise<void> {
    const ip = deps.clientIp(req);
    const principal =
      route.access === 'public'
        ? null
        : await authenticate(req.headers.authorization, ip, {
            view: deps.view,
            keys: deps.keys,
            bootstrap: deps.bootstrap,
            now: deps.now,
          });

    // Path parameters: anything that is not a well-formed reference cannot exist (404).
    const params = route.params ? route.params.safeParse({ ...req.params }) : EMPTY.safeParse({});
    if (!params.success) throw notFound('it');
    const paramValues = params.data as Record<string, string>;
    let org = null;
    if (paramValues.org !== undefined) {
      org = resolveOrg(deps.view(), paramValues.org) ?? null;
      // Another tenant's org is answered exactly like one that does not exist.
      if (!org || (principal && principal.kind !== 'bootstrap' && principal.orgId !== org.orgId)) {
        throw notFound('org');
      }
    }
    if (route.access !== 'public' && route.access !== 'signed-in' && !principal?.rights.has(route.access)) {
      throw new AdminError('forbidden', `this needs the permission ${route.access}`);
    }
    const query = parse(route.query ?? EMPTY, { ...req.query }, 'query');
    let body: unknown;
    if (route.body) body = parse(route.body, req.body ?? {}, 'body');
    else if (req.body !== undefined && Object.keys(req.body as object).length > 0) {
      throw new AdminError('validation_failed', 'this request takes no body');
    }
    const ctx: RouteContext<unknown, unknown, unknown> = {
      params: paramValues,
      query,
      body,
      principal,
      org,
      ip,
      requestId: res.locals.requestId as string,
      ifMatch: parseIfMatch(req.get('if-match')),
      req,
      deps,
    };
    const reply = await route.handler(ctx);
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    res.status(reply.status);
    if (reply.text) {
      res.type(reply.text.contentType).send(reply.text.body);
      return;
    }
    if (reply.stream) {
      res.type(reply.stream.contentType);
      await writePieces(res, reply.stream.pieces, deps, res.locals.requestId as string);
      return;
    }
    if (reply.body === undefined) {
      res.end();
      return;
    }
    const schema = route.responses[reply.status]?.schema;
    // Responses go out through their schema: a field not declared there never leaves.
    res.type('application/json').send(JSON.stringify(schema ? schema.parse(reply.body) : reply.body));
  }

  return app;
}

/**
 * Writes a streamed answer with backpressure. A client that leaves ends the iteration (its
 * `return` stops the queries behind it); a failure part-way is logged and cuts the connection
 * (the error handler destroys a response whose head is out).
 */
async function writePieces(
  res: Response,
  pieces: AsyncIterable<string | Uint8Array>,
  deps: AdminDeps,
  requestId: string,
): Promise<void> {
  try {
    for await (const piece of pieces) {
      if (res.destroyed) return;
      if (!res.write(piece)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    res.end();
  } catch (error) {
    deps.logger.error({ err: error, requestId }, 'admin export failed part-way');
    throw error;
  }
}

interface BodyParserError {
  type?: string;
  status?: number;
}

function toAdminError(error: unknown, deps: AdminDeps, requestId: string): AdminError {
  if (error instanceof AdminError) return error;
  const parserError = error as BodyParserError;
  switch (parserError?.type) {
    case 'entity.parse.failed':
      return new AdminError('malformed_json', 'the body is not valid JSON');
    case 'entity.too.large':
      return new AdminError('payload_too_large', 'the body is larger than this API accepts');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AdminError('unsupported_media_type', 'send the body as UTF-8 application/json');
    case 'request.size.invalid':
    case 'request.aborted':
      return new AdminError('validation_failed', 'the body was not received whole');
    default:
      break;
  }
  deps.logger.error({ err: error, requestId }, 'admin request failed');
  return new AdminError('internal', `internal error (request ${requestId})`);
}

export { unauthenticated };
