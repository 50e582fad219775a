import { z } from 'zod';
import { AUDITED_TYPES } from '../audit/audit-projection.js';
import { ERROR_STATUS } from '../errors.js';
import { BASE_PATH, problemType } from './app.js';
import type { AnyRoute } from './route.js';
import { Problem } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/**
 * Converts a zod schema to JSON Schema 2020-12 (the dialect of OpenAPI 3.1); named schemas
 * (`.meta({ id })`) are hoisted into components.
 */
function converter(components: Record<string, JsonSchema>) {
  return (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const json = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'any',
    }) as JsonSchema;
    const { $schema: _dialect, $defs, ...rest } = json as JsonSchema & { $defs?: Record<string, JsonSchema> };
    const rewrite = (value: JsonSchema) =>
      JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema;
    for (const [name, def] of Object.entries($defs ?? {})) components[name] ??= rewrite(def);
    const root = rewrite(rest);
    // A named root schema: reference it from components too.
    const id = (root as { id?: unknown }).id;
    if (typeof id === 'string') {
      const { id: _id, ...body } = root;
      components[id] ??= body;
      return { $ref: `#/components/schemas/${id}` };
    }
    return root;
  };
}

function objectShape(schema: z.ZodType | undefined): Record<string, z.ZodType> {
  return schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : {};
}

const ERROR_RESPONSES: Record<string, number[]> = {
  public: [400, 401, 413, 415, 429],
  signedIn: [400, 401, 403, 404, 409, 412, 413, 415],
};

export function openApiDocument(routes: AnyRoute[], version: string): JsonSchema {
  const components: Record<string, JsonSchema> = {};
  const toSchema = converter(components);
  toSchema(Problem, 'output');
  const problemRef = { $ref: '#/components/schemas/Problem' };
  const paths: Record<string, Record<string, unknown>> = {};

  for (const route of routes) {
    const parameters = [
      ...Object.entries(objectShape(route.params)).map(([name, schema]) => ({
        name,
        in: 'path',
        required: true,
        description: name === 'org' ? 'The org slug or id' : `The ${name} id`,
        schema: toSchema(schema, 'input'),
      })),
      ...Object.entries(objectShape(route.query)).map(([name, schema]) => ({
        name,
        in: 'query',
        required: !schema.safeParse(undefined).success,
        ...(schema.description ? { description: schema.description } : {}),
        schema: toSchema(schema, 'input'),
      })),
    ];
    if (route.access !== 'public' && route.method !== 'get' && route.method !== 'post') {
      parameters.push({
        name: 'If-Match',
        in: 'header',
        required: false,
        description: 'The ETag you read; 412 when it changed since.',
        schema: { type: 'string' },
      });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const content: Record<string, unknown> = {};
      if (spec.schema) content['application/json'] = { schema: toSchema(spec.schema, 'output') };
      for (const type of spec.alsoAs ?? []) content[type] = { schema: { type: 'string' } };
      const headers = Object.entries(spec.headers ?? {}).map(([name, header]) => [
        name,
        { description: header.description, schema: { type: header.type } },
      ]);
      responses[status] = {
        description: spec.description,
        ...(headers.length > 0 ? { headers: Object.fromEntries(headers) } : {}),
        ...(Object.keys(content).length > 0 ? { content } : {}),
      };
    }
    for (const status of ERROR_RESPONSES[route.access === 'public' ? 'public' : 'signedIn']!) {
      const title = Object.values(ERROR_STATUS).find((e) => e.status === status)?.title ?? 'Problem';
      responses[String(status)] = {
        description: title,
        content: { 'application/problem+json': { schema: problemRef } },
      };
    }
    responses.default = {
      description: 'Any other problem',
      content: { 'application/problem+json': { schema: problemRef } },
    };
    const access =
      route.access === 'public'
        ? 'No authentication.'
        : route.access === 'signed-in'
          ? 'Any signed-in caller.'
          : `Needs the permission \`${route.access}\` (see the permission table).`;
    paths[route.path] ??= {};
    paths[route.path]![route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      description: [route.description, access].filter(Boolean).join('\n\n'),
      tags: [route.tag],
      ...(route.access === 'public' ? { security: [] } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: toSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Kordon admin API',
      version,
      description:
        'The control plane of Kordon: tenancy, roles, sign-in, provider keys, proxy keys, machine tokens and the audit log. Every change is an event with its actor. Errors are RFC 9457 problem+json; lists are cursor-paginated.',
    },
    servers: [{ url: BASE_PATH }],
    security: [{ bearer: [] }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An access token from /auth/login (JWT, 15 minutes), a machine token (`kat_...`), or the bootstrap owner token (KORDON_ADMIN_TOKEN).',
        },
      },
    },
    'x-problem-types': Object.fromEntries(
      Object.entries(ERROR_STATUS).map(([code, { status, title }]) => [
        code,
        { type: problemType(code), status, title },
      ]),
    ),
    'x-audited-actions': AUDITED_TYPES,
  };
}
