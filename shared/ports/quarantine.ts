/** A message that can never be imported, with the reason it is parked. */
export interface QuarantineItem {
  /** The queue's id of the original message, kept with it. */
  readonly id: string;
  readonly body: string;
  readonly code: string;
  readonly reason: string;
  readonly table?: string;
  readonly groupId?: string;
}

export interface QuarantineFailure {
  readonly id: string;
  readonly reason: string;
}

/** Parks messages that can never succeed. Resolves with the ones that could NOT be parked, and why. */
export interface Quarantine {
  send(items: readonly QuarantineItem[]): Promise<QuarantineFailure[]>;
}
