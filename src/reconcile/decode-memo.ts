/**
 * Per-symbol memory of the last decoded lot size, snapshot and ledger, reused while the raw
 * hash read from Redis is unchanged. The codecs are pure functions of the hash (and of ε for
 * the ledger), so a reused result is exactly what decoding again would return; only the
 * decimal parsing is saved (most hashes are unchanged from one cycle to the next, and
 * parsing them again was a fifth of a cycle's CPU). Nothing here depends on "now": the
 * decision, which does, is taken fresh every cycle.
 */
import { type Amount, epsilonFor } from '../domain/amount.js';
import { type LedgerRead, decodeLedger } from '../domain/ledger.js';
import { type LotSize, decodeLotSize } from '../domain/lot-size.js';
import { type SnapshotRead, decodeSnapshot } from '../domain/snapshot.js';

export interface DecodedLot {
  lotSize: LotSize | null;
  /** ε of the symbol: half its lot step, or the default when the step is unknown. */
  epsilon: Amount;
}

interface Entry<T> {
  raw: Record<string, string>;
  value: T;
}

interface LedgerEntry extends Entry<LedgerRead> {
  epsilon: Amount;
}

/** Same fields with the same values (the order of the fields does not matter). */
export function sameFields(a: Record<string, string>, b: Record<string, string>): boolean {
  let count = 0;
  for (const name in a) {
    if (!Object.prototype.hasOwnProperty.call(b, name) || a[name] !== b[name]) return false;
    count += 1;
  }
  for (const name in b) if (Object.prototype.hasOwnProperty.call(b, name)) count -= 1;
  return count === 0;
}

export class DecodeMemo {
  private readonly lots = new Map<string, Entry<DecodedLot>>();
  private readonly snapshots = new Map<string, Entry<SnapshotRead>>();
  private readonly ledgers = new Map<string, LedgerEntry>();

  lot(symbol: string, raw: Record<string, string>): DecodedLot {
    const last = this.lots.get(symbol);
    if (last && sameFields(last.raw, raw)) return last.value;
    const lotSize = decodeLotSize(raw);
    const value = { lotSize, epsilon: epsilonFor(lotSize?.stepSize) };
    this.lots.set(symbol, { raw, value });
    return value;
  }

  snapshot(symbol: string, raw: Record<string, string>): SnapshotRead {
    const last = this.snapshots.get(symbol);
    if (last && sameFields(last.raw, raw)) return last.value;
    const value = decodeSnapshot(raw);
    this.snapshots.set(symbol, { raw, value });
    return value;
  }

  ledger(symbol: string, raw: Record<string, string>, epsilon: Amount): LedgerRead {
    const last = this.ledgers.get(symbol);
    if (last && (last.epsilon === epsilon || last.epsilon.eq(epsilon)) && sameFields(last.raw, raw))
      return last.value;
    const value = decodeLedger(raw, epsilon);
    this.ledgers.set(symbol, { raw, value, epsilon });
    return value;
  }
}
