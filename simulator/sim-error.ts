/** An error the simulator answers with Convex's `{code, message}` envelope. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SimError';
  }
}

/** Convex answers failures that carry no error metadata with this generic 500 (docs/convex-api.md §1.3). */
export function untaggedError(): SimError {
  return new SimError(
    500,
    'InternalServerError',
    "Your request couldn't be completed. Try again later.",
  );
}
