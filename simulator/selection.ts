import { isValidComponentPath, isValidTableName } from './names.js';
import { SimError, untaggedError } from './sim-error.js';

/** Which tables, and which of their columns, an export call reads. */
export interface Selection {
  includes(component: string, table: string): boolean;
  /** undefined: every column. */
  columns(component: string, table: string): ((field: string) => boolean) | undefined;
}

const EVERYTHING: Selection = { includes: () => true, columns: () => undefined };

type Inclusion = 'included' | 'excluded';
function inclusion(v: unknown): Inclusion | undefined {
  if (v === 'included' || v === 'incl') return 'included';
  if (v === 'excluded' || v === 'excl') return 'excluded';
  return undefined;
}

interface ColumnRule {
  other: Inclusion;
  fields: Map<string, Inclusion>;
}
interface TableRule {
  other: Inclusion | ColumnRule;
  tables: Map<string, 'excluded' | ColumnRule>;
}

/**
 * undefined when `raw` does not parse as a selection object (the legacy routes then fall
 * through); a name that parses but is invalid goes to `badName`, which throws.
 */
function parseSelectionObject(
  raw: unknown,
  badName: (problem: string) => void,
): Selection | undefined {
  if (!isObject(raw)) return undefined;
  const other = inclusion(raw._other);
  if (!other) return undefined;
  const components = new Map<string, 'excluded' | TableRule>();
  for (const [path, value] of Object.entries(raw)) {
    if (path === '_other') continue;
    if (inclusion(value) === 'excluded') {
      components.set(path, 'excluded');
      continue;
    }
    if (!isObject(value)) return undefined;
    const tableOther = inclusion(value._other);
    if (!tableOther) return undefined;
    const tables = new Map<string, 'excluded' | ColumnRule>();
    for (const [table, tv] of Object.entries(value)) {
      if (table === '_other') continue;
      if (inclusion(tv) === 'excluded') {
        tables.set(table, 'excluded');
        continue;
      }
      if (!isObject(tv)) return undefined;
      const colOther = inclusion(tv._other);
      if (!colOther) return undefined;
      const fields = new Map<string, Inclusion>();
      for (const [field, fv] of Object.entries(tv)) {
        if (field === '_other') continue;
        const inc = inclusion(fv);
        if (!inc) return undefined;
        fields.set(field, inc);
      }
      tables.set(table, { other: colOther, fields });
    }
    components.set(path, { other: tableOther, tables });
  }
  // Names are checked only after the shape parsed.
  for (const [path, rule] of components) {
    if (!isValidComponentPath(path)) badName(`invalid component path ${JSON.stringify(path)}`);
    if (rule === 'excluded') continue;
    for (const [table, tr] of rule.tables) {
      if (!isValidTableName(table)) badName(`invalid table name ${JSON.stringify(table)}`);
      if (tr !== 'excluded' && (tr.fields.get('_id') ?? tr.other) === 'excluded')
        badName(`the _id field of ${JSON.stringify(table)} cannot be excluded`);
    }
  }
  const tableRule = (component: string, table: string): 'excluded' | ColumnRule | undefined => {
    const c = components.get(component);
    if (c === undefined) return other === 'included' ? undefined : 'excluded';
    if (c === 'excluded') return 'excluded';
    const t = c.tables.get(table);
    if (t !== undefined) return t;
    return c.other === 'excluded' ? 'excluded' : undefined;
  };
  return {
    includes: (component, table) => tableRule(component, table) !== 'excluded',
    columns: (component, table) => {
      const rule = tableRule(component, table);
      if (rule === undefined || rule === 'excluded') return undefined;
      return (field) => field === '_id' || (rule.fields.get(field) ?? rule.other) === 'included';
    },
  };
}

/**
 * Convex flattens the selection into the arguments as an untagged union, first match wins:
 * `selection` object, then `tableName`/`table_name` (+`component`), then `component`, then everything.
 * A malformed `selection` silently selects everything (docs/convex-api.md §3).
 */
export function parseSelection(args: Record<string, unknown>): Selection {
  if ('selection' in args) {
    // A bad name carries no error metadata on these routes, hence the generic 500.
    const parsed = parseSelectionObject(args.selection, () => {
      throw untaggedError();
    });
    if (parsed) return parsed;
  }
  const table = args.tableName ?? args.table_name;
  const component = args.component;
  if (typeof table === 'string' && (component === undefined || typeof component === 'string')) {
    const path = component ?? '';
    if (!isValidTableName(table) || !isValidComponentPath(path)) throw untaggedError();
    return { includes: (c, t) => c === path && t === table, columns: () => undefined };
  }
  if (typeof component === 'string') {
    if (!isValidComponentPath(component)) throw untaggedError();
    return { includes: (c) => c === component, columns: () => undefined };
  }
  return EVERYTHING;
}

/**
 * Data Sync's selection is a plain typed field: absent or null selects everything, a malformed
 * one is a 400 BadJsonBody when the body is read; an invalid name is a 400
 * InvalidDataSyncSelection, raised later by the returned check (docs/convex-api.md §5).
 */
export function readDataSyncSelection(raw: unknown): () => Selection {
  if (raw === undefined || raw === null) return () => EVERYTHING;
  let problem: string | undefined;
  const parsed = parseSelectionObject(raw, (p) => {
    problem ??= p;
  });
  if (!parsed) {
    throw new SimError(
      400,
      'BadJsonBody',
      'Failed to deserialize the JSON body into the target type: selection: expected a selection object with `_other` at every level',
    );
  }
  return () => {
    if (problem !== undefined)
      throw new SimError(400, 'InvalidDataSyncSelection', `Invalid selection: ${problem}`);
    return parsed;
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
