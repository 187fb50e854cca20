import { isLosslessNumber, parse } from 'lossless-json';

/** Parses JSON keeping every number's exact text: LosslessNumber → its decimal string. */
export function parseExact(text: string): unknown {
  return parse(text) as unknown;
}

export function exactText(value: unknown): string {
  if (!isLosslessNumber(value))
    throw new Error(`expected a JSON number, got ${JSON.stringify(value)}`);
  return value.value;
}

export interface RawRow {
  _table: string;
  _component: string;
  _ts: string;
  _deleted?: boolean;
  _id: string;
  [field: string]: unknown;
}

export interface RawPage {
  values: RawRow[];
  cursor: string | null;
  snapshot?: string;
  hasMore: boolean;
}

/** A list_snapshot/document_deltas body with `_ts`, `cursor` and `snapshot` as exact strings. */
export function parsePage(text: string): RawPage {
  const raw = parseExact(text) as Record<string, unknown>;
  const values = (raw.values as Record<string, unknown>[]).map(
    (row) => ({ ...row, _ts: exactText(row._ts) }) as RawRow,
  );
  const cursor =
    raw.cursor === null || typeof raw.cursor === 'string'
      ? (raw.cursor as string | null)
      : exactText(raw.cursor);
  const page: RawPage = { values, cursor, hasMore: raw.hasMore as boolean };
  if (raw.snapshot !== undefined) page.snapshot = exactText(raw.snapshot);
  return page;
}
