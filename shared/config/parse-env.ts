// A namespace import lets esbuild drop what is unused (zod's locales): 460 -> 99 KiB per bundle.
import * as z from 'zod';
import { ConfigError } from '../errors.js';
import { SETTING_EXAMPLES, withoutEmpty } from './setting-examples.js';

/** Settings whose value is never repeated in a message: the key, and a URL naming the deployment. */
const NEVER_ECHOED = new Set(['CONVEX_DEPLOY_KEY', 'CONVEX_URL']);

/**
 * Validates env once. The error lists every bad setting in our words, with an example of a valid
 * value; it repeats what was given except for the deploy key and the deployment URL.
 */
export function parseEnv<T>(
  schema: z.ZodType<T>,
  env: Readonly<Record<string, string | undefined>>,
): T {
  const given = withoutEmpty(env);
  const result = schema.safeParse(given);
  if (result.success) return result.data;
  const problems = [...new Set(result.error.issues.map((issue) => describeIssue(issue, given)))];
  throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

function describeIssue(issue: z.core.$ZodIssue, env: Readonly<Record<string, string>>): string {
  const key = issue.path.map(String).join('.') || '(settings)';
  const raw = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
  const example =
    (issue.code === 'custom' ? (issue.params?.example as string | undefined) : undefined) ??
    SETTING_EXAMPLES[key] ??
    (issue.code === 'invalid_value' ? String(issue.values[0]) : undefined);
  const eg = example !== undefined ? `, e.g. ${key}=${example}` : '';
  if (raw === undefined) {
    // Missing: the schema's message says why it is needed ("is required (the stream to …)").
    const why = issue.message.startsWith('is ') ? issue.message : 'is required';
    return `${key} ${why}${issue.message.includes(`${key}=`) ? '' : eg}`;
  }
  const shown = NEVER_ECHOED.has(key) ? key : `${key}=${clip(raw)}`;
  let rule: string;
  switch (issue.code) {
    case 'invalid_value':
      rule = `must be one of ${issue.values.map(String).join(', ')}`;
      break;
    case 'invalid_format':
      rule = issue.format === 'url' ? 'must be a URL' : issue.message;
      break;
    default:
      rule = issue.message;
  }
  return `${shown}: ${rule}${eg}`;
}

const clip = (value: string) => (value.length > 60 ? `${value.slice(0, 57)}...` : value);

/** `a, b,,c` → ['a', 'b', 'c']; empty or unset → undefined. */
export function commaList(raw: string | undefined): string[] | undefined {
  const items = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return items.length > 0 ? items : undefined;
}

/**
 * A whole-number setting with bounds and a default, e.g. a timeout in milliseconds. A bad value
 * is reported as "must be a whole number from MIN to MAX", with the default as the example.
 */
export const intSetting = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx): number => {
      if (raw === undefined) return fallback;
      const text = raw.trim();
      const value = Number(text);
      if (!/^-?\d+$/.test(text) || value < min || value > max) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a whole number from ${min} to ${max}`,
          params: { example: String(fallback) },
        });
        return z.NEVER;
      }
      return value;
    });
