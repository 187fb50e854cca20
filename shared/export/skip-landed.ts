import type { StreamEvent } from '../events/change-event.js';
import type { ShardPosition } from '../ports/event-publisher.js';

/** The events not found in the stream; the found ones leave `landed` (they came up). */
export function unlanded(
  events: readonly StreamEvent[],
  landed: Map<string, ShardPosition>,
  skipped: ShardPosition[],
): readonly StreamEvent[] {
  return events.filter((e) => {
    const at = landed.get(e.eventId);
    if (at === undefined) return true;
    landed.delete(e.eventId);
    skipped.push(at);
    return false;
  });
}
