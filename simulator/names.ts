/** Table and field name rules (crates/convex/sync_types/src/identifier.rs, valid_identifier.rs). */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function isValidTableName(name: string): boolean {
  return IDENTIFIER.test(name) && !/^_+$/.test(name);
}

export function isSystemName(name: string): boolean {
  return name.startsWith('_');
}

/** A component path: '' for the root, else identifier segments joined by '/'. */
export function isValidComponentPath(path: string): boolean {
  return (
    path === '' ||
    path.split('/').every((segment) => isValidTableName(segment) && !isSystemName(segment))
  );
}

/** A user-facing identifier that streaming import keeps as is: letter first, then [A-Za-z0-9_]. */
export function isKeptIdentifier(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name);
}

/**
 * Streaming import's renaming (ValidIdentifier): a valid non-system name is kept, anything else is
 * slugified and prefixed with `source_` (`my-table` → `source_my_table`, `_id` → `source_id`).
 */
export function rewriteName(name: string): string {
  if (isKeptIdentifier(name)) return name;
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return `source_${slug}`;
}

/** Field name rules for stored documents (crates/common/src/document.rs). */
export function fieldNameProblem(name: string, topLevel: boolean): string | undefined {
  if (name.length > 1024) return 'is longer than 1024 characters';
  if (!/^[\x20-\x7e]*$/.test(name)) return 'must be printable ASCII';
  if (name.startsWith('$')) return "must not start with '$'";
  if (topLevel && name.startsWith('_') && name !== '_id' && name !== '_creationTime') {
    return "must not start with '_' (reserved for system fields)";
  }
  return undefined;
}
