import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SimError } from './sim-error.js';

/** A tablet the sync has captured, with the name it had then (a new tablet under it is a replace). */
export interface NamedTablet {
  readonly tablet: string;
  readonly component: string;
  readonly table: string;
}

export interface InProgressTablet extends NamedTablet {
  /** Internal id (hex) of the last document walked; null before the walk's first document. */
  readonly currentId: string | null;
  readonly docsInTable: number;
}

/** Everything a Data Sync continues from; the client holds it, the simulator keeps nothing. */
export interface SyncCursor {
  readonly syncId: string;
  /** Every captured document has been emitted at its newest revision at or before this. */
  readonly syncedTs: bigint;
  /** Tables walked to the end at `syncedTs`. */
  readonly synced: readonly NamedTablet[];
  /** The table being walked by id; null once every selected table has been walked. */
  readonly inProgress: InProgressTablet | null;
  readonly docsSynced: number;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const INT64_MAX = 2n ** 63n - 1n;
const TABLET = /^[A-Za-z0-9_-]{22}$/;
const INTERNAL_ID = /^[0-9a-f]{32}$/;

export const invalidCursor = () =>
  new SimError(400, 'InvalidDataSyncCursor', 'Could not parse the data sync cursor');

export function sealCursor(cursor: SyncCursor, key: Buffer): string {
  const state = {
    v: 1,
    id: cursor.syncId,
    ts: cursor.syncedTs.toString(),
    s: cursor.synced.map((t) => [t.tablet, t.component, t.table]),
    p: cursor.inProgress && [
      cursor.inProgress.tablet,
      cursor.inProgress.component,
      cursor.inProgress.table,
      cursor.inProgress.currentId,
      cursor.inProgress.docsInTable,
    ],
    n: cursor.docsSynced,
  };
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(state), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

export function openCursor(token: string, key: Buffer): SyncCursor {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw invalidCursor();
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length <= IV_BYTES + TAG_BYTES) throw invalidCursor();
  let state: unknown;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
    state = JSON.parse(plain.toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const cursor = fromState(state);
  if (!cursor) throw invalidCursor();
  return cursor;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function namedTablet(raw: unknown): NamedTablet | undefined {
  if (!Array.isArray(raw)) return undefined;
  const [tablet, component, table] = raw as unknown[];
  if (typeof tablet !== 'string' || !TABLET.test(tablet)) return undefined;
  if (typeof component !== 'string' || typeof table !== 'string') return undefined;
  return { tablet, component, table };
}

function fromState(raw: unknown): SyncCursor | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { v, id, ts, s, p, n } = raw as Record<string, unknown>;
  if (v !== 1 || typeof id !== 'string' || id === '' || !isCount(n)) return undefined;
  if (typeof ts !== 'string' || !/^[0-9]{1,19}$/.test(ts) || BigInt(ts) > INT64_MAX)
    return undefined;
  if (!Array.isArray(s)) return undefined;
  const synced = s.map(namedTablet);
  if (synced.some((t) => t === undefined)) return undefined;
  let inProgress: InProgressTablet | null = null;
  if (p !== null) {
    const named = namedTablet(p);
    const [, , , currentId, docsInTable] = (Array.isArray(p) ? p : []) as unknown[];
    if (!named || !isCount(docsInTable)) return undefined;
    if (currentId !== null && (typeof currentId !== 'string' || !INTERNAL_ID.test(currentId)))
      return undefined;
    inProgress = { ...named, currentId, docsInTable };
  }
  return {
    syncId: id,
    syncedTs: BigInt(ts),
    synced: synced as NamedTablet[],
    inProgress,
    docsSynced: n,
  };
}
