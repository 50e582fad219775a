import type { Request } from 'express';
import type { z } from 'zod';
import type { Principal } from '../auth/principal.js';
import type { Action } from '../rbac/permissions.js';
import type { OrgView } from '../view/admin-view.js';
import type { AdminDeps } from './deps.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Who may call: an action of the permission table, any signed-in principal, or anyone (sign-in). */
export type Access = Action | 'signed-in' | 'public';

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Null only on public routes. */
  principal: Principal | null;
  /** The org named by `{org}` after the tenancy check (null on routes without it). */
  org: OrgView | null;
  ip: string;
  requestId: string;
  ifMatch: number | undefined;
  req: Request;
  deps: AdminDeps;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A non-JSON answer (CSV export). */
  text?: { contentType: string; body: string };
  /**
   * A non-JSON answer written piece by piece as the client takes it (an export of any size).
   * Once the first piece is out the status is sent: a failure after it cuts the connection,
   * so the client sees a broken transfer, never a complete-looking file.
   */
  stream?: { contentType: string; pieces: AsyncIterable<string | Uint8Array> };
}

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Other media types served at this status (e.g. text/csv), documented as strings. */
  alsoAs?: string[];
  /** Headers the answer carries at this status (in every media type), by name. */
  headers?: Record<string, { description: string; type: 'integer' | 'string' }>;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  operationId: string;
  method: Method;
  /** OpenAPI style: `/orgs/{org}/users/{user}`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /** Success responses; error responses (problem+json) are added for every route. */
  responses: Record<number, ResponseSpec>;
  handler(ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<Reply>;
}

/** A route with its types erased, as the router and the OpenAPI generator hold it. */
export interface AnyRoute {
  operationId: string;
  method: Method;
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  responses: Record<number, ResponseSpec>;
  handler(ctx: RouteContext<unknown, unknown, unknown>): Promise<Reply>;
}

export function route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  spec: RouteSpec<P, Q, B>,
): AnyRoute {
  return spec as unknown as AnyRoute;
}
