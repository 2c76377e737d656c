/**
 * Services under measurement log at INFO, as in production, into /dev/null: the cost
 * of building and serialising every log line is part of what is measured.
 */
import { pino } from 'pino';
import { createLogger, type Logger } from '../src/observability/logger.js';

export function benchLogger(name: string): Logger {
  return createLogger({
    name,
    level: 'info',
    pretty: false,
    // SonicBoom is the stream pino itself recommends; createLogger hands it back to pino.
    destination: pino.destination({
      dest: '/dev/null',
      sync: false,
    }) as unknown as NodeJS.WritableStream,
  });
}
