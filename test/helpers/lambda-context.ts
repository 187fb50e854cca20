import type { Context } from 'aws-lambda';
import { vi } from 'vitest';

/** A Lambda context whose deadline is `remainingMs` from now. */
export function lambdaContext(remainingMs: number, name = 'fn'): Context {
  const deadline = Date.now() + remainingMs;
  return {
    awsRequestId: `req-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: '512',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Captures what a handler writes (Powertools logs and EMF go to stdout or the console). */
export function captureOutput() {
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation(() => {}),
  );
  return {
    text: () =>
      [...stdout.mock.calls, ...spies.flatMap((s) => s.mock.calls)]
        .map((c) =>
          c.map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join(' '),
        )
        .join('\n'),
    restore: () => {
      stdout.mockRestore();
      for (const s of spies) s.mockRestore();
    },
  };
}
