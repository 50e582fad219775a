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

/**
 * Replaces `${NAME}` in every string value with the environment's value. A missing
 * variable is an error naming it and where it is used; the values themselves (secrets)
 * never appear in messages.
 */
export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: string,
  problems: string[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_, variable: string) => {
      const resolved = env[variable];
      if (resolved === undefined || resolved === '') {
        problems.push(`${path}: environment variable ${variable} is not set`);
        return '';
      }
      return resolved;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, `${path}[${i}]`, problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        interpolate(item, env, path ? `${path}.${key}` : key, problems),
      ]),
    );
  }
  return value;
}

function describe(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
}

/** Reads, interpolates and validates the file; throws ConfigFileError listing every problem. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv): ConfigFile {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigFileError(path, [error instanceof Error ? error.message.split('\n')[0]! : String(error)]);
  }
  const problems: string[] = [];
  const resolved = interpolate(raw ?? {}, env, '', problems);
  if (problems.length > 0) throw new ConfigFileError(path, problems);
  const parsed = ConfigFileSchema.safeParse(resolved);
  if (!parsed.success) throw new ConfigFileError(path, describe(parsed.error.issues));
  return parsed.data;
}
