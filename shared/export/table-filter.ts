import type { ExportSelection } from '../convex/client.js';

/** Entries are `table` (root component) or `component/path/table`. */
export interface TableFilter {
  readonly includeTables?: readonly string[];
  readonly excludeTables?: readonly string[];
  readonly includeComponents?: readonly string[];
  readonly excludeComponents?: readonly string[];
}

function split(entry: string): [component: string, table: string] {
  const slash = entry.lastIndexOf('/');
  return slash < 0 ? ['', entry] : [entry.slice(0, slash), entry.slice(slash + 1)];
}

const has = (list: readonly string[] | undefined) => list !== undefined && list.length > 0;

/**
 * The local check applied to every row, even when the server was asked to filter: a malformed
 * selection or an old backend silently exports everything (convex-api.md §3, trap 7).
 */
export function tablePredicate(filter: TableFilter): (component: string, table: string) => boolean {
  const include = new Set(filter.includeTables?.map((e) => split(e).join('\u0000')));
  const exclude = new Set(filter.excludeTables?.map((e) => split(e).join('\u0000')));
  const includeComponents = new Set(filter.includeComponents);
  const excludeComponents = new Set(filter.excludeComponents);
  const anyInclude = include.size > 0 || includeComponents.size > 0;
  return (component, table) => {
    const key = `${component}\u0000${table}`;
    if (excludeComponents.has(component) || exclude.has(key)) return false;
    if (!anyInclude) return true;
    return includeComponents.has(component) || include.has(key);
  };
}

/** The same filter as a Convex selection object, so unselected documents are not even sent. */
export function serverSelection(filter: TableFilter): ExportSelection | undefined {
  if (
    !has(filter.includeTables) &&
    !has(filter.excludeTables) &&
    !has(filter.includeComponents) &&
    !has(filter.excludeComponents)
  ) {
    return undefined;
  }
  const anyInclude = has(filter.includeTables) || has(filter.includeComponents);
  const selection: Record<string, unknown> = { _other: anyInclude ? 'excluded' : 'included' };
  const component = (path: string, other: 'included' | 'excluded') => {
    const current = selection[path];
    if (typeof current === 'object' && current !== null) return current as Record<string, unknown>;
    const fresh: Record<string, unknown> = { _other: other };
    selection[path] = fresh;
    return fresh;
  };
  for (const path of filter.includeComponents ?? []) selection[path] = { _other: 'included' };
  for (const entry of filter.includeTables ?? []) {
    const [path, table] = split(entry);
    const c = component(path, 'excluded');
    if (c._other === 'excluded') c[table] = { _other: 'included' };
  }
  for (const entry of filter.excludeTables ?? []) {
    const [path, table] = split(entry);
    if (selection[path] === 'excluded') continue;
    component(path, anyInclude ? 'excluded' : 'included')[table] = 'excluded';
  }
  for (const path of filter.excludeComponents ?? []) selection[path] = 'excluded';
  return { selection };
}
