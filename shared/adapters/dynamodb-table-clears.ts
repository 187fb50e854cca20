import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { BridgeError } from '../errors.js';
import { STATE_TABLE_KEY } from '../names.js';
import type { TableClear, TableClearLog } from '../ports/lifecycle.js';

const ATTRIBUTE = 'tableClears';

/**
 * The clears recorded for one export, kept on its state item as an append-only list. Appending
 * needs no lease (the exporter never writes this attribute), so `clear-tables` can record while
 * an export runs; the exporter counts what it handled in its own state.
 */
export class DynamoDbTableClearLog implements TableClearLog {
  private readonly key: Record<string, AttributeValue>;

  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    exportId: string,
  ) {
    this.key = { [STATE_TABLE_KEY]: { S: `export#${exportId}` } };
  }

  async record(clear: TableClear): Promise<void> {
    await this.dynamo.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key,
        UpdateExpression: `SET ${ATTRIBUTE} = list_append(if_not_exists(${ATTRIBUTE}, :none), :one)`,
        ExpressionAttributeValues: {
          ':none': { L: [] },
          ':one': {
            L: [
              {
                M: {
                  component: { S: clear.component },
                  table: { S: clear.table },
                  before: { S: clear.before },
                  recordedAt: { S: clear.recordedAt },
                },
              },
            ],
          },
        },
      }),
    );
  }

  async list(): Promise<readonly TableClear[]> {
    const out = await this.dynamo.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: this.key,
        ConsistentRead: true,
        ProjectionExpression: ATTRIBUTE,
      }),
    );
    return (out.Item?.[ATTRIBUTE]?.L ?? []).map((entry, i) => {
      const m = entry.M ?? {};
      const component = m.component?.S;
      const table = m.table?.S;
      const before = m.before?.S;
      if (
        component === undefined ||
        table === undefined ||
        before === undefined ||
        !/^\d+$/.test(before)
      )
        throw new BridgeError(`the state item's ${ATTRIBUTE}[${i}] is unreadable`);
      return { component, table, before, recordedAt: m.recordedAt?.S ?? '' };
    });
  }
}
