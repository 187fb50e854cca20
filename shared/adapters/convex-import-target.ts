import type { ConvexClient } from '../convex/client.js';
import { FatalConvexError } from '../convex/errors.js';
import { type ImportTarget, RecordsRejectedError } from '../ports/import-target.js';

/**
 * Imports through `import_airbyte_records`. Convex answers 400 when a record in the request is
 * unacceptable (docs/convex-api.md §6.5): that is the one refusal sending again cannot fix.
 */
export class ConvexImportTarget implements ImportTarget {
  constructor(private readonly client: Pick<ConvexClient, 'importAirbyteRecords'>) {}

  async importRecords(body: string): Promise<void> {
    try {
      await this.client.importAirbyteRecords(body);
    } catch (error) {
      if (error instanceof FatalConvexError && error.status === 400) {
        throw new RecordsRejectedError(error.code ?? 'HTTP 400', error.serverMessage ?? '', {
          cause: error,
        });
      }
      throw error;
    }
  }
}
