/**
 * The services' own logger (createLogger: JSON, secrets redacted) writing into memory, so a
 * test can read the lines back, parsed.
 */
import { Writable } from 'node:stream';
import type { Level } from 'pino';
import { type Logger, createLogger } from '../../src/observability/logger.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface CapturedLogs {
  logger: Logger;
  /** Every line written so far, parsed. */
  lines: LogLine[];
  /** Lines whose message or fields contain `text`. */
  matching(text: string): LogLine[];
  /** Everything written, as written (what a grep of the service's output would see). */
  text(): string;
}

export function captureLogs(level: Level = 'debug', name = 'test'): CapturedLogs {
  const lines: LogLine[] = [];
  const written: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = chunk.toString('utf8');
      written.push(text);
      for (const line of text.split('\n'))
        if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  return {
    logger: createLogger({ name, level, destination: sink }),
    lines,
    matching: (text) => lines.filter((line) => JSON.stringify(line).includes(text)),
    text: () => written.join(''),
  };
}
