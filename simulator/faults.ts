/** What an injected fault does to one request instead of (or before) answering it normally. */
export type FaultAction =
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly code?: string;
      readonly message?: string;
    }
  /** Destroys the connection without answering. */
  | { readonly kind: 'reset' }
  /** Sends the real answer's headers and half its body, then closes. */
  | { readonly kind: 'truncate' }
  /** Never answers; the client's timeout must fire. */
  | { readonly kind: 'hang' }
  | { readonly kind: 'delay'; readonly ms: number }
  /** import_airbyte_records commits this many records, then fails with 500 (Convex is not atomic). */
  | { readonly kind: 'partialImport'; readonly records: number };

export interface FaultRule {
  /** Applies to requests whose path ends with this (e.g. `document_deltas`); all Convex routes if absent. */
  readonly path?: string;
  readonly action: FaultAction;
  /** How many matching requests this rule consumes; default 1. */
  readonly times?: number;
}

export interface FaultRate {
  readonly path?: string;
  readonly rate: number;
  readonly action: FaultAction;
  readonly seed?: number;
}

export interface FaultSettings {
  readonly script?: readonly FaultRule[];
  readonly failRate?: FaultRate;
  readonly latencyMs?: number;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const matches = (rulePath: string | undefined, path: string) =>
  rulePath === undefined || path.endsWith(rulePath);

/** Scripted faults are consumed in order; a random rate applies after the script has none left. */
export class Faults {
  private script: { rule: FaultRule; left: number }[] = [];
  private rate: FaultRate | undefined;
  private random: () => number = Math.random;
  latencyMs = 0;

  configure(settings: FaultSettings): void {
    if (settings.script)
      this.script = settings.script.map((rule) => ({ rule, left: rule.times ?? 1 }));
    if (settings.failRate) {
      this.rate = settings.failRate;
      this.random = mulberry32(settings.failRate.seed ?? 1);
    }
    if (settings.latencyMs !== undefined) this.latencyMs = settings.latencyMs;
  }

  clear(): void {
    this.script = [];
    this.rate = undefined;
    this.latencyMs = 0;
  }

  /** Scripted rules not yet consumed; tests assert this reaches 0. */
  get pending(): number {
    return this.script.reduce((n, s) => n + s.left, 0);
  }

  next(path: string): FaultAction | undefined {
    const slot = this.script.find((s) => s.left > 0 && matches(s.rule.path, path));
    if (slot) {
      slot.left--;
      return slot.rule.action;
    }
    if (this.rate && matches(this.rate.path, path) && this.random() < this.rate.rate)
      return this.rate.action;
    return undefined;
  }
}
