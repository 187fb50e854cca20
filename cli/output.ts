import type { LogSink } from '../shared/ports/observability.js';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, leaseHeld: 3, resyncRequired: 4 } as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Errors and logs redact the deployment's host (they may reach CloudWatch or the state table).
 * In the terminal of the user who set CONVEX_URL, the host is theirs to see: put it back.
 */
export function forTerminal(text: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!text.includes('[deployment]')) return text;
  let host: string | undefined;
  try {
    host = new URL(env.CONVEX_URL?.trim() ?? '').host || undefined;
  } catch {
    host = undefined;
  }
  return host ? text.split('[deployment]').join(host) : text;
}

/** JSON log lines on stderr, so stdout stays for results. */
export function stderrLog(verbose: boolean): LogSink {
  const write = (level: string, message: string, fields?: Record<string, unknown>) => {
    if (level === 'info' && !verbose) return;
    process.stderr.write(`${forTerminal(JSON.stringify({ level, message, ...fields }))}\n`);
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}
