import type { ConvexClient } from '../shared/convex/client.js';
import type { SnapshotEstimate } from './flow-stats.js';

/**
 * How big the snapshot will be, for the progress bar: the table list always (json_schemas), the
 * document count only where Convex answers the CLI's count query. Never fails the bridge.
 */
export async function estimateSnapshot(
  client: Pick<ConvexClient, 'jsonSchemas' | 'countDocuments'>,
  include: (component: string, table: string) => boolean,
): Promise<SnapshotEstimate | undefined> {
  let tables: string[];
  try {
    tables = Object.keys(await client.jsonSchemas()).filter((t) => include('', t));
  } catch {
    return undefined;
  }
  try {
    const counts = await Promise.all(tables.map((t) => client.countDocuments(t)));
    return { tables, documents: counts.reduce((a, b) => a + b, 0) };
  } catch {
    return { tables };
  }
}
