import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { KinesisStreamTail } from '../../shared/adapters/kinesis-stream-reader.js';
import { useExportRig } from './rig.js';

/**
 * After a resync the new generation's snapshot repeats eventIds (`<id>@<ts>`) that the old
 * generation already published. A recovery scan of the new generation must not take those old
 * records for its own, or it would skip the new snapshot's events.
 */
describe('stream tail across generations', () => {
  const rig = useExportRig();

  it("never reads before the generation's start, though its clock-skew allowance would", async () => {
    const { stream } = await rig.fresh(1);
    const kinesis = rig.kinesis();
    const oldEvent = { v: 1, op: 'upsert', eventId: 'doc1@1700000000000000000', id: 'doc1' };
    await kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: [{ PartitionKey: 'doc1', Data: Buffer.from(JSON.stringify(oldEvent)) }],
      }),
    );
    // The resync happens after the old record landed, well within the 5 s skew allowance.
    await new Promise((r) => setTimeout(r, 1_100));
    const at = new Date().toISOString();
    const tail = new KinesisStreamTail(kinesis, stream);

    const withoutFloor = await tail.landedSince({ shards: {}, at }, { limitPerShard: 100 });
    expect([...withoutFloor.found.keys()]).toEqual([oldEvent.eventId]);

    const withFloor = await tail.landedSince(
      { shards: {}, at, notBefore: at },
      { limitPerShard: 100 },
    );
    expect([...withFloor.found.keys()]).toEqual([]);
  });
});
