/**
 * Per-symbol memory of the last decoded lot size, snapshot and ledger, reused while the raw
 * hash read from Redis is unchanged. On a miss it decodes with the shared part decoders
 * (`src/redis/symbol-state-parts.ts`: the same codecs every other reader uses), which are pure
 * functions of the hash (and of the lot size for the ledger), so a reused result is exactly
 * what decoding again would return; only the decimal parsing is saved (most hashes are
 * unchanged from one cycle to the next, and parsing them again was a fifth of a cycle's CPU).
 * Nothing here depends on "now": the decision, which does, is taken fresh every cycle.
 */
import type { LedgerRead } from '../domain/ledger.js';
import type { LotSize } from '../domain/lot-size.js';
import type { SnapshotRead } from '../domain/snapshot.js';
import { type HashRead, ledgerFrom, lotSizeFrom, snapshotFrom } from '../redis/symbol-state.js';

interface Entry<T> {
  raw: Record<string, string>;
  value: T;
}

interface LedgerEntry extends Entry<LedgerRead> {
  /** The lot size it was decoded with (the object `lot` returned: same object, same ε). */
  lotSize: LotSize | null;
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
  private readonly lots = new Map<string, Entry<LotSize | null>>();
  private readonly snapshots = new Map<string, Entry<SnapshotRead>>();
  private readonly ledgers = new Map<string, LedgerEntry>();

  /** The lot size; the same object while its raw fields are unchanged. */
  lot(symbol: string, read: HashRead): LotSize | null {
    if (read.kind !== 'hash') return lotSizeFrom(read);
    const last = this.lots.get(symbol);
    if (last && sameFields(last.raw, read.fields)) return last.value;
    const value = lotSizeFrom(read);
    this.lots.set(symbol, { raw: read.fields, value });
    return value;
  }

  snapshot(symbol: string, read: HashRead): SnapshotRead {
    if (read.kind !== 'hash') return snapshotFrom(read);
    const last = this.snapshots.get(symbol);
    if (last && sameFields(last.raw, read.fields)) return last.value;
    const value = snapshotFrom(read);
    this.snapshots.set(symbol, { raw: read.fields, value });
    return value;
  }

  /** The ledger with ε of `lotSize` (pass what `lot` returned: it is compared by identity). */
  ledger(symbol: string, read: HashRead, lotSize: LotSize | null): LedgerRead {
    if (read.kind !== 'hash') return ledgerFrom(read, lotSize);
    const last = this.ledgers.get(symbol);
    if (last && last.lotSize === lotSize && sameFields(last.raw, read.fields)) return last.value;
    const value = ledgerFrom(read, lotSize);
    this.ledgers.set(symbol, { raw: read.fields, value, lotSize });
    return value;
  }
}
