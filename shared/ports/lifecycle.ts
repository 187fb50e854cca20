import type { TableFilter } from './change-feed.js';

/** A table the bridge's `clear-tables` emptied, and the Convex time (ns) just before it did. */
export interface TableClear {
  readonly component: string;
  readonly table: string;
  /**
   * A Convex commit timestamp read right before the clear: every change of the table after it
   * belongs to the emptied table, every change up to it to the old rows (docs/events.md).
   */
  readonly before: string;
  /** When the clear was recorded (ISO), for operators. */
  readonly recordedAt: string;
}

/**
 * The clears recorded for one export, oldest first. Written by `clear-tables` without the
 * export's lease (append only), read by the exporter, which counts how many it has handled.
 */
export interface TableClearLog {
  record(clear: TableClear): Promise<void>;
  list(): Promise<readonly TableClear[]>;
}

/** Convex's current JSON schema of each table (`json_schemas`), keyed `component/table`. */
export interface SchemaSource {
  tableSchemas(options: {
    readonly filter?: TableFilter;
    readonly signal?: AbortSignal;
  }): Promise<ReadonlyMap<string, Record<string, unknown>>>;
}
