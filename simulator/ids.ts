import { randomBytes } from 'node:crypto';

// Convex's base32 alphabet (crates/value/src/base32.rs): digits and lower-case letters minus i, l, o, u.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    buffer = ((buffer << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function fletcher16(bytes: readonly number[]): [number, number] {
  let a = 0;
  let b = 0;
  for (const x of bytes) {
    a = (a + x) % 255;
    b = (b + a) % 255;
  }
  return [b, a];
}

/** A document id shaped like Convex's v6 ids: varint table number, 16-byte internal id, checksum. */
export function encodeDocumentId(tableNumber: number, internalId: Uint8Array): string {
  const bytes = [...varint(tableNumber), ...internalId];
  return base32(Uint8Array.from([...bytes, ...fletcher16(bytes)]));
}

/** Returns the internal id as hex (its sort key), or undefined for text that is not one of our ids. */
export function decodeDocumentId(
  id: string,
): { tableNumber: number; internalHex: string } | undefined {
  const bytes = unbase32(id);
  if (!bytes || bytes.length < 19) return undefined;
  let tableNumber = 0;
  let i = 0;
  for (let shift = 0; i < bytes.length; i++, shift += 7) {
    const b = bytes[i] as number;
    tableNumber |= (b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  const body = Array.from(bytes.subarray(0, i + 17));
  const [c1, c2] = fletcher16(body);
  if (bytes.length !== i + 19 || bytes[i + 17] !== c1 || bytes[i + 18] !== c2) return undefined;
  return { tableNumber, internalHex: Buffer.from(bytes.subarray(i + 1, i + 17)).toString('hex') };
}

export function newInternalId(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}

/** Tablet ids are 16-byte internal ids in URL-safe base64 without padding (22 chars). */
export function newTabletId(): string {
  return randomBytes(16).toString('base64url');
}

/** The smallest possible id of a table, used as the exclusive start of a table in snapshot cursors. */
export function minimumDocumentId(tableNumber: number): string {
  return encodeDocumentId(tableNumber, new Uint8Array(16));
}
