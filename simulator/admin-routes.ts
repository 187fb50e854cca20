import type { Deployment } from './deployment.js';
import type { FaultSettings, Faults } from './faults.js';
import type { Knobs } from './knobs.js';
import { SimError } from './sim-error.js';
import { type Document, decodeEncodedJson, writeValue } from './values.js';

/** One write of an admin transaction; documents use Convex's encoded JSON (`$integer`, `$bytes`). */
export type AdminWrite =
  | { op: 'insert'; table: string; component?: string; doc: unknown }
  | { op: 'patch'; id: string; fields: unknown }
  | { op: 'replace'; id: string; doc: unknown }
  | { op: 'delete'; id: string }
  /** Empties the table into a new tablet, as `npx convex import --replace`; later inserts fill it. */
  | { op: 'replaceTable'; table: string; component?: string };

export interface AdminState {
  readonly deployment: Deployment;
  readonly faults: Faults;
  readonly stats: Map<string, number>;
}

function asDocument(raw: unknown, where: string): Document {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SimError(400, 'BadAdminRequest', `${where} must be an object`);
  }
  try {
    return decodeEncodedJson(raw, where) as Document;
  } catch (error) {
    throw new SimError(400, 'BadAdminRequest', (error as Error).message);
  }
}

/** Applies writes as one Convex transaction: all share one commit timestamp. */
export function applyAdminTransaction(
  deployment: Deployment,
  writes: readonly AdminWrite[],
): { ts: bigint; ids: string[] } {
  const { ts, result } = deployment.transact((tx) => {
    const ids: string[] = [];
    writes.forEach((w, i) => {
      const where = `writes[${i}]`;
      switch (w.op) {
        case 'insert':
          ids.push(tx.insert(w.table, asDocument(w.doc, `${where}.doc`), w.component ?? ''));
          break;
        case 'patch':
          tx.patch(w.id, asDocument(w.fields, `${where}.fields`));
          break;
        case 'replace':
          tx.replace(w.id, asDocument(w.doc, `${where}.doc`));
          break;
        case 'delete':
          tx.delete(w.id);
          break;
        case 'replaceTable':
          tx.replaceTable(w.table, w.component ?? '');
          break;
        default:
          throw new SimError(
            400,
            'BadAdminRequest',
            `${where}.op must be insert, patch, replace, delete or replaceTable`,
          );
      }
    });
    return ids;
  });
  return { ts, ids: result };
}

/**
 * Replaces a table's contents wholesale in one commit, like `npx convex import --replace`: a new
 * tablet holds `docs` (encoded JSON), the old documents vanish with no deletion rows.
 */
export function replaceTable(
  deployment: Deployment,
  table: string,
  docs: readonly unknown[],
  component = '',
): { ts: bigint; ids: string[] } {
  return applyAdminTransaction(deployment, [
    { op: 'replaceTable', table, component },
    ...docs.map((doc) => ({ op: 'insert' as const, table, component, doc })),
  ]);
}

/** Routes under /_sim/: test and demo control, never part of Convex's API. */
export function handleAdmin(
  state: AdminState,
  method: string,
  path: string,
  query: URLSearchParams,
  body: unknown,
): { status: number; body: string } {
  const ok = (value: unknown) => ({ status: 200, body: JSON.stringify(value) });
  const input = (body ?? {}) as Record<string, unknown>;
  const { deployment, faults, stats } = state;
  switch (`${method} ${path}`) {
    case 'POST /_sim/transaction': {
      if (!Array.isArray(input.writes))
        throw new SimError(400, 'BadAdminRequest', 'writes must be an array');
      const { ts, ids } = applyAdminTransaction(deployment, input.writes as AdminWrite[]);
      return ok({ ts: ts.toString(), ids });
    }
    case 'POST /_sim/replace_table': {
      if (typeof input.table !== 'string' || !Array.isArray(input.docs))
        throw new SimError(400, 'BadAdminRequest', 'table must be a string and docs an array');
      const component = typeof input.component === 'string' ? input.component : '';
      const { ts, ids } = replaceTable(deployment, input.table, input.docs, component);
      return ok({ ts: ts.toString(), ids });
    }
    case 'GET /_sim/documents': {
      const docs = deployment.documents(query.get('table') ?? '', query.get('component') ?? '');
      return {
        status: 200,
        body: `{"documents":[${docs.map((d) => writeValue(d, 'encoded')).join(',')}]}`,
      };
    }
    case 'POST /_sim/faults':
      faults.configure(input as FaultSettings);
      return ok({ pending: faults.pending });
    case 'DELETE /_sim/faults':
      faults.clear();
      return ok({});
    case 'POST /_sim/knobs':
      Object.assign(deployment.knobs, input as Partial<Knobs>);
      return ok(deployment.knobs);
    case 'POST /_sim/clock':
      deployment.advanceClock(Number(input.advanceMs ?? 0));
      return ok({ now: deployment.now().toString() });
    case 'GET /_sim/stats':
      return ok({ requests: Object.fromEntries(stats), pendingFaults: faults.pending });
    case 'DELETE /_sim/stats':
      stats.clear();
      return ok({});
    default:
      return { status: 404, body: '' };
  }
}
