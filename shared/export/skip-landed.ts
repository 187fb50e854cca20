import { isControlEvent, type StreamEvent } from '../events/change-event.js';
import { type ControlCopy, isLandedControl, type ShardPosition } from '../ports/event-publisher.js';

/**
 * The events still to publish: a document event found in the stream leaves `landed` and is
 * dropped (its position goes to `skipped`). A control event found is kept, since its copies may
 * cover only some shards: its copies go to `copies` (for the publisher, which then writes only
 * to the shards they leave uncovered) and their positions to `skipped`.
 */
export function unlanded(
  events: readonly StreamEvent[],
  landed: Map<string, ShardPosition>,
  skipped: ShardPosition[],
  copies?: Map<string, readonly ControlCopy[]>,
): readonly StreamEvent[] {
  return events.filter((e) => {
    const at = landed.get(e.eventId);
    if (at === undefined) return true;
    landed.delete(e.eventId);
    if (!isControlEvent(e)) {
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
