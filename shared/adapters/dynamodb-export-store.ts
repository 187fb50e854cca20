import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { BridgeError } from '../errors.js';
import type {
  ExportState,
  MigrationRecord,
  RecoveryReport,
  ResyncRecord,
} from '../export/export-state.js';
import { STATE_TABLE_KEY } from '../names.js';
import type { FeedPosition, SourceStatus } from '../ports/change-feed.js';
import type { StreamMark } from '../ports/event-publisher.js';
import {
  type ExportStateStore,
  type Lease,
  LeaseLostError,
  type StoredExport,
} from '../ports/export-state-store.js';
import { toDeltaCursor, toSnapshotCursor, toSnapshotTs } from '../values/int64.js';

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });

/**
 * One item per export (`pk = export#<id>`) holds the cursors and the lease, so a checkpoint and
 * the lease check are one conditional write.
 */
export class DynamoDbExportStore implements ExportStateStore {
  private readonly key: Record<string, AttributeValue>;

  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    readonly exportId: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = { [STATE_TABLE_KEY]: S(`export#${exportId}`) };
  }

  async acquire(
    owner: string,
    ttlMs: number,
  ): Promise<{ lease: Lease; state: ExportState | undefined } | undefined> {
    const now = this.now();
    try {
      const out = await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key,
          UpdateExpression:
            'SET leaseOwner = :owner, leaseExpiresAt = :exp, fence = if_not_exists(fence, :zero) + :one',
          ConditionExpression:
            'attribute_not_exists(leaseOwner) OR leaseExpiresAt < :now OR leaseOwner = :owner',
          ExpressionAttributeValues: {
            ':owner': S(owner),
            ':exp': N(now + ttlMs),
            ':now': N(now),
            ':zero': N(0),
            ':one': N(1),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const item = out.Attributes ?? {};
      return {
        lease: { owner, fence: Number(item.fence?.N), expiresAt: now + ttlMs },
        state: parseState(item),
      };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async checkpoint(lease: Lease, state: ExportState, ttlMs: number): Promise<Lease> {
    const expiresAt = this.now() + ttlMs;
    const set: string[] = [
      'feedSource = :source',
      'phase = :phase',
      'generation = :gen',
      'updatedAt = :updated',
      'leaseExpiresAt = :exp',
    ];
    const remove: string[] = [];
    const values: Record<string, AttributeValue> = {
      ':source': S(state.position.source),
      ':phase': S(state.position.phase),
      ':gen': N(state.generation),
      ':updated': S(state.updatedAt),
      ':exp': N(expiresAt),
      ':owner': S(lease.owner),
      ':fence': N(lease.fence),
    };
    const field = (name: string, value: string | undefined) => {
      if (value === undefined) remove.push(name);
      else {
        set.push(`${name} = :${name}`);
        values[`:${name}`] = S(value);
      }
    };
    // The legacy position's fields keep the names they had before positions were tagged by
    // source, so items written by earlier versions read back unchanged.
    const p = state.position;
    const legacySnapshot = p.source === 'legacy' && p.phase === 'snapshot' ? p : undefined;
    field('snapshotTs', legacySnapshot?.snapshotTs);
    field('snapshotCursor', legacySnapshot?.snapshotCursor);
    field('deltaCursor', p.source === 'legacy' && p.phase === 'deltas' ? p.deltaCursor : undefined);
    field('dataSyncCursor', p.source === 'data-sync' ? p.cursor : undefined);
    field('resyncCode', state.resyncNeeded?.code);
    field('resyncMessage', state.resyncNeeded?.message);
    field('resyncAt', state.resyncNeeded?.at);
    field('lastErrorMessage', state.lastError?.message);
    field('lastErrorAt', state.lastError?.at);
    field('newestEventTs', state.newestEventTs);
    field('baseSnapshotTs', state.baseSnapshotTs);
    // Added with effectively-once publication: JSON, absent in items of earlier versions.
    field('streamMark', state.streamMark && JSON.stringify(state.streamMark));
    field('lastRecovery', state.lastRecovery && JSON.stringify(state.lastRecovery));
    // Added with Data Sync and the stream lifecycle; absent in items of earlier versions.
    const json = (value: object | undefined) => value && JSON.stringify(value);
    const count = (value: number | undefined) => (value === undefined ? undefined : String(value));
    field('cursorTs', state.cursorTs);
    field('sourceStatus', json(state.sourceStatus));
    field('migration', json(state.migration));
    field('lastResync', json(state.lastResync));
    field('schemaDigests', json(state.schemaDigests));
    field('schemaCheckedAt', state.schemaCheckedAt);
    field('announcedGeneration', count(state.announcedGeneration));
    field('clearsHandled', count(state.clearsHandled));
    try {
      await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key,
          UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression: 'leaseOwner = :owner AND fence = :fence',
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new LeaseLostError(
          `lease ${lease.fence} held by ${lease.owner} was taken over; checkpoint refused`,
        );
      }
      throw error;
    }
    return { ...lease, expiresAt };
  }

  async release(lease: Lease): Promise<void> {
    try {
      await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key,
          UpdateExpression: 'REMOVE leaseOwner, leaseExpiresAt',
          ConditionExpression: 'leaseOwner = :owner AND fence = :fence',
          ExpressionAttributeValues: { ':owner': S(lease.owner), ':fence': N(lease.fence) },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async read(): Promise<StoredExport> {
    const out = await this.dynamo.send(
      new GetItemCommand({ TableName: this.tableName, Key: this.key, ConsistentRead: true }),
    );
    const item = out.Item ?? {};
    const owner = item.leaseOwner?.S;
    return {
      state: parseState(item),
      lease:
        owner === undefined
          ? undefined
          : { owner, expiresAt: Number(item.leaseExpiresAt?.N), fence: Number(item.fence?.N) },
    };
  }
}

function parseState(item: Record<string, AttributeValue>): ExportState | undefined {
  const phase = item.phase?.S;
  if (phase === undefined) return undefined;
  // Items written before positions were tagged carry no source: they are legacy exports.
  const source = item.feedSource?.S ?? 'legacy';
  if (source !== 'legacy' && source !== 'data-sync')
    throw new BridgeError(`export state has unknown source '${source}'`);
  let position: FeedPosition;
  if (source === 'data-sync') {
    if (phase !== 'snapshot' && phase !== 'changes')
      throw new BridgeError(`export state has unknown Data Sync phase '${phase}'`);
    const cursor = item.dataSyncCursor?.S;
    // Only a sync's very first request has no cursor; a later phase without one is damage.
    if (cursor === undefined && phase === 'changes')
      throw new BridgeError('export state reads Data Sync changes but has no dataSyncCursor');
    position = { source, phase, ...(cursor !== undefined ? { cursor } : {}) };
  } else if (phase === 'deltas') {
    position = { source: 'legacy', phase, deltaCursor: toDeltaCursor(item.deltaCursor?.S ?? '') };
  } else if (phase === 'snapshot') {
    const ts = item.snapshotTs?.S;
    const cursor = item.snapshotCursor?.S;
    position = {
      source: 'legacy',
      phase,
      ...(ts !== undefined ? { snapshotTs: toSnapshotTs(ts) } : {}),
      ...(cursor !== undefined ? { snapshotCursor: toSnapshotCursor(cursor) } : {}),
    };
  } else {
    throw new BridgeError(`export state has unknown phase '${phase}'`);
  }
  const code = item.resyncCode?.S;
  return {
    position,
    generation: Number(item.generation?.N ?? 1),
    updatedAt: item.updatedAt?.S ?? '',
    ...(code !== undefined
      ? { resyncNeeded: { code, message: item.resyncMessage?.S ?? '', at: item.resyncAt?.S ?? '' } }
      : {}),
    ...(item.lastErrorMessage?.S !== undefined
      ? { lastError: { message: item.lastErrorMessage.S, at: item.lastErrorAt?.S ?? '' } }
      : {}),
    ...(item.newestEventTs?.S !== undefined ? { newestEventTs: item.newestEventTs.S } : {}),
    ...(item.baseSnapshotTs?.S !== undefined ? { baseSnapshotTs: item.baseSnapshotTs.S } : {}),
    ...(item.streamMark?.S !== undefined ? { streamMark: parseMark(item.streamMark.S) } : {}),
    ...(item.lastRecovery?.S !== undefined
      ? { lastRecovery: JSON.parse(item.lastRecovery.S) as RecoveryReport }
      : {}),
    ...(item.cursorTs?.S !== undefined ? { cursorTs: item.cursorTs.S } : {}),
    ...jsonField<SourceStatus>(item, 'sourceStatus'),
    ...jsonField<MigrationRecord>(item, 'migration'),
    ...jsonField<ResyncRecord>(item, 'lastResync'),
    ...jsonField<Record<string, string>>(item, 'schemaDigests'),
    ...(item.schemaCheckedAt?.S !== undefined ? { schemaCheckedAt: item.schemaCheckedAt.S } : {}),
    ...numberField(item, 'announcedGeneration'),
    ...numberField(item, 'clearsHandled'),
  };
}

/** `{ [name]: parsed }` for an attribute holding JSON, `{}` when absent. */
function jsonField<T>(item: Record<string, AttributeValue>, name: string): Record<string, T> {
  const text = item[name]?.S;
  if (text === undefined) return {};
  try {
    return { [name]: JSON.parse(text) as T };
  } catch {
    throw new BridgeError(`export state has an unreadable ${name}: ${text.slice(0, 200)}`);
  }
}

/** Counts are stored as decimal text like the other fields (one `field` helper writes them all). */
function numberField(item: Record<string, AttributeValue>, name: string): Record<string, number> {
  const text = item[name]?.S;
  if (text === undefined) return {};
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new BridgeError(`export state has an unreadable ${name}: ${text.slice(0, 200)}`);
  return { [name]: value };
}

function parseMark(text: string): StreamMark {
  const mark = JSON.parse(text) as StreamMark;
  if (typeof mark?.at !== 'string' || typeof mark.shards !== 'object' || mark.shards === null)
    throw new BridgeError(`export state has an unreadable streamMark: ${text.slice(0, 200)}`);
  return mark;
}
