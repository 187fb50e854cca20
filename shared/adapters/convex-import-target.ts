import type { ConvexClient } from '../convex/client.js';
import { ConvexApiError, FatalConvexError, RetryableConvexError } from '../convex/errors.js';
import {
  type ImportTarget,
  type PrimaryKeyIndexAdmin,
  RecordsRejectedError,
  type RefusalKind,
  TargetRefusedError,
  TargetUnavailableError,
} from '../ports/import-target.js';

/**
 * 400s Convex sends for the Authorization header before it looks at the body
 * (docs/convex-api.md §1.2): a malformed key, not a bad record.
 */
const HEADER_CODES = new Set(['HeaderParseFailure', 'InvalidHeaderFailure', 'InvalidAdminKey']);

export interface ConvexImportTargetOptions {
  /** Where the key comes from, for the message that says what to fix, e.g. `CONVEX_DEPLOY_KEY`. */
  readonly credential?: string;
}

const DEFAULT_CREDENTIAL = 'CONVEX_DEPLOY_KEY (or the secret named by CONVEX_DEPLOY_KEY_SECRET_ID)';

/**
 * Imports through `import_airbyte_records` and manages the primary-key indexes, mapping Convex's
 * answers to the port's errors:
 *
 * - 400 on an import (docs/convex-api.md §6.5): a record in the request is unacceptable; the one
 *   refusal the importer bisects. The header 400s of §1.2 are a malformed key instead.
 * - 401, 403, the header 400s, any other status Convex does not retry (404, 405, 413, …), a 400 on
 *   the index routes (a primary key Convex does not accept) and an answer of the wrong shape: the
 *   deployment refuses everything until a setting is fixed.
 * - What the client retried and gave up on (network, timeouts, 408/429/5xx): unavailable.
 */
export class ConvexImportTarget implements ImportTarget, PrimaryKeyIndexAdmin {
  private readonly credential: string;

  constructor(
    private readonly client: Pick<
      ConvexClient,
      'importAirbyteRecords' | 'addPrimaryKeyIndexes' | 'primaryKeyIndexesReady'
    >,
    options: ConvexImportTargetOptions = {},
  ) {
    this.credential = options.credential ?? DEFAULT_CREDENTIAL;
  }

  async importRecords(body: string): Promise<void> {
    try {
      await this.client.importAirbyteRecords(body);
    } catch (error) {
      if (
        error instanceof FatalConvexError &&
        error.status === 400 &&
        !HEADER_CODES.has(error.code ?? '')
      ) {
        throw new RecordsRejectedError(error.code ?? 'HTTP 400', error.serverMessage ?? '', {
          cause: error,
        });
      }
      throw this.mapped(error);
    }
  }

  async addPrimaryKeyIndexes(indexes: Readonly<Record<string, string[][]>>): Promise<void> {
    try {
      await this.client.addPrimaryKeyIndexes(indexes);
    } catch (error) {
      throw this.mapped(error);
    }
  }

  async primaryKeyIndexesReady(tables: readonly string[]): Promise<boolean> {
    try {
      return await this.client.primaryKeyIndexesReady([...tables]);
    } catch (error) {
      throw this.mapped(error);
    }
  }

  private mapped(error: unknown): unknown {
    if (error instanceof RetryableConvexError) {
      const text = error.message.startsWith('Convex ')
        ? error.message
        : `Convex ${error.endpoint}: ${error.message}`;
      return new TargetUnavailableError(text, { cause: error });
    }
    if (!(error instanceof ConvexApiError)) return error;
    const status = error.status;
    const code = error.code ?? (status !== undefined ? `HTTP ${status}` : error.name);
    const answer =
      `${status ?? ''} ${code}${error.serverMessage ? `: ${error.serverMessage}` : ''}`.trim();
    let kind: RefusalKind = 'refused';
    if (status === 401 || HEADER_CODES.has(error.code ?? '')) kind = 'unauthorized';
    else if (status === 403) kind = 'forbidden';
    const fix =
      kind === 'unauthorized'
        ? `Convex does not accept the deploy key: check ${this.credential} (a deploy key of this deployment, as the dashboard shows it)`
        : kind === 'forbidden'
          ? `the deploy key in ${this.credential} may not import (it needs the import permission: not a read-only key) or belongs to another deployment`
          : `Convex refuses ${error.endpoint} whatever is sent: check CONVEX_URL and BRIDGE_IMPORT_TABLES`;
    return new TargetRefusedError(kind, code, `${fix}; Convex answered ${answer}`, {
      cause: error,
    });
  }
}
