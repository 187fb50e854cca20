import type { LogSink } from '../shared/ports/observability.js';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, leaseHeld: 3, resyncRequired: 4 } as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** JSON log lines on stderr, so stdout stays for results. */
export function stderrLog(verbose: boolean): LogSink {
  const write = (level: string, message: string, fields?: Record<string, unknown>) => {
    if (level === 'info' && !verbose) return;
    process.stderr.write(`${JSON.stringify({ level, message, ...fields })}\n`);
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
