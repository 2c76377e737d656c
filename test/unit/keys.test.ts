import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../src/redis/keys.js';

describe('key builder (SPEC §1)', () => {
  const k = buildKeys('quantum');
  it('builds the seeds keys', () => {
    expect(k.snapshot('BTCUSDT')).toBe('quantum:position:snapshot:BTCUSDT');
    expect(k.ledger('BTCUSDT')).toBe('quantum:position:ledger:BTCUSDT');
    expect(k.permitP33('abc123')).toBe('quantum:permit:p33:abc123');
    expect(k.permitGovernor('abc123')).toBe('quantum:permit:governor:abc123');
    expect(k.hold('BTCUSDT')).toBe('quantum:reconcile:hold:BTCUSDT');
    expect(k.reconcileState('BTCUSDT')).toBe('quantum:reconcile:state:BTCUSDT');
    expect(k.applyPlanStream).toBe('quantum:stream:apply.plan');
    expect(k.applyResultStream).toBe('quantum:stream:apply.result');
    expect(k.reconcileEventsStream).toBe('quantum:stream:reconcile.events');
    expect(k.symbolLotSize('BTCUSDT')).toBe('quantum:posguard:symbol:BTCUSDT');
  });

  it('refuses names that would inject into the key space', () => {
    for (const bad of ['BTCUSDT:*', '../x', 'btcusdt', 'BTC USDT', '', 'B', 'ÄBC'])
      expect(() => k.ledger(bad)).toThrow(/invalid symbol/);
    for (const bad of ['a b', 'x*', '', 'p/../q', 'x'.repeat(129)])
      expect(() => k.permitP33(bad)).toThrow(/invalid plan id/);
  });

  it('uses a configurable governor key template', () => {
    expect(buildKeys('q', 'gov:{plan_id}:{prefix}').permitGovernor('p1')).toBe('gov:p1:q');
  });
});
