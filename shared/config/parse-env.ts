import { z } from 'zod';
import { ConfigError } from '../errors.js';

/** Validates env once; the error lists every bad key and why, never a value. */
export function parseEnv<T>(
  schema: z.ZodType<T>,
  env: Readonly<Record<string, string | undefined>>,
): T {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.map(String).join('.') || '(settings)';
    return `${key}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

/** `a, b,,c` → ['a', 'b', 'c']; empty or unset → undefined. */
export function commaList(raw: string | undefined): string[] | undefined {
  const items = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return items.length > 0 ? items : undefined;
}

/** A whole-number setting with bounds and a default, e.g. a timeout in milliseconds. */
export const intSetting = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
