import { randomUUID } from 'node:crypto';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { createDynamoDbClient } from '../../shared/aws/clients.js';
import type { ExportState } from '../../shared/export/export-state.js';
import { ensureStateTable } from '../../shared/setup/ensure-resources.js';

// The state item on moto: Data Sync positions and the lifecycle's fields come back as written,
// and items written by earlier versions still read.
describe('export state of a Data Sync export in DynamoDB', () => {
  const table = `state-ds-${randomUUID().slice(0, 8)}`;
  const dynamo = createDynamoDbClient();
  beforeAll(async () => {
    await ensureStateTable(dynamo, table);
  });
  const store = () => new DynamoDbExportStore(dynamo, table, randomUUID().slice(0, 8));

  const save = async (s: DynamoDbExportStore, state: ExportState) => {
    const held = await s.acquire('test', 30_000);
    if (!held) throw new Error('lease unavailable');
    await s.checkpoint(held.lease, state, 30_000);
    await s.release(held.lease);
    return (await s.read()).state;
  };

  it('round-trips a Data Sync position with every field the lifecycle added', async () => {
    const state: ExportState = {
      position: { source: 'data-sync', phase: 'changes', cursor: 'opaque-cursor_-' },
      generation: 3,
      updatedAt: '2026-11-28T12:00:00.000Z',
      cursorTs: '1718000001000000007',
      newestEventTs: '1718000000000000001',
      baseSnapshotTs: '1717000000000000000',
      sourceStatus: { status: 'upToDate', syncId: 'sync-1', snapshotTs: '1718000001000000007' },
      migration: { at: '2026-11-28T11:00:00.000Z', outcome: 'migrated' },
      lastResync: {
        reason: 'DataSyncCursorExpired',
        message: 'outside the retention window',
        at: '2026-11-27T00:00:00.000Z',
        generation: 3,
        gapFrom: '1716000000000000000',
      },
      announcedGeneration: 3,
      clearsHandled: 0,
      schemaDigests: { '/users': 'abc', 'comp/t': 'def' },
      schemaCheckedAt: '2026-11-28T11:30:00.000Z',
      streamMark: { at: '2026-11-28T12:00:00.000Z', shards: { 'shardId-0': { seq: '49' } } },
    };
    expect(await save(store(), state)).toEqual(state);
  });

  it('keeps a new sync without a cursor, and drops fields a later state no longer has', async () => {
    const s = store();
    await save(s, {
      position: { source: 'data-sync', phase: 'changes', cursor: 'c1' },
      generation: 1,
      updatedAt: 'a',
      cursorTs: '1',
      migration: { at: 'x', outcome: 'refused', reason: 'no' },
    });
    const fresh: ExportState = {
      position: { source: 'data-sync', phase: 'snapshot' },
      generation: 2,
      updatedAt: 'b',
    };
    expect(await save(s, fresh)).toEqual(fresh);
  });

  it('reads an item an earlier version wrote (no source, no lifecycle fields) as a legacy export', async () => {
    const s = store();
    await dynamo.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: `export#${s.exportId}` },
          phase: { S: 'deltas' },
          deltaCursor: { S: '1718000001000000007' },
          generation: { N: '2' },
          updatedAt: { S: 'then' },
        },
      }),
    );
    expect((await s.read()).state).toEqual({
      position: { source: 'legacy', phase: 'deltas', deltaCursor: '1718000001000000007' },
      generation: 2,
      updatedAt: 'then',
    });
  });

  it.each([
    [
      'an unknown source',
      { feedSource: { S: 'kafka' }, phase: { S: 'changes' } },
      /unknown source 'kafka'/,
    ],
    [
      'a Data Sync phase it does not know',
      { feedSource: { S: 'data-sync' }, phase: { S: 'deltas' } },
      /unknown Data Sync phase 'deltas'/,
    ],
    [
      'Data Sync changes without a cursor',
      { feedSource: { S: 'data-sync' }, phase: { S: 'changes' } },
      /no dataSyncCursor/,
    ],
    [
      'an unreadable migration record',
      { phase: { S: 'snapshot' }, migration: { S: '{' } },
      /unreadable migration/,
    ],
  ])('refuses %s', async (_name, item, message) => {
    const s = store();
    await dynamo.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: `export#${s.exportId}` }, ...item },
      }),
    );
    await expect(s.read()).rejects.toThrow(message);
  });
});
