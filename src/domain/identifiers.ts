/**
 * Symbols and plan ids become parts of Redis key names, so they are validated
 * before any key is built (SPEC preamble): no `*`, `:`, `/`, spaces or unicode.
 */
export const SYMBOL_RE = /^[A-Z0-9]{2,32}$/;
export const PLAN_ID_RE = /^[A-Za-z0-9:_.-]{1,128}$/;
/** Redis stream entry ids: `<ms>-<seq>`. */
export const STREAM_ID_RE = /^\d{1,20}-\d{1,20}$/;

export function isSymbol(value: unknown): value is string {
  return typeof value === 'string' && SYMBOL_RE.test(value);
}

export function isPlanId(value: unknown): value is string {
  return typeof value === 'string' && PLAN_ID_RE.test(value);
}

export function isStreamId(value: unknown): value is string {
  return typeof value === 'string' && STREAM_ID_RE.test(value);
}

/** Milliseconds part of a stream id (the time Redis assigned it). */
export function streamIdMs(id: string): number {
  const dash = id.indexOf('-');
  return Number(dash === -1 ? id : id.slice(0, dash));
}

/** Total order of stream ids: negative when a < b. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = '0', aSeq = '0'] = a.split('-');
  const [bMs = '0', bSeq = '0'] = b.split('-');
  const byMs = BigInt(aMs) - BigInt(bMs);
  if (byMs !== 0n) return byMs < 0n ? -1 : 1;
  const bySeq = BigInt(aSeq) - BigInt(bSeq);
  return bySeq === 0n ? 0 : bySeq < 0n ? -1 : 1;
}
