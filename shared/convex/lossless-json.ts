import { isLosslessNumber, LosslessNumber, parse, stringify } from 'lossless-json';

/**
 * JSON with every number kept as its exact source text (a LosslessNumber). Convex sends int64
 * nanosecond timestamps as bare JSON integers; `JSON.parse` would round them to a multiple of 256.
 */
export function parseLossless(text: string): unknown {
  return parse(text);
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
