/**
 * The seeds' `/etc/quantum/*.env` files (SPEC §8), read the way systemd's
 * `EnvironmentFile=` reads them, so `--env-file F` and a unit with `EnvironmentFile=F`
 * hand the configuration the same values, and one rule for inline comments that the
 * configuration applies to every value whatever its source.
 *
 * The file, as systemd reads it (systemd's `src/basic/env-file.c`):
 * - `NAME=value`, one per line; blank lines and lines starting with `#` or `;` are skipped.
 * - Whitespace around the name, after `=` and at the end of an unquoted value is dropped.
 * - `'…'` is literal; in `"…"` a backslash escapes `"`, `\`, `` ` `` and `$`; outside
 *   quotes a backslash escapes the next character. A quoted value may span lines.
 * - A `#` after a value is NOT a comment for systemd: `P33_POLL_SEC=5   # How often…`
 *   puts `5   # How often…` in the environment.
 *
 * Lines systemd would skip or mangle without a word are refused with their line number
 * (fail closed: a setting the operator wrote is never silently dropped): a line without
 * `=`, a name that is not a variable name (`export NAME=…`), text after a closing quote
 * (systemd glues it to the value), an unterminated quote (it swallows the lines after it),
 * and a comment line ending in `\` (systemd < 254 also comments out the next line).
 *
 * The inline-comment rule (`withoutInlineComment`): a `#` at the start of a value or after
 * whitespace starts a comment that runs to the end of the value; a `#` right after another
 * character is part of the value (`pa#ss`). It applies after systemd removed the quotes, so
 * quotes do not protect ` #` — no posguard variable needs a space, and a `#` inside a URL
 * must be written `%23` anyway.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../errors.js';

/** A value without its inline comment (see the module comment), trimmed. */
export function withoutInlineComment(value: string): string {
  const at = value.search(/(^|\s)#/);
  return (at === -1 ? value : value.slice(0, at)).trim();
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BLANK = new Set([' ', '\t', '\n', '\r']);
const LINE_END = new Set(['\n', '\r']);
/** Characters a backslash escapes inside double quotes (systemd's SHELL_NEED_ESCAPE). */
const DOUBLE_QUOTE_ESCAPES = new Set(['"', '\\', '`', '$']);

type State = 'line' | 'name' | 'preValue' | 'value' | 'single' | 'double' | 'comment';

/** systemd's env-file state machine, one character at a time. */
class EnvFileParser {
  readonly env: Record<string, string> = {};
  readonly problems: string[] = [];
  private state: State = 'line';
  private line = 1;
  private startLine = 1;
  private name = '';
  private value = '';
  /** Unquoted value: its length without trailing blanks. */
  private keep = 0;
  private quoted = false;

  constructor(
    private readonly text: string,
    private readonly label: string,
  ) {}

  parse(): void {
    for (let i = 0; i < this.text.length; i += 1) {
      const c = this.text[i] as string;
      const consumed = this.step(c, this.text[i + 1], this.text[i - 1]);
      if (c === '\n') this.line += 1;
      if (consumed) {
        if (this.text[i + 1] === '\n') this.line += 1;
        i += 1;
      }
    }
    if (this.state === 'single' || this.state === 'double') {
      this.refuse(this.startLine, 'unterminated quote; close it on the same line');
    } else if (this.state === 'name') this.noEquals();
    else if (this.state === 'preValue' || this.state === 'value') this.finish();
  }

  /** Handles `c`; true when it also consumed the next character (an escape). */
  private step(c: string, next: string | undefined, previous: string | undefined): boolean {
    switch (this.state) {
      case 'line':
        if (c === '#' || c === ';') this.state = 'comment';
        else if (!BLANK.has(c)) this.startName(c);
        return false;
      case 'name':
        if (LINE_END.has(c)) this.noEquals();
        else if (c === '=') this.state = 'preValue';
        else this.name += c;
        return false;
      case 'preValue':
        return this.preValue(c, next);
      case 'value':
        if (!LINE_END.has(c)) return this.unquoted(c, next);
        this.finish();
        return false;
      case 'single':
        if (c === "'") this.closeQuote();
        else this.value += c;
        return false;
      case 'double':
        return this.doubleQuoted(c, next);
      case 'comment':
        if (!LINE_END.has(c)) return false;
        if (previous === '\\') {
          this.refuse(
            this.line,
            'a comment ending in "\\" (older systemd also comments out the next line); remove the backslash',
          );
        }
        this.state = 'line';
        return false;
    }
  }

  private startName(c: string): void {
    this.state = 'name';
    this.name = c;
    this.startLine = this.line;
  }

  private preValue(c: string, next: string | undefined): boolean {
    if (LINE_END.has(c)) {
      this.finish();
    } else if (c === "'" || c === '"') {
      if (this.quoted) this.refuse(this.line, 'more than one quoted part; quote the whole value');
      this.state = c === "'" ? 'single' : 'double';
    } else if (!BLANK.has(c)) {
      if (this.quoted) {
        this.refuse(
          this.line,
          'text after the closing quote (systemd glues it to the value); put comments on their own line',
        );
      }
      this.state = 'value';
      return this.unquoted(c, next);
    }
    return false;
  }

  /** Outside quotes a backslash escapes the next character; an escaped line end joins lines. */
  private unquoted(c: string, next: string | undefined): boolean {
    if (c === '\\' && next !== undefined) {
      if (!LINE_END.has(next)) this.value += next;
      this.keep = this.value.length;
      return true;
    }
    this.value += c;
    if (!BLANK.has(c)) this.keep = this.value.length;
    return false;
  }

  private doubleQuoted(c: string, next: string | undefined): boolean {
    if (c === '"') this.closeQuote();
    else if (c === '\\' && next !== undefined) {
      if (DOUBLE_QUOTE_ESCAPES.has(next)) this.value += next;
      else if (next !== '\n') this.value += `\\${next}`;
      return true;
    } else this.value += c;
    return false;
  }

  private closeQuote(): void {
    this.state = 'preValue';
    this.quoted = true;
  }

  private noEquals(): void {
    this.refuse(this.startLine, 'no "=" (systemd ignores the line); write NAME=value');
    this.name = '';
    this.state = 'line';
  }

  private finish(): void {
    const key = this.name.trim();
    if (VARIABLE_NAME.test(key)) {
      this.env[key] = this.state === 'value' ? this.value.slice(0, this.keep) : this.value;
    } else {
      this.refuse(
        this.startLine,
        `${JSON.stringify(key)} is not a variable name (systemd ignores the line); write NAME=value`,
      );
    }
    this.state = 'line';
    this.name = '';
    this.value = '';
    this.keep = 0;
    this.quoted = false;
  }

  private refuse(line: number, problem: string): void {
    this.problems.push(`${this.label} line ${line}: ${problem}`);
  }
}

/** Parses env-file text as systemd does; throws one ConfigError naming every refused line. */
export function parseEnvFileText(text: string, label: string): Record<string, string> {
  const parser = new EnvFileParser(text, label);
  parser.parse();
  if (parser.problems.length > 0) throw new ConfigError(parser.problems);
  return parser.env;
}

export function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`--env-file ${path}: cannot read (${errorMessage(error)})`]);
  }
  return parseEnvFileText(text, `--env-file ${path}`);
}

/**
 * The file's variables with the process environment on top: the environment wins, as
 * systemd's `Environment=` does over `EnvironmentFile=`. Values keep their inline
 * comments here; the configuration reader drops them from every value alike.
 */
export function mergeEnv(
  processEnv: NodeJS.ProcessEnv,
  envFile: string | undefined,
): Record<string, string | undefined> {
  if (!envFile) return { ...processEnv };
  return { ...readEnvFile(envFile), ...processEnv };
}
