/**
 * The literal text of a JSON object's top-level number members.
 *
 * `JSON.parse` turns `0.1000000000000000055511151231257827` into the nearest double, but a
 * permit's `safe_close_qty` must come out exactly as the brain wrote it (SPEC §2). Node 20
 * has no JSON.parse source-text access, so this small scanner walks the (already valid)
 * JSON text and records the raw text of each top-level number member. Nested values are
 * skipped. Returns null when the text is not a JSON object.
 */
const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  skipWs(): void {
    while (this.pos < this.text.length && WS.has(this.text[this.pos] ?? '')) this.pos += 1;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** Reads a JSON string starting at the current quote; returns its decoded value. */
  string(): string {
    const start = this.pos;
    this.pos += 1;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === '\\') this.pos += 2;
      else if (ch === '"') {
        this.pos += 1;
        return JSON.parse(this.text.slice(start, this.pos)) as string;
      } else this.pos += 1;
    }
    throw new Error('unterminated string');
  }

  /** Skips any JSON value; returns the raw text when it was a number. */
  value(): string | null {
    const ch = this.peek();
    if (ch === '"') {
      this.string();
      return null;
    }
    if (ch === '{' || ch === '[') {
      this.skipNested();
      return null;
    }
    NUMBER_RE.lastIndex = this.pos;
    const match = NUMBER_RE.exec(this.text);
    if (match) {
      this.pos += match[0].length;
      return match[0];
    }
    const word = /true|false|null/y;
    word.lastIndex = this.pos;
    const literal = word.exec(this.text);
    if (!literal) throw new Error(`unexpected ${JSON.stringify(ch)} at ${this.pos}`);
    this.pos += literal[0].length;
    return null;
  }

  private skipNested(): void {
    let depth = 0;
    do {
      const ch = this.peek();
      if (ch === '"') {
        this.string();
        continue;
      }
      if (ch === '{' || ch === '[') depth += 1;
      else if (ch === '}' || ch === ']') depth -= 1;
      else if (ch === '') throw new Error('unterminated value');
      this.pos += 1;
    } while (depth > 0);
  }
}

export function topLevelRawNumbers(json: string): Map<string, string> | null {
  const scanner = new Scanner(json);
  const numbers = new Map<string, string>();
  try {
    scanner.skipWs();
    if (scanner.peek() !== '{') return null;
    scanner.pos += 1;
    scanner.skipWs();
    if (scanner.peek() === '}') return numbers;
    for (;;) {
      scanner.skipWs();
      const key = scanner.string();
      scanner.skipWs();
      if (scanner.peek() !== ':') return null;
      scanner.pos += 1;
      scanner.skipWs();
      const raw = scanner.value();
      if (raw !== null) numbers.set(key, raw);
      scanner.skipWs();
      const sep = scanner.peek();
      scanner.pos += 1;
      if (sep === '}') return numbers;
      if (sep !== ',') return null;
    }
  } catch {
    return null;
  }
}
