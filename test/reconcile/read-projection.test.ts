/**
 * The engine reads only listed hash fields (HMGET), not whole hashes. That is exact only if
 * each codec looks at no other field. These tests (no Redis) prove, for arbitrary hashes,
 * that decoding the projection the read script returns gives the same result as decoding
 * the whole hash — and they fail as soon as a codec starts reading a field that is not in
 * its list, so the list is updated in the same change.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EPSILON, Decimal } from '../../src/domain/amount.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { decodeLotSize } from '../../src/domain/lot-size.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import { CAS_FIELDS } from '../../src/reconcile/commit.js';
import {
  LEDGER_READ_FIELDS,
  LOT_READ_FIELDS,
  SNAPSHOT_READ_FIELDS,
} from '../../src/redis/scripts/reconcile-read-batch.js';
import { loadPeerShapes } from '../helpers/peer-shapes.js';
import { T0, ledgerFields, snapshotFields } from './fixtures.js';
import { assertProperty } from '../helpers/property.js';

const SHAPES = loadPeerShapes();

/** What the read script hands the engine: the listed fields, or the whole hash if none exists. */
function projection(
  hash: Record<string, string>,
  names: readonly string[],
): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) if (name in hash) picked[name] = hash[name] as string;
  return Object.keys(picked).length > 0 ? picked : { ...hash };
}

/** Runs `decode` on a hash that records every field name the codec asks for. */
function fieldsRead(
  hash: Record<string, string>,
  decode: (h: Record<string, string>) => unknown,
): Set<string> {
  const seen = new Set<string>();
  const spy = new Proxy(hash, {
    get(target, name, receiver) {
      if (typeof name === 'string') seen.add(name);
      return Reflect.get(target, name, receiver) as unknown;
    },
    has(target, name) {
      if (typeof name === 'string') seen.add(name);
      return Reflect.has(target, name);
    },
  });
  decode(spy);
  return seen;
}

const value = fc.oneof(
  fc.constantFrom('', '0', '0.062', '-0.5', '1e-05', 'abc', 'LONG', 'SHORT', 'FLAT', 'none', ' 7 '),
  fc.constantFrom('NONE', 'SELL', 'BUY', 'UNKNOWN', '0.0', '0.2', '0.009999999999999998'),
  fc.constantFrom(String(T0), String(T0 / 1000), '1767225600', '-1', '1-0', `${T0}-3`),
  fc.string({ maxLength: 8 }),
);

function hashes(names: readonly string[]): fc.Arbitrary<Record<string, string>> {
  // Fields real writers put in these hashes that no codec reads (peer_shapes.json).
  const extra = ['ts_iso', 'foo', 'updated_at', 'status', 'qty', 'last_executed_qty', 'synced_at'];
  return fc.dictionary(fc.constantFrom(...names, ...extra), value, { maxKeys: 12 });
}

const CASES = [
  {
    name: 'snapshot',
    names: SNAPSHOT_READ_FIELDS,
    decode: (h: Record<string, string>) => decodeSnapshot(h),
    samples: [snapshotFields('0.062', T0), {}],
  },
  {
    name: 'ledger',
    names: LEDGER_READ_FIELDS,
    decode: (h: Record<string, string>) => decodeLedger(h, new Decimal('0.0005')),
    samples: [
      ledgerFields('0.062', T0, { lastResultId: '1-0' }),
      { last_known_amt: '5', last_known_side: 'SHORT', last_update_ts: '1767225600' },
      { last_order_time_epoch: '1767225600', last_plan_id: 'p' },
      {},
      // Every hash the earlier system's writers left (absolute amounts with last_side, a
      // snapshot copy in position_amt/side, order sides, merged shapes).
      ...SHAPES.ledger.map((r) => r.fields ?? {}),
    ],
  },
  {
    name: 'lot size',
    names: LOT_READ_FIELDS,
    decode: (h: Record<string, string>) => decodeLotSize(h),
    samples: [{ step_size: '0.001', min_qty: '0.001', max_qty: '1000' }, {}],
  },
] as const;

describe('read projection ≡ whole hash', () => {
  for (const c of CASES) {
    it(`${c.name}: decoding the projection equals decoding the whole hash`, () => {
      for (const sample of c.samples)
        expect(c.decode(projection(sample, c.names))).toEqual(c.decode(sample));
      assertProperty(
        fc.property(hashes(c.names), (hash) => {
          expect(c.decode(projection(hash, c.names))).toEqual(c.decode(hash));
        }),
        { numRuns: 500 },
      );
    });

    it(`${c.name}: the codec reads no field outside its list`, () => {
      const listed = new Set<string>(c.names);
      const check = (hash: Record<string, string>) => {
        const outside = [...fieldsRead(hash, c.decode)].filter((n) => !listed.has(n));
        expect(outside, `${c.name} codec read unlisted fields`).toEqual([]);
      };
      for (const sample of c.samples) check(sample);
      assertProperty(fc.property(hashes(c.names), check), { numRuns: 500 });
    });
  }

  it('the ledger projection keeps every field the commit compares (compare-and-set)', () => {
    for (const f of CAS_FIELDS) expect(LEDGER_READ_FIELDS).toContain(f);
    expect(decodeLedger({}, DEFAULT_EPSILON).kind).toBe('missing');
  });

  it('the compare-and-set covers every field an amount or its direction is read from', () => {
    // Changing any such field alone changes what the ledger reads as; a repair or init
    // decided on the old value must then be refused.
    const base: Record<string, string> = {
      version: '3',
      last_known_amt: '0.2',
      last_side: 'SHORT',
      last_known_side: 'SHORT',
      position_amt: '0.2',
      side: 'SHORT',
    };
    const edits: Record<string, string>[] = [
      { ledger_amt: '0.1' },
      { ledger_amt: '-0.2', ledger_side: 'LONG' },
      { last_known_amt: '0.3' },
      { last_side: 'LONG' },
      { last_side: '', last_known_side: 'LONG' },
      { last_known_amt: undefined as unknown as string, position_amt: '0.1' },
      { last_known_amt: undefined as unknown as string, side: 'LONG' },
    ];
    for (const edit of edits) {
      const edited: Record<string, string> = { ...base };
      for (const [k, v] of Object.entries(edit)) {
        if (v === undefined) delete edited[k];
        else edited[k] = v;
      }
      expect(decodeLedger(edited, DEFAULT_EPSILON), JSON.stringify(edit)).not.toEqual(
        decodeLedger(base, DEFAULT_EPSILON),
      );
      const changed = Object.keys(edit);
      expect(
        changed.some((f) => CAS_FIELDS.includes(f)),
        `${changed.join(',')} not compared`,
      ).toBe(true);
    }
  });
});
