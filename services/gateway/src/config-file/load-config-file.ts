import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { z } from 'zod';
import { type ConfigFile, ConfigFileSchema } from './config-file-schema.js';

export class ConfigFileError extends Error {
  constructor(
    readonly path: string,
    readonly problems: string[],
  ) {
    super(`configuration file ${path}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigFileError';
  }
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

type Path = (string | number)[];

/** A value written as exactly one `${NAME}`: where the file wants a number or a boolean, its text may be one. */
export interface WholeReference {
  path: Path;
  variable: string;
}

/**
 * Replaces `${NAME}` in every string value with the environment's value. A missing
 * variable, or a `${` that is no such reference, is an error naming where it is; the values
 * themselves (secrets) never appear in messages. Values that are exactly one reference are listed in `references`.
 */
export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: string,
  problems: string[],
  references: WholeReference[] = [],
  at: Path = [],
): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_REFERENCE.exec(value);
    if (whole) references.push({ path: at, variable: whole[1]! });
    // A `${` that is no reference (`${ NAME }`, `${NAME`) is a typo: kept, it would become the
    // value (a secret) as written. Checked in the file's text, not in the variables' values.
    // `$${NAME}` and `\${NAME}` look like escapes (Compose, shells) but would read as "$" or
    // "\" followed by the variable's value: refused, as there is no escape.
    if (/[$\\]\$\{/.test(value))
      problems.push(
        `${path}: holds "$\${" or "\\\${", which is no escape here (it would read as the variable's value after ` +
          'a "$" or "\\"); a value that must contain "${" is given through an environment variable',
      );
    else if (value.replace(REFERENCE, '').includes('${'))
      problems.push(
        `${path}: holds "\${" outside a reference \${NAME} (letters, digits and _ right inside the braces, no spaces); ` +
          'a value that must contain "${" is given through an environment variable',
      );
    return value.replace(REFERENCE, (_, variable: string) => {
      const resolved = env[variable];
      if (resolved === undefined || resolved === '') {
        problems.push(`${path}: environment variable ${variable} is not set`);
        return '';
      }
      return resolved;
    });
  }
  if (Array.isArray(value))
    return value.map((item, i) => interpolate(item, env, `${path}[${i}]`, problems, references, [...at, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => {
        const where = path ? `${path}.${key}` : key;
        // Keys are not read for references: one there would stay as written (a model named so).
        if (key.includes('${'))
          problems.push(`${where}: a key holds "\${"; references are read in values only`);
        return [key, interpolate(item, env, where, problems, references, [...at, key])];
      }),
    );
  }
  return value;
}

type Scalar = 'number' | 'boolean';

/** The kinds of scalar an issue says its value should have been (unions and literals included). */
function wantedScalars(issue: z.core.$ZodIssue): Scalar[] {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'number' || issue.expected === 'int'
        ? ['number']
        : issue.expected === 'boolean'
          ? ['boolean']
          : [];
    case 'invalid_value':
      return issue.values.flatMap((v): Scalar[] =>
        typeof v === 'number' ? ['number'] : typeof v === 'boolean' ? ['boolean'] : [],
      );
    case 'invalid_union':
      // Each branch's issues about this very value (not about fields inside an object branch).
      return issue.errors.flat().flatMap((inner) => (inner.path.length === 0 ? wantedScalars(inner) : []));
    default:
      return [];
  }
}

/** The text as the decimal number or the true/false it spells, when the schema wants that; else undefined. */
function scalarOf(text: string, wanted: Scalar[]): number | boolean | undefined {
  if (wanted.includes('number') && /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text))
    return Number(text);
  if (wanted.includes('boolean') && (text === 'true' || text === 'false')) return text === 'true';
  return undefined;
}

const isContainer = (node: unknown): node is Record<string, unknown> =>
  node !== null && typeof node === 'object';

const valueAt = (root: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>((node, key) => (isContainer(node) ? node[key as string] : undefined), root);

const samePath = (a: readonly PropertyKey[], b: readonly PropertyKey[]) =>
  a.length === b.length && a.every((key, i) => key === b[i]);

/**
 * Environment variables hold text, so `rpm: ${ORG_RPM}` arrives as "600". Where the schema
 * refused such a value for not being a number or a boolean, and the text is one, the value
 * becomes it; nowhere else (a secret or name of digits stays text). Returns whether any did.
 */
function coerceWholeReferences(
  resolved: unknown,
  issues: z.core.$ZodIssue[],
  references: WholeReference[],
): boolean {
  let coerced = false;
  for (const issue of issues) {
    if (!references.some((ref) => samePath(ref.path, issue.path))) continue;
    const parent = valueAt(resolved, issue.path.slice(0, -1));
    const key = issue.path.at(-1) as string;
    if (!isContainer(parent) || typeof parent[key] !== 'string') continue;
    const value = scalarOf(parent[key], wantedScalars(issue));
    if (value === undefined) continue;
    parent[key] = value;
    coerced = true;
  }
  return coerced;
}

function describe(issues: z.core.$ZodIssue[], resolved: unknown, references: WholeReference[]): string[] {
  return issues.map((issue) => {
    const where = issue.path.map(String).join('.') || '(root)';
    // Name the variable (never its value) so a bad value in the environment is found there.
    const reference = references.find((ref) => samePath(ref.path, issue.path));
    if (!reference) return `${where}: ${issue.message}`;
    const wanted = [...new Set(wantedScalars(issue))];
    // Still text where a number or boolean goes: the variable's text is not one.
    if (wanted.length > 0 && typeof valueAt(resolved, issue.path) === 'string')
      return `${where}: must be a ${wanted.join(' or ')}, and environment variable ${reference.variable} does not hold one`;
    return `${where}: ${issue.message} (the value of environment variable ${reference.variable})`;
  });
}

/**
 * The environment variables the file's values name with `${NAME}` (keys are not read), so the
 * start can tell a `KORDON_` variable the file reads from a misspelled setting. A file that
 * cannot be read or parsed names none: loading it refuses the start with its own message.
 */
export function configFileVariables(path: string): Set<string> {
  const names = new Set<string>();
  const visit = (value: unknown): void => {
    if (typeof value === 'string') for (const match of value.matchAll(REFERENCE)) names.add(match[1]!);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(visit);
  };
  try {
    visit(parse(readFileSync(path, 'utf8')));
  } catch {
    // Said by loadConfigFile when the start reads it.
  }
  return names;
}

/** Reads, interpolates and validates the file; throws ConfigFileError listing every problem. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv): ConfigFile {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigFileError(path, [error instanceof Error ? error.message.split('\n')[0]! : String(error)]);
  }
  // "No orgs" disables every user the file made, for good: an empty file is far more often a
  // mistake (a ConfigMap mounted empty, a deploy that truncated it) than that wish.
  if (raw === null || raw === undefined) {
    throw new ConfigFileError(path, [
      'the file is empty; to declare no orgs (every user it made disabled), write `orgs: []`',
    ]);
  }
  const problems: string[] = [];
  const references: WholeReference[] = [];
  const resolved = interpolate(raw, env, '', problems, references);
  if (problems.length > 0) throw new ConfigFileError(path, problems);
  let parsed = ConfigFileSchema.safeParse(resolved);
  if (!parsed.success && coerceWholeReferences(resolved, parsed.error.issues, references))
    parsed = ConfigFileSchema.safeParse(resolved);
  if (!parsed.success) throw new ConfigFileError(path, describe(parsed.error.issues, resolved, references));
  return parsed.data;
}
