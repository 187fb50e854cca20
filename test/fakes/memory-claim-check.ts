import type { DocRef } from '../../shared/events/change-event.js';
import type { ClaimCheckStore } from '../../shared/ports/event-publisher.js';

/** A bucket in memory: a put under the same key overwrites, as S3 does on a replay. */
export class MemoryClaimCheckStore implements ClaimCheckStore {
  readonly objects = new Map<string, Uint8Array>();

  constructor(private readonly bucket = 'claim-checks') {}

  async put(key: string, body: Uint8Array): Promise<DocRef> {
    await Promise.resolve();
    this.objects.set(key, Uint8Array.from(body));
    return { bucket: this.bucket, key, bytes: body.byteLength };
  }
}
