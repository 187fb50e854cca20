import { isLosslessNumber, LosslessNumber, stringify } from 'lossless-json';

// A JSON string (a key when a colon follows), or a number token. Scanning from the start, a
// match never begins inside a string, because each string is consumed whole.
const TOKENS = /"(?:[^"\\]|\\.)*"(\s*:)?|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
const QUOTE = 34;
const STRING_TAG = 115; // 's'

/**
 * JSON with every number kept as its exact source text (a LosslessNumber). Convex sends int64
 * nanosecond timestamps as bare JSON integers; `JSON.parse` would round them to a multiple of 256.
 *
 * Numbers are first rewritten as tagged strings ("n123"; other string values get an "s" tag) so
 * the native parser does the work: a character-by-character parser (lossless-json's) builds each
 * string from one-character pieces, which for a 16,000-document page held ~30x the page size in
 * memory and took most of the CPU per event.
 */
export function parseLossless(text: string): unknown {
  const tagged = text.replace(TOKENS, (token: string, colon: string | undefined) => {
    if (token.charCodeAt(0) !== QUOTE) return `"n${token}"`;
    return colon === undefined ? `"s${token.slice(1)}` : token;
  });
  return JSON.parse(tagged, (_key, value: unknown) => {
    if (typeof value !== 'string') return value;
    return value.charCodeAt(0) === STRING_TAG ? value.slice(1) : new LosslessNumber(value.slice(1));
  });
}

/** Serialises values produced by `parseLossless` (or `int64Number`) with number text unchanged. */
export function stringifyLossless(value: unknown): string {
  const text = stringify(value);
  if (text === undefined) throw new TypeError('value cannot be serialised to JSON');
  return text;
}

/** A bare JSON integer whose text is exactly `decimal`, for request bodies. */
export function int64Number(decimal: string): LosslessNumber {
  return new LosslessNumber(decimal);
}

export { isLosslessNumber, LosslessNumber };
