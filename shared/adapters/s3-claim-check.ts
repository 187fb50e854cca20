import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DocRef } from '../events/change-event.js';
import type { ClaimCheckStore } from '../ports/event-publisher.js';

export class S3ClaimCheckStore implements ClaimCheckStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefix = 'events/',
  ) {}

  async put(key: string, body: Uint8Array): Promise<DocRef> {
    const fullKey = `${this.prefix}${key}`;
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: fullKey,
        Body: body,
        ContentType: 'application/json',
      }),
    );
    return { bucket: this.bucket, key: fullKey, bytes: body.length };
  }
}
