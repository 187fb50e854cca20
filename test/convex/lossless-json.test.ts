import { parse as referenceParse } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { parseLossless, stringifyLossless } from '../../shared/values/lossless-json.js';

const CASES = [
  '{"_ts":1718000000123456789,"cursor":1718000000999999999,"hasMore":false}',
  '{"values":[{"a":1e21,"b":-0,"c":0.1,"d":1.5E-7,"e":-12.50,"f":9007199254740993}]}',
  // Digits, quotes, colons and escapes inside strings must stay text.
  '{"s":"123","t":"n42","u":"s","v":"\\"1\\": 2","w":"a\\\\","x":"\\u0041\\n\\t","y":"","z":"s1"}',
  '{"key with 7 digits: 1234567":{"nested":[1,[2,[3,"4"]],{"k":5}]}}',
  '[ 1 , "two" , 3.0 , true , false , null , { } , [ ] ]',
  '  {"spaced" :  -1 , "colon after string value":"x"}  ',
  '"just a string"',
  '42',
  'null',
  // Strings and keys that really start with NUL must not be taken for tagged numbers.
  '{"\\u0000k":"\\u0000v","x":["\\u0000","\\u00001",1],"y":{"\\u0000":-2}}',
  '{"__proto__":{"polluted":1},"emoji":"😀","unicode":"\\ud83d\\ude00"}',
];

describe('parseLossless', () => {
  it.each(CASES)('parses %s exactly as the reference lossless parser', (text) => {
    const ours = parseLossless(text);
    expect(ours).toEqual(referenceParse(text));
    expect(stringifyLossless(ours)).toBe(stringifyLossless(referenceParse(text)));
  });

  it('keeps every digit of int64s and the exact text of floats', () => {
    const parsed = parseLossless('{"ts":1795866618495378769,"f":1.10,"e":1e300}') as Record<
      string,
      { value: string }
    >;
    expect(parsed.ts?.value).toBe('1795866618495378769');
    expect(parsed.f?.value).toBe('1.10');
    expect(parsed.e?.value).toBe('1e300');
  });

  it.each([
    '{"a":01}',
    '{"a":.5}',
    '{"a":1.}',
    '{"a":1.2.3}',
    '{"a":-}',
    '{"a":1e}',
    '{"a":+1}',
    '{"a":NaN}',
    '{"a":"unterminated}',
    '{"a":1 2}',
    '{"a":"raw\u0001control"}',
    '{a:1}',
    '',
  ])(
    "rejects invalid JSON %j with the reference parser's message (position in the text as given)",
    (text) => {
      let reference = '';
      try {
        referenceParse(text);
      } catch (error) {
        reference = (error as Error).message;
      }
      expect(reference).not.toBe('');
      expect(() => parseLossless(text)).toThrow(reference);
    },
  );

  it('returns flat strings: a long document value costs about its own size, not 30 times it', () => {
    const filler = 'm'.repeat(850);
    const body = `[${Array.from({ length: 2_000 }, (_, i) => `{"i":${i},"filler":"${filler}"}`).join(',')}]`;
    const before = process.memoryUsage().heapUsed;
    const parsed = parseLossless(body) as unknown[];
    const grown = process.memoryUsage().heapUsed - before;
    expect(parsed).toHaveLength(2_000);
    // 2,000 x 850 characters is 1.7 MB of text; the character-by-character parser needed ~50 MB.
    expect(grown).toBeLessThan(20 * 1024 * 1024);
  });
});
