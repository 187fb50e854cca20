import { describe, expect, it } from 'vitest';
import { StreamingObjectParser } from '../../shared/convex/data-sync-page-parser.js';
import { convertExportJson } from '../../shared/convex/data-sync-values.js';
import {
  isLosslessNumber,
  LosslessNumber,
  parseLossless,
  stringifyLossless,
} from '../../shared/values/lossless-json.js';
import { mulberry32 } from '../helpers/seeded-random.js';

/** Feeds `text` in chunks cut at the given byte offsets. */
function parseInChunks(text: string, cuts: number[], parser = new StreamingObjectParser()) {
  const bytes = Buffer.from(text, 'utf8');
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b)]) {
    parser.write(bytes.subarray(from, cut));
    from = cut;
  }
  parser.write(bytes.subarray(from));
  return parser.end();
}

/** A random JSON value with the awkward parts: escapes, multi-byte UTF-8, big ints, floats. */
function randomValue(rand: () => number, depth: number): string {
  const pick = Math.floor(rand() * (depth > 3 ? 5 : 7));
  const strings = ['', 'a"b', 'back\\slash', 'é€😀', '\\u0000x', 'line\nbreak', '}]{[,:'];
  switch (pick) {
    case 0:
      return JSON.stringify(strings[Math.floor(rand() * strings.length)]);
    case 1:
      return ['1718000001000000007', '-9223372036854775808', '0', '2.0', '-0.0', '1e21', '1.5e-7'][
        Math.floor(rand() * 7)
      ] as string;
    case 2:
      return ['true', 'false', 'null'][Math.floor(rand() * 3)] as string;
    case 3:
      return JSON.stringify('x'.repeat(Math.floor(rand() * 300)));
    case 4:
      return `"${'\\\\'.repeat(Math.floor(rand() * 5))}"`;
    case 5: {
      const n = Math.floor(rand() * 4);
      return `[ ${Array.from({ length: n }, () => randomValue(rand, depth + 1)).join(' , ')} ]`;
    }
    default: {
      const n = Math.floor(rand() * 4);
      const fields = Array.from(
        { length: n },
        (_, i) =>
          `"k${i}${strings[i % strings.length]?.replace(/["\\\n]/g, '')}" : ${randomValue(rand, depth + 1)}`,
      );
      return `{${fields.join(',')}}`;
    }
  }
}

describe('streaming page parser', () => {
  it('parses exactly as the whole-text lossless parser does, wherever the chunks are cut', () => {
    const rand = mulberry32(12);
    for (let round = 0; round < 300; round++) {
      const values = Array.from({ length: Math.floor(rand() * 6) }, () => randomValue(rand, 1));
      const text = ` { "status" : ${randomValue(rand, 1)} , "values" : [ ${values.join(' ,\n')} ] , "n": 5 , "s":"x\\"y" } `;
      const length = Buffer.byteLength(text);
      const cuts = Array.from({ length: Math.floor(rand() * 12) }, () =>
        Math.floor(rand() * length),
      );
      // Also every single-byte chunk now and then: every boundary at once.
      const all = round % 25 === 0 ? Array.from({ length }, (_, i) => i) : cuts;
      const parsed = parseInChunks(text, all);
      expect(stringifyLossless(parsed), text).toBe(stringifyLossless(parseLossless(text)));
    }
  });

  it('keeps int64 and float text exact and hands each array element to the mapper once', () => {
    const seen: Array<[string, number]> = [];
    const parser = new StreamingObjectParser((member, element, index) => {
      seen.push([member, index]);
      return { wrapped: element };
    });
    const out = parseInChunks(
      '{"values":[{"n":1718000001000000007},{"x":2.0}],"truncates":[],"syncId":"s"}',
      [5, 17, 30],
      parser,
    );
    expect(seen).toEqual([
      ['values', 0],
      ['values', 1],
    ]);
    const [first, second] = out.values as Array<{ wrapped: Record<string, LosslessNumber> }>;
    expect(first?.wrapped.n?.value).toBe('1718000001000000007');
    expect(second?.wrapped.x?.value).toBe('2.0');
    expect(out.truncates).toEqual([]);
  });

  it.each([
    ['a body that ends early', '{"values":[{"a":1}', /ended before the object/],
    ['text after the object', '{"a":1} x', /after the end of the object at byte 8/],
    ['a missing colon', '{"a" 1}', /expected ':', found '1' at byte 5/],
    ['a top level that is not an object', '[1]', /expected '\{'/],
    ['a malformed element', '{"values":[{"a":01}]}', /./],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseInChunks(text, [3])).toThrow(message);
  });

  it('holds an escape split from the character it escapes across two chunks', () => {
    const text = '{"s":"a\\"b\\\\","t":"\\u00e9"}';
    for (let cut = 1; cut < text.length; cut++)
      expect(parseInChunks(text, [cut])).toEqual({ s: 'a"b\\', t: 'é' });
  });
});

describe('export_json values in the configured format', () => {
  const exported = () =>
    parseLossless(
      '{"_id":"x","_creationTime":1700000000000.5,"n":-5,"big":9223372036854775807,"f":2.0,"z":-0.0,' +
        '"nan":{"$float":"AAAAAAAA+H8="},"inf":{"$float":"AAAAAAAA8H8="},"ninf":{"$float":"AAAAAAAA8P8="},' +
        '"b":{"$bytes":"AAE="},"nested":[{"k":7},[1.5]]}',
    ) as Record<string, unknown>;

  it('json (clean): int64 as decimal strings, bytes as base64, NaN and infinities by name', () => {
    expect(stringifyLossless(convertExportJson(exported(), 'json'))).toBe(
      '{"_id":"x","_creationTime":1700000000000.5,"n":"-5","big":"9223372036854775807","f":2.0,"z":-0.0,' +
        '"nan":"NaN","inf":"Infinity","ninf":"-Infinity","b":"AAE=","nested":[{"k":"7"},[1.5]]}',
    );
  });

  it('convex_encoded_json: int64 and -0.0 as little-endian base64, $bytes and $float kept', () => {
    const out = convertExportJson(exported(), 'convex_encoded_json');
    expect(out.n).toEqual({ $integer: '+/////////8=' });
    expect(out.big).toEqual({ $integer: '/////////38=' });
    expect(out.z).toEqual({ $float: 'AAAAAAAAAIA=' });
    expect(out.nan).toEqual({ $float: 'AAAAAAAA+H8=' });
    expect(out.b).toEqual({ $bytes: 'AAE=' });
    expect(isLosslessNumber(out.f) && out.f.value).toBe('2.0');
    expect(out.nested).toEqual([{ k: { $integer: 'BwAAAAAAAAA=' } }, [new LosslessNumber('1.5')]]);
  });

  it('export_json: unchanged', () => {
    const doc = exported();
    const text = stringifyLossless(doc);
    expect(stringifyLossless(convertExportJson(doc, 'export_json'))).toBe(text);
  });
});
