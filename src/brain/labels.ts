/**
 * Metric label values for symbols: allowlisted symbols by name, anything else folded into
 * one value so garbage input cannot explode the series count.
 */
export const OTHER_SYMBOL = '_other';

export function symbolLabel(symbol: string | null, allowlist: ReadonlySet<string>): string {
  return symbol !== null && allowlist.has(symbol) ? symbol : OTHER_SYMBOL;
}
