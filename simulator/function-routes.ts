import { extractIdentity, requireExportAccess } from './auth.js';
import {
  json,
  type RouteContext,
  type RouteResponse,
  readJsonBody,
  requireObject,
} from './request.js';
import { SimError } from './sim-error.js';

/** The one system query the bridge calls: the Convex CLI's per-table document count. */
export const TABLE_SIZE_QUERY = '_system/cli/tableSize:default';

/**
 * `POST /api/query` for `_system/cli/tableSize:default` only (docs/convex-api.md §7): success and
 * function failure are both 200, told apart by `status`; an unknown path is a function failure.
 */
export function runQuery(ctx: RouteContext): RouteResponse {
  requireExportAccess(extractIdentity(ctx.headers, ctx.query, ctx.keys), ctx.deployment.knobs);
  const body = requireObject(readJsonBody(ctx), 'body');
  if (typeof body.path !== 'string')
    throw new SimError(400, 'BadJsonBody', 'path must be a string');
  if (body.path !== TABLE_SIZE_QUERY) {
    return json(
      JSON.stringify({
        status: 'error',
        errorMessage: `Could not find public function for '${body.path}'. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`?`,
      }),
    );
  }
  const args = requireObject(body.args ?? {}, 'args');
  if (typeof args.tableName !== 'string') {
    return json(
      JSON.stringify({
        status: 'error',
        errorMessage: 'ArgumentValidationError: Object is missing the required field `tableName`.',
      }),
    );
  }
  const count = ctx.deployment.documents(args.tableName).length;
  return json(JSON.stringify({ status: 'success', value: count }));
}
