import { parseLossless } from '../values/lossless-json.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const ends = (b: number) => b === COMMA || b === RBRACE || b === RBRACKET || isSpace(b);

/**
 * The next quote and backslash at or after a position of the chunk at hand. Shared by every value
 * of the chunk so the chunk is searched once however many strings it holds (a fresh search per
 * string would scan ahead to the chunk's end each time when it holds no backslash).
 */
class Finder {
  private chunk: Buffer | undefined;
  private quote = -1;
  private slash = -1;

  nextQuote(chunk: Buffer, i: number): number {
    this.sync(chunk);
    if (this.quote < i) this.quote = indexOr(chunk, QUOTE, i);
    return this.quote;
  }

  nextSlash(chunk: Buffer, i: number): number {
    this.sync(chunk);
    if (this.slash < i) this.slash = indexOr(chunk, BACKSLASH, i);
    return this.slash;
  }

  private sync(chunk: Buffer): void {
    if (this.chunk === chunk) return;
    this.chunk = chunk;
    this.quote = -1;
    this.slash = -1;
  }
}

/**
 * The bytes of one JSON value, gathered across chunks. It only finds where the value ends
 * (strings, escapes, nesting); parsing is left to `parseLossless` once the value is whole.
 */
class ValueBytes {
  private readonly parts: Buffer[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(
    private readonly scalar: boolean,
    private readonly find: Finder,
  ) {}

  /** Scans from `from`; the index just past the value, or -1 when it goes on in the next chunk. */
  scan(chunk: Buffer, from: number): number {
    const n = chunk.length;
    if (this.scalar) {
      let i = from;
      while (i < n && !ends(chunk[i] as number)) i++;
      this.parts.push(chunk.subarray(from, i));
      return i < n ? i : -1;
    }
    let i = from;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        const quote = this.find.nextQuote(chunk, i);
        const slash = this.find.nextSlash(chunk, i);
        if (slash < quote) {
          // Skip the backslash and the character it escapes (which may be in the next chunk).
          i = slash + 2;
          if (i > n) this.escaped = true;
          continue;
        }
        if (quote >= n) break;
        this.inString = false;
        i = quote + 1;
        if (this.depth === 0) return this.take(chunk, from, i);
        continue;
      }
      const b = chunk[i] as number;
      i++;
      if (b === QUOTE) this.inString = true;
      else if (b === LBRACE || b === LBRACKET) this.depth++;
      else if ((b === RBRACE || b === RBRACKET) && --this.depth === 0)
        return this.take(chunk, from, i);
    }
    this.parts.push(chunk.subarray(from));
    return -1;
  }

  private take(chunk: Buffer, from: number, end: number): number {
    this.parts.push(chunk.subarray(from, end));
    return end;
  }

  /** The value's text; whole, so a UTF-8 sequence split between chunks decodes correctly. */
  text(): string {
    const [only] = this.parts;
    return this.parts.length === 1 && only
      ? only.toString('utf8')
      : Buffer.concat(this.parts).toString('utf8');
  }
}

function indexOr(chunk: Buffer, byte: number, from: number): number {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? chunk.length : at;
}

type State =
  | 'start'
  | 'key-or-end'
  | 'key'
  | 'key-in'
  | 'colon'
  | 'value'
  | 'value-in'
  | 'element-or-end'
  | 'element'
  | 'element-in'
  | 'after-element'
  | 'after-value'
  | 'done';

/** Each element of an array member, as it completes; returns what to keep in its place. */
export type ElementMapper = (member: string, element: unknown, index: number) => unknown;

/**
 * A JSON object parsed from its bytes as they arrive, for bodies too large to hold twice (Data
 * Sync pages reach 64 MiB, docs/convex-api.md §5). Each element of a member that is an array is
 * parsed on its own as soon as its last byte arrives, every number keeping its exact text
 * (`parseLossless`); other members are parsed whole. What stays in memory is the result, one
 * element's bytes and the chunk at hand: never the body as one string, nor a copy of it.
 */
export class StreamingObjectParser {
  private state: State = 'start';
  private readonly result: Record<string, unknown> = {};
  private key = '';
  private bytes: ValueBytes | undefined;
  private array: unknown[] = [];
  private offset = 0;
  private readonly find = new Finder();

  constructor(private readonly mapElement: ElementMapper = (_m, element) => element) {}

  write(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const state = this.state;
      if (state === 'key-in' || state === 'value-in' || state === 'element-in') {
        const end = (this.bytes as ValueBytes).scan(chunk, i);
        if (end < 0) break;
        i = end;
        this.complete(state);
        continue;
      }
      const b = chunk[i] as number;
      if (isSpace(b)) {
        i++;
        continue;
      }
      switch (state) {
        case 'start':
          this.expect(b, LBRACE, i);
          this.state = 'key-or-end';
          i++;
          break;
        case 'key-or-end':
        case 'key':
          if (b === RBRACE && state === 'key-or-end') {
            this.state = 'done';
            i++;
            break;
          }
          this.expect(b, QUOTE, i);
          this.begin('key-in', false);
          break;
        case 'colon':
          this.expect(b, COLON, i);
          this.state = 'value';
          i++;
          break;
        case 'value':
          if (b === LBRACKET) {
            this.array = [];
            this.result[this.key] = this.array;
            this.state = 'element-or-end';
            i++;
          } else {
            this.begin('value-in', b !== LBRACE && b !== QUOTE);
          }
          break;
        case 'element-or-end':
        case 'element':
          if (b === RBRACKET && state === 'element-or-end') {
            this.state = 'after-value';
            i++;
            break;
          }
          this.begin('element-in', b !== LBRACE && b !== LBRACKET && b !== QUOTE);
          break;
        case 'after-element':
          if (b !== COMMA) this.expect(b, RBRACKET, i);
          this.state = b === COMMA ? 'element' : 'after-value';
          i++;
          break;
        case 'after-value':
          if (b !== COMMA) this.expect(b, RBRACE, i);
          this.state = b === COMMA ? 'key' : 'done';
          i++;
          break;
        default:
          throw this.fault(i, 'text after the end of the object');
      }
    }
    this.offset += n;
  }

  /** The object; throws when the body ended before it did. */
  end(): Record<string, unknown> {
    if (this.state !== 'done') throw new SyntaxError('JSON body ended before the object did');
    return this.result;
  }

  private begin(state: 'key-in' | 'value-in' | 'element-in', scalar: boolean): void {
    this.bytes = new ValueBytes(scalar, this.find);
    this.state = state;
  }

  private complete(state: 'key-in' | 'value-in' | 'element-in'): void {
    const text = (this.bytes as ValueBytes).text();
    this.bytes = undefined;
    if (state === 'key-in') {
      this.key = JSON.parse(text) as string;
      this.state = 'colon';
    } else if (state === 'value-in') {
      this.result[this.key] = parseLossless(text);
      this.state = 'after-value';
    } else {
      const index = this.array.length;
      this.array.push(this.mapElement(this.key, parseLossless(text), index));
      this.state = 'after-element';
    }
  }

  private expect(b: number, wanted: number, i: number): void {
    if (b !== wanted)
      throw this.fault(
        i,
        `expected '${String.fromCharCode(wanted)}', found '${String.fromCharCode(b)}'`,
      );
  }

  private fault(i: number, what: string): SyntaxError {
    return new SyntaxError(`JSON body: ${what} at byte ${this.offset + i}`);
  }
}
