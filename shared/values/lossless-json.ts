import { isLosslessNumber, LosslessNumber, parse as parseSlowly, stringify } from 'lossless-json';

const QUOTE = 34;
const BACKSLASH = 92;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;
// A number token is tagged as a string starting with NUL. A real string can only start with NUL
// if the JSON spells it "\u0000…"; such strings get a second NUL, so the tag stays unambiguous.
const TAG = '\\u0000';

function isNumberChar(code: number): boolean {
  // digits, '-', '+', '.', 'e', 'E'
  return (
    (code >= ZERO && code <= NINE) ||
    code === MINUS ||
    code === 43 ||
    code === 46 ||
    code === 101 ||
    code === 69
  );
}

/** Rewrites number tokens as tagged strings, skipping over strings; one pass, no per-token regex. */
function tagNumbers(text: string): string {
  const parts: string[] = [];
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      let end = text.indexOf('"', i + 1);
      while (end > 0) {
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (end < 0) break; // unterminated: JSON.parse reports it
      if (text.charCodeAt(i + 1) === BACKSLASH && text.startsWith(TAG, i + 1)) {
        parts.push(text.slice(copied, i + 1), TAG);
        copied = i + 1;
      }
      i = end + 1;
    } else if (code === MINUS || (code >= ZERO && code <= NINE)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      parts.push(text.slice(copied, i), `"${TAG}`, text.slice(i, end), '"');
      copied = end;
      i = end;
    } else {
      i++;
    }
  }
  parts.push(text.slice(copied));
  return parts.join('');
}

function untag(value: string): string | LosslessNumber {
  // Throws on anything that is not a JSON number (e.g. "01" or "1."), as a JSON parser would.
  return value.charCodeAt(1) === 0 ? value.slice(1) : new LosslessNumber(value.slice(1));
}

function revive(value: unknown): unknown {
  if (typeof value === 'string') return value.charCodeAt(0) === 0 ? untag(value) : value;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  let renamed = false;
  for (const key of Object.keys(record)) {
    record[key] = revive(record[key]);
    if (key.charCodeAt(0) === 0) renamed = true;
  }
  if (!renamed) return record;
  // A key spelled "\u0000…" was given a second NUL too; rebuild to keep the key order.
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(record))
    out[key.charCodeAt(0) === 0 ? key.slice(1) : key] = v;
  return out;
}

/**
 * JSON with every number kept as its exact source text (a LosslessNumber). Convex sends int64
 * nanosecond timestamps as bare JSON integers; `JSON.parse` would round them to a multiple of 256.
 *
 * Numbers are first rewritten as tagged strings so the native parser does the work: a
 * character-by-character parser (lossless-json's) builds each string from one-character pieces,
 * which for a 16,000-document page held ~30x the page size in memory.
 */
export function parseLossless(text: string): unknown {
  try {
    return revive(JSON.parse(tagNumbers(text)));
  } catch (error) {
    // The native parser's positions refer to the tagged text; the character-by-character parser
    // names the fault in the text as given, which is worth its cost on this rare path.
    parseSlowly(text);
    throw error;
  }
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
