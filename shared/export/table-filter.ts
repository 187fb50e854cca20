import type { TableFilter } from '../ports/change-feed.js';

export type { TableFilter } from '../ports/change-feed.js';

/** `table` (root component) or `component/path/table`, as [component, table]. */
export function splitTableEntry(entry: string): [component: string, table: string] {
  const slash = entry.lastIndexOf('/');
  return slash < 0 ? ['', entry] : [entry.slice(0, slash), entry.slice(slash + 1)];
}

/**
 * The local check applied to every row, even when the source was asked to filter: a malformed
 * selection or an old backend silently exports everything (docs/convex-api.md §3, trap 7).
 */
export function tablePredicate(filter: TableFilter): (component: string, table: string) => boolean {
  const include = new Set(filter.includeTables?.map((e) => splitTableEntry(e).join('\u0000')));
  const exclude = new Set(filter.excludeTables?.map((e) => splitTableEntry(e).join('\u0000')));
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
