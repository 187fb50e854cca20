import { isControlEvent, type StreamEvent } from '../events/change-event.js';
import { type ControlCopy, isLandedControl, type ShardPosition } from '../ports/event-publisher.js';

/**
 * The events still to publish: a document event found in the stream leaves `landed` and is
 * dropped (its position goes to `skipped`). A control event found is kept, since its copies may
 * cover only some shards: its copies go to `copies` (for the publisher, which then writes only
 * to the shards they leave uncovered) and their positions to `skipped`.
 *
 * A truncate the stream does not hold yet empties its table in consumers when it lands, so a
 * document of that table found in the stream after it in this replay is published again: a
 * replay that is not a copy of what crashed (Data Sync's new sync after a crash before its first
 * checkpoint) must not leave those documents only before the truncate. Found documents of the
 * table leave `landed` at once (so they no longer hold the mark back, and a recovery after a
 * later crash does not find them again); `truncated` keeps the tables (`component/table`)
 * across the batches of one run, for finds that do not say their table.
 */
export function unlanded(
  events: readonly StreamEvent[],
  landed: Map<string, ShardPosition>,
  skipped: ShardPosition[],
  copies?: Map<string, readonly ControlCopy[]>,
  truncated: Set<string> = new Set(),
): readonly StreamEvent[] {
  return events.filter((e) => {
    const at = landed.get(e.eventId);
    if (at === undefined) {
      if (e.op === 'truncate') {
        const table = `${e.component}/${e.table}`;
        truncated.add(table);
        // Finds of the table not come up yet (documents, and an abandoned attempt's control
        // events) lie before this truncate in the stream: whatever comes up later must follow
        // it again, and they must not hold the stream mark back, or the next recovery would
        // find them again and skip them.
        for (const [eventId, found] of landed) if (found.table === table) landed.delete(eventId);
      }
      return true;
    }
    landed.delete(e.eventId);
    if (!isControlEvent(e)) {
      if (truncated.has(`${e.component}/${e.table}`)) return true;
      skipped.push(at);
      return false;
    }
    // Found without its copies (a caller that kept only the position): published in full again.
    const found = isLandedControl(at) ? at.copies : [];
    skipped.push(...found);
    if (found.length > 0) copies?.set(e.eventId, [...(copies.get(e.eventId) ?? []), ...found]);
    return true;
  });
}
