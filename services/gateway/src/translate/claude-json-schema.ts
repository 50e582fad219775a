/**
 * A JSON Schema as Claude's structured outputs take it (`output_config.format` and strict tools'
 * `input_schema`, which share one supported subset: platform.claude.com, "Structured outputs",
 * JSON Schema limitations). OpenAI's structured outputs accept keywords Claude refuses with a 400
 * ("For 'integer' type, property 'minimum' is not supported"): numeric bounds, string lengths,
 * array bounds beyond `minItems` 0 or 1, formats outside Claude's list.
 *
 * Ported from `transformJSONSchema` of @anthropic-ai/sdk 1.17.0 (`src/lib/transform-json-schema.ts`,
 * what the SDK's `.parse()` helpers send), rule for rule: keywords Claude does not take move into
 * the node's `description` (`{minimum: 0, maximum: 150}`), where the model still reads them;
 * every object gets `additionalProperties: false` (Claude requires it); `oneOf` becomes `anyOf`;
 * `enum` and `const` of primitives replace the type; `$ref` stands alone but for its
 * `description` (dropped up to 1.16: "keep a description that sits beside a $ref", 1.17.0's
 * CHANGELOG); `$defs` are kept and transformed. The SDK is not imported: it is a development
 * dependency, and the function is not part of its documented API. Where the SDK would throw (a node with no `type`, a boolean
 * schema), the node goes as the caller wrote it, for Claude to judge, rather than failing the
 * request here; draft-07 `definitions`, which Claude also takes, are treated as `$defs`; and a
 * `type` list (`["string", "null"]`, how OpenAI strict schemas say nullable) gets the rules of
 * each type it names.
 */

type Schema = Record<string, unknown>;

/** String formats Claude's structured outputs take (the SDK's list). */
const SUPPORTED_STRING_FORMATS = new Set([
  'date-time',
  'time',
  'date',
  'duration',
  'email',
  'hostname',
  'uri',
  'ipv4',
  'ipv6',
  'uuid',
]);

export function claudeJsonSchema(schema: Record<string, unknown>): Record<string, unknown> {
  // A deep copy: the nodes are taken apart key by key, and the caller's request is left whole.
  return transform(structuredClone(schema)) as Record<string, unknown>;
}

const isRecord = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isPrimitive = (value: unknown): boolean => value === null || typeof value !== 'object';

function pop(node: Schema, key: string): unknown {
  const value = node[key];
  delete node[key];
  return value;
}

/** Own data properties only (`Object.fromEntries`): a property named `__proto__` stays a property. */
const mapValues = (record: Schema, map: (value: unknown) => unknown): Schema =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));

function transform(node: unknown): unknown {
  if (!isRecord(node)) return node;
  const out: Schema = {};

  // Definitions before the `$ref` early return, so a root `$ref` keeps its definitions.
  for (const key of ['$defs', 'definitions']) {
    const defs = pop(node, key);
    if (isRecord(defs)) out[key] = mapValues(defs, transform);
    else if (defs !== undefined) node[key] = defs;
  }

  const ref = pop(node, '$ref');
  if (ref !== undefined) {
    out.$ref = ref;
    // Claude takes a description beside a `$ref` (the SDK sends one from 1.17: zod puts
    // `.describe()` there for a schema used twice); every other keyword there is left out.
    if (node.description !== undefined) out.description = node.description;
    return out;
  }

  const enumValues = node.enum;
  if (Array.isArray(enumValues) && enumValues.length > 0 && enumValues.every(isPrimitive))
    out.enum = pop(node, 'enum');
  if (node.const !== undefined && isPrimitive(node.const)) out.const = pop(node, 'const');

  const hasLiterals = 'enum' in out || 'const' in out;
  const anyOf = node.anyOf;
  const oneOf = node.oneOf;
  const allOf = node.allOf;
  const combined = Array.isArray(anyOf) || Array.isArray(oneOf) || Array.isArray(allOf);
  // No type, no combination, no literal: the SDK throws; this node goes as written.
  if (!combined && !hasLiterals && node.type === undefined) return { ...out, ...node };

  const declaredType = pop(node, 'type');
  const type = hasLiterals ? undefined : declaredType;
  pop(node, 'anyOf');
  pop(node, 'oneOf');
  pop(node, 'allOf');
  // `$schema` names the dialect and constrains nothing: left out, not described.
  pop(node, '$schema');

  if (Array.isArray(anyOf)) out.anyOf = anyOf.map(transform);
  else if (Array.isArray(oneOf)) out.anyOf = oneOf.map(transform);
  else if (Array.isArray(allOf)) out.allOf = allOf.map(transform);
  else if (!hasLiterals) out.type = type;

  const description = pop(node, 'description');
  if (description !== undefined) out.description = description;
  const title = pop(node, 'title');
  if (title !== undefined) out.title = title;

  const types = Array.isArray(type) ? type : [type];
  if (types.includes('object')) {
    const properties = pop(node, 'properties');
    out.properties = isRecord(properties) ? mapValues(properties, transform) : {};
    pop(node, 'additionalProperties');
    out.additionalProperties = false;
    const required = pop(node, 'required');
    if (required !== undefined) out.required = required;
  }
  if (types.includes('string')) {
    // Popped and put back when not taken, as the SDK does: it is then described last.
    const format = pop(node, 'format');
    if (typeof format === 'string' && SUPPORTED_STRING_FORMATS.has(format)) out.format = format;
    else if (format !== undefined) node.format = format;
  }
  if (types.includes('array')) {
    const items = pop(node, 'items');
    if (items !== undefined) out.items = transform(items);
    const minItems = pop(node, 'minItems');
    if (minItems === 0 || minItems === 1) out.minItems = minItems;
    else if (minItems !== undefined) node.minItems = minItems;
  }

  // What is left, Claude does not take: said in the description, as `{key: value, ...}`.
  const rest = Object.entries(node);
  if (rest.length > 0) {
    const said = `{${rest.map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join(', ')}}`;
    out.description = out.description ? `${String(out.description)}\n\n${said}` : said;
  }
  return out;
}
