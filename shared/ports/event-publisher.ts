import { BridgeError } from '../errors.js';
import type {
  ChangeOp,
  ControlOp,
  DocRef,
  HashKeyRange,
  StreamEvent,
} from '../events/change-event.js';

export interface PublishResult {
  readonly records: number;
  readonly bytes: number;
  readonly calls: number;
  /** Entries sent again after a per-record or whole-call failure. */
  readonly retriedRecords: number;
  readonly throttledRecords: number;
  readonly claimChecks: number;
  readonly byOp: Readonly<Record<ChangeOp, number>>;
  /** Control events published (each counted once, however many shard copies it took). */
  readonly controls?: Readonly<Partial<Record<ControlOp, number>>>;
  /** Entries whose call's outcome was unknown and that a read of the shard found already landed. */
  readonly alreadyLanded?: number;
  /** Where this publish's records landed, per shard (the highest sequence number), at its end. */
  readonly mark?: StreamMark;
}

/**
 * One copy of a control event in the stream: where it landed, and the hash keys it speaks for
 * there (its `hashKeyRange` within the range of the shard it landed on: the effective range).
 */
export interface ControlCopy extends ShardPosition {
  readonly range: HashKeyRange;
}

/** Control events' copies already in the stream, by eventId. */
export type LandedCopies = ReadonlyMap<string, readonly ControlCopy[]>;

export interface PublishOptions {
  /**
   * Copies a crashed or taken-over run already wrote (from a recovery scan): a control event
   * listed here goes only to the open shards these copies do not cover; if they cover every
   * open shard, nothing is written for it.
   */
  readonly landedCopies?: LandedCopies;
}

/**
 * Publishes events durably: resolves only when every event is in the stream, with each
 * document's events in the order given. A control event goes to every open shard (one copy
 * each), after every event before it is acknowledged and before any event after it is sent.
 * Throws PublishError when that cannot be done. A wrapper must pass `options` on.
 */
export interface EventPublisher {
  publish(
    events: readonly StreamEvent[],
    signal?: AbortSignal,
    options?: PublishOptions,
  ): Promise<PublishResult>;
}

/** Some events could not be published; nothing after them may be checkpointed. */
export class PublishError extends BridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PublishError';
  }
}

/** Stores an event too large for one stream record; the key is deterministic, so replays overwrite. */
export interface ClaimCheckStore {
  put(key: string, body: Uint8Array): Promise<DocRef>;
}

/** A record of ours seen in the stream: its shard and sequence number (for where to read again). */
export interface ShardPosition {
  readonly shard: string;
  readonly seq: string;
  /** For a document event found by a scan: its `component/table`. */
  readonly table?: string;
}

/**
 * `LandedScan.found`'s entry for a control event: its first copy's position, and every copy
 * found. A control event found this way is not skipped like a document event: it is published
 * again with these copies, so only the shards they do not cover get one.
 */
export interface LandedControl extends ShardPosition {
  readonly copies: readonly ControlCopy[];
}

export const isLandedControl = (at: ShardPosition): at is LandedControl =>
  'copies' in at && Array.isArray((at as LandedControl).copies);

/**
 * Where the exporter's own writes stand in the stream, saved with each checkpoint. Per shard the
 * position after which writes of ours are not yet accounted for (`inclusive`: at it, not after);
 * a shard not listed held nothing of ours written before `at` (ISO time). The use case stores it
 * and merges publish results into it, and never reads a shard's stream itself.
 */
export interface StreamMark {
  readonly shards: Readonly<Record<string, { readonly seq: string; readonly inclusive?: true }>>;
  readonly at: string;
  /**
   * When this generation of the export started (ISO time): records before it are an earlier
   * generation's, whose eventIds a new snapshot repeats, so a scan never reads before it.
   */
  readonly notBefore?: string;
}

/** What a scan after a mark found: events already in the stream, and what reading them cost. */
export interface LandedScan {
  /**
   * eventId → where its (first) record is. Document events: only from shards whose earlier
   * history was read in full. Control events: a LandedControl carrying every copy found.
   */
  readonly found: ReadonlyMap<string, ShardPosition>;
  /** Control events' copies found (on any shard read), eventId → copies with effective ranges. */
  readonly copies: LandedCopies;
  /** Every shard was read to its tip (or end); false when a limit, trim or error stopped one. */
  readonly complete: boolean;
  readonly shards: number;
  readonly records: number;
  readonly bytes: number;
  /** GetRecords-style read calls made. */
  readonly calls: number;
}

/**
 * Reads what already landed in the stream after a mark, so a recovering run publishes only the
 * rest (effectively once). Never returns an eventId that is not in the stream; may miss some
 * (then they are published again, as at-least-once allows). Throws when the stream cannot be read.
 */
export interface StreamTail {
  landedSince(
    mark: StreamMark,
    options: { readonly limitPerShard: number; readonly signal?: AbortSignal },
  ): Promise<LandedScan>;
}
