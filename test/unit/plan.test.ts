import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ACTION_FRACTIONS, parsePlan } from '../../src/domain/plan.js';
import { evaluatePlan } from '../../src/domain/permit-rules.js';
import { NOW_MS, healthy, ledger, snapshot } from '../brain/fixtures.js';
import { PLAN_PERMITS, PLAN_POSITIONS, fieldsAt, loadPeerShapes } from '../helpers/peer-shapes.js';
import { assertProperty } from '../helpers/property.js';

const ID = '1737672000000-0';

describe('plan codec', () => {
  it('maps every action of SPEC §5 to its exact fraction', () => {
    const expected: Record<string, string> = {
      FULL_CLOSE_PROPOSED: '1',
      CLOSE_FULL: '1',
      FULL_CLOSE: '1',
      PARTIAL_75: '0.75',
      CLOSE_PARTIAL_75: '0.75',
      PARTIAL_50: '0.5',
      CLOSE_PARTIAL_50: '0.5',
      PARTIAL_33: '0.33',
      PARTIAL_25: '0.25',
      CLOSE_PARTIAL_25: '0.25',
    };
    expect([...ACTION_FRACTIONS.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [action, fraction] of Object.entries(expected)) {
      const parsed = parsePlan(ID, {
        plan_id: 'p',
        decision: 'EXECUTE',
        action,
        symbol: 'BTCUSDT',
      });
      expect(parsed.kind).toBe('execute');
      if (parsed.kind === 'execute') expect(parsed.plan.closeFraction?.toFixed()).toBe(fraction);
    }
  });

  it('never turns an unknown action into a full close (LESSONS #12)', () => {
    for (const action of ['CLOSE_PARTIAL_33', 'OPEN_LONG', 'close', '', 'FULL_CLOSE_PROPOSED_X']) {
      const parsed = parsePlan(ID, {
        plan_id: 'p',
        decision: 'EXECUTE',
        action,
        symbol: 'BTCUSDT',
      });
      if (parsed.kind !== 'execute') throw new Error('expected execute');
      expect(parsed.plan.closeFraction).toBeNull();
      expect(parsed.plan.explicitQty).toBeNull();
    }
  });

  it('reads qty or close_qty; a positive explicit qty is kept, zero means none, garbage is a problem', () => {
    const read = (fields: Record<string, string>) => {
      const parsed = parsePlan(ID, {
        plan_id: 'p',
        decision: 'EXECUTE',
        action: 'CLOSE_FULL',
        ...fields,
      });
      if (parsed.kind !== 'execute') throw new Error('expected execute');
      return parsed.plan;
    };
    expect(read({ qty: '0.012' }).explicitQty?.toFixed()).toBe('0.012');
    expect(read({ close_qty: '1e-3' }).explicitQty?.toFixed()).toBe('0.001');
    expect(read({ qty: '0' }).explicitQty).toBeNull();
    expect(read({ qty: '0' }).qtyProblem).toBeNull();
    expect(read({ qty: '-1' }).qtyProblem).toMatch(/qty/);
    expect(read({ qty: 'abc' }).qtyProblem).toMatch(/qty/);
  });

  it('acknowledges non-EXECUTE decisions and rejects plans without a valid id', () => {
    expect(parsePlan(ID, { plan_id: 'p', decision: 'SKIP' })).toEqual({
      kind: 'ignored',
      planId: 'p',
      decision: 'SKIP',
    });
    expect(parsePlan(ID, { plan_id: 'p' })).toMatchObject({ kind: 'ignored' });
    expect(parsePlan(ID, { decision: 'EXECUTE' }).kind).toBe('bad');
    expect(parsePlan(ID, { plan_id: 'has space', decision: 'EXECUTE' }).kind).toBe('bad');
    expect(parsePlan(ID, { plan_id: 'a*b', decision: 'EXECUTE' }).kind).toBe('bad');
    expect(parsePlan(ID, { plan_id: 'x'.repeat(129), decision: 'EXECUTE' }).kind).toBe('bad');
  });

  it('reads reduceOnly / reduce_only; false and garbage are not reduce-only', () => {
    const ro = (fields: Record<string, string>) => {
      const parsed = parsePlan(ID, { plan_id: 'p', decision: 'EXECUTE', ...fields });
      return parsed.kind === 'execute' ? parsed.plan.reduceOnly : 'n/a';
    };
    expect(ro({})).toBeNull();
    expect(ro({ reduceOnly: 'True' })).toBe(true);
    expect(ro({ reduce_only: '1' })).toBe(true);
    expect(ro({ reduceOnly: 'false' })).toBe(false);
    expect(ro({ reduce_only: 'maybe' })).toBe(false);
  });

  it('takes the plan time from timestamp/ts in seconds or ms, else from the stream id', () => {
    const time = (fields: Record<string, string>) => {
      const parsed = parsePlan('1700000000123-4', { plan_id: 'p', decision: 'EXECUTE', ...fields });
      return parsed.kind === 'execute' ? [parsed.plan.timeMs, parsed.plan.timeSource] : null;
    };
    expect(time({ timestamp: '1737672000' })).toEqual([1737672000000, 'plan']);
    expect(time({ ts: '1737672000500' })).toEqual([1737672000500, 'plan']);
    expect(time({ ts: 'yesterday' })).toEqual([1700000000123, 'stream_id']);
    expect(time({})).toEqual([1700000000123, 'stream_id']);
  });

  it('is total on arbitrary fields', () => {
    assertProperty(
      fc.property(
        fc.dictionary(
          fc.constantFrom(
            'plan_id',
            'symbol',
            'decision',
            'action',
            'qty',
            'close_qty',
            'ts',
            'timestamp',
            'reduceOnly',
            'x',
          ),
          fc.string(),
        ),
        (fields) => {
          const parsed = parsePlan(ID, fields);
          expect(['execute', 'ignored', 'bad']).toContain(parsed.kind);
        },
      ),
    );
  });
});

describe('plan rules from the real writers (SPEC §5, peer_shapes.json)', () => {
  const parse = (fields: Record<string, string>) => {
    const parsed = parsePlan(ID, {
      plan_id: 'p',
      decision: 'EXECUTE',
      symbol: 'ETHUSDT',
      ...fields,
    });
    if (parsed.kind !== 'execute') throw new Error(`expected execute, got ${parsed.kind}`);
    return parsed.plan;
  };
  const allow = (fields: Record<string, string>, position: string, allowlist = ['ETHUSDT']) =>
    evaluatePlan({
      ...healthy(),
      plan: parse(fields),
      snapshot: snapshot(position),
      ledger: ledger(position),
      allowlist: new Set(allowlist),
    });

  it('close_qty before qty, each only when > 0 ("0.0" = not given)', () => {
    expect(parse({ close_qty: '0.05', qty: '0.2' }).explicitQty?.toFixed()).toBe('0.05');
    expect(parse({ close_qty: '0.0', qty: '0.012' }).explicitQty?.toFixed()).toBe('0.012');
    expect(parse({ close_qty: '0.0', qty: '0' }).explicitQty).toBeNull();
    expect(parse({ close_qty: 'abc', qty: '0.2' }).qtyProblem).toMatch(/close_qty/);
    const d = allow(
      { action: 'PARTIAL_CLOSE_PROPOSED', close_qty: '0.05', qty: '0.2', reduceOnly: 'true' },
      '0.2',
    );
    expect(d.allow && d.safeCloseQty.toFixed()).toBe('0.05');
  });

  it('PARTIAL_33 is a third (0.33)', () => {
    expect(ACTION_FRACTIONS.get('PARTIAL_33')?.toFixed()).toBe('0.33');
    const d = allow({ action: 'PARTIAL_33' }, '0.3');
    expect(d.allow && d.safeCloseQty.toFixed()).toBe('0.099');
  });

  it('ENTRY_PROPOSED is an open: not_reduce_only whatever reduceOnly says, never unknown_action', () => {
    const extras: Record<string, string>[] = [
      {},
      { reduceOnly: 'true' },
      { reduceOnly: 'false', qty: '0.004604051565377533' },
    ];
    for (const extra of extras) {
      const d = allow({ action: 'ENTRY_PROPOSED', ...extra }, '0.2');
      expect(d.allow ? 'ALLOW' : [d.reason, d.failed.map((f) => f.reason)]).toEqual([
        'not_reduce_only',
        ['not_reduce_only'],
      ]);
    }
  });

  it('symbol "ALL" is not a symbol: symbol_not_allowed even if someone allowlisted it', () => {
    const d = allow({ symbol: 'ALL', action: 'FULL_CLOSE_PROPOSED' }, '0.2', ['ALL', 'ETHUSDT']);
    expect(d.allow ? 'ALLOW' : d.reason).toBe('symbol_not_allowed');
    expect(parse({ symbol: 'ALL' }).symbolValid).toBe(false);
  });

  it('float-second timestamps and every reduceOnly spelling', () => {
    const p = parsePlan(ID, { plan_id: 'p', decision: 'EXECUTE', timestamp: '1770141600.4871533' });
    expect(p.kind === 'execute' && [p.plan.timeMs, p.plan.timeSource]).toEqual([
      1770141600487,
      'plan',
    ]);
    expect(parse({ reduceOnly: 'True' }).reduceOnly).toBe(true);
    expect(parse({ reduceOnly: 'true' }).reduceOnly).toBe(true);
    expect(parse({ reduceOnly: 'false' }).reduceOnly).toBe(false);
  });

  it.each(loadPeerShapes().apply_plan.map((r, i) => [i, r.fields.plan_id ?? '', r] as const))(
    'fixture plan %i (%s) gets the permit its meaning implies',
    (_i, planId, record) => {
      const want = PLAN_PERMITS[planId];
      expect(want, 'every fixture plan has an expectation').not.toBeUndefined();
      const parsed = parsePlan(`${NOW_MS - 100}-0`, fieldsAt(record, NOW_MS - 500));
      if (want === null) {
        expect(parsed.kind, record.meaning).toBe('ignored');
        return;
      }
      if (parsed.kind !== 'execute') throw new Error(`expected execute, got ${parsed.kind}`);
      const position = PLAN_POSITIONS[parsed.plan.symbol] ?? '0';
      const d = evaluatePlan({
        ...healthy(),
        plan: parsed.plan,
        snapshot: snapshot(position),
        ledger: ledger(position),
      });
      const got = d.allow ? d.safeCloseQty.toFixed() : d.reason;
      expect(got, record.meaning).toBe(want);
    },
  );
});
