/**
 * Argument parsers for the operator commands. A bad value is a commander
 * InvalidArgumentError, so it prints the command's help hint and exits 2 (usage).
 */
import { InvalidArgumentError } from 'commander';
import { isPlanId, isSymbol } from '../domain/identifiers.js';

/** The operator commands read the same wall clock as the services (src/runtime/clock.ts). */
export { systemClock } from '../runtime/clock.js';

export function symbolArg(value: string): string {
  const symbol = value.trim().toUpperCase();
  if (!isSymbol(symbol))
    throw new InvalidArgumentError('expected a symbol like BTCUSDT (A-Z, 0-9, 2–32 characters)');
  return symbol;
}

export function planArg(value: string): string {
  if (!isPlanId(value))
    throw new InvalidArgumentError('expected a plan id (A-Z a-z 0-9 : _ . -, 1–128 characters)');
  return value;
}

export function intArg(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`expected an integer between ${min} and ${max}`);
    }
    return Number(value);
  };
}

export function secondsArg(value: string): number {
  const text = value.trim();
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) < 0.001 || Number(text) > 86400 * 30) {
    throw new InvalidArgumentError(
      'expected a number of seconds (decimals allowed, e.g. 300 or 0.5), at most 30 days',
    );
  }
  return Number(text);
}
