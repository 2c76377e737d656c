/**
 * The user-data stream watchdog's rule (SPEC §3), on a manual clock: a position change REST
 * shows and the stream does not push within 2 s, while connected, declares the stream
 * silent — once per episode — until the stream is heard again.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SILENCE_GRACE_MS, UserStreamWatchdog } from '../../src/exchange/stream-watchdog.js';
import { assertProperty } from '../helpers/property.js';

const change = (
  symbol: string,
  amount: string,
  exchangeUpdateMs: number | null,
  previousMs: number | null,
) => ({ symbol, amount, exchangeUpdateMs, previousMs });

describe('user-stream watchdog', () => {
  it('declares silence 2 s after an unpushed change while connected, once per episode', () => {
    const w = new UserStreamWatchdog();
    expect(w.health()).toBe('down');
    w.connected(1000);
    expect(w.health()).toBe('up');
    w.restChanged(change('BTCUSDT', '0.5', 5000, 1500), 3000);
    expect(w.nextDeadlineMs()).toBe(3000 + SILENCE_GRACE_MS);
    expect(w.check(4999)).toBeNull();
    expect(w.check(5000)).toEqual({ declared: true, symbols: ['BTCUSDT'] });
    expect(w.health()).toBe('silent');
    expect(w.nextDeadlineMs()).toBeNull();
    // Still silent after a reconnect; the next unpushed change is found, not declared again.
    w.disconnected();
    expect(w.health()).toBe('down');
    w.connected(6000);
    expect(w.health()).toBe('silent');
    w.restChanged(change('ETHUSDT', '-1', 7000, 6500), 7000);
    expect(w.check(9000)).toEqual({ declared: false, symbols: ['ETHUSDT'] });
    // Heard again: the episode ends.
    expect(w.heard()).toBe(true);
    expect(w.heard()).toBe(false);
    expect(w.health()).toBe('up');
  });

  it('a push that carries the change (same or later exchange time) clears it, before or after REST saw it', () => {
    const w = new UserStreamWatchdog();
    w.connected(0);
    w.restChanged(change('BTCUSDT', '0.5', 5000, 100), 1000);
    w.pushed({ symbol: 'BTCUSDT', amount: '0.5', exchangeUpdateMs: 5000 }, 1200);
    expect(w.check(10_000)).toBeNull();
    w.pushed({ symbol: 'ETHUSDT', amount: '2', exchangeUpdateMs: 6000 }, 2000);
    w.restChanged(change('ETHUSDT', '2', 6000, 100), 2100); // REST after the push
    expect(w.nextDeadlineMs()).toBeNull();
    // An older push does not cover a newer change.
    w.pushed({ symbol: 'SOLUSDT', amount: '1', exchangeUpdateMs: 100 }, 2000);
    w.restChanged(change('SOLUSDT', '3', 7000, 500), 2500);
    expect(w.check(4500)).toEqual({ declared: true, symbols: ['SOLUSDT'] });
  });

  it('without exchange times, a push of the same amount after the previous snapshot covers it', () => {
    const w = new UserStreamWatchdog();
    w.connected(0);
    w.pushed({ symbol: 'BTCUSDT', amount: '0', exchangeUpdateMs: null }, 50);
    w.restChanged(change('BTCUSDT', '0', null, 100), 200); // pushed before the previous snapshot
    w.pushed({ symbol: 'BTCUSDT', amount: '0', exchangeUpdateMs: null }, 300);
    expect(w.check(5000)).toBeNull();
  });

  it('expects nothing for a change the stream may have missed: not connected, reconnected since, or no previous snapshot', () => {
    const w = new UserStreamWatchdog();
    w.restChanged(change('BTCUSDT', '1', 10, 5), 100); // not connected
    w.connected(1000);
    w.restChanged(change('BTCUSDT', '1', 10, 900), 1100); // previous state from before this connection
    w.restChanged(change('ETHUSDT', '1', 10, null), 1100); // never written by this process
    expect(w.nextDeadlineMs()).toBeNull();
    w.restChanged(change('SOLUSDT', '1', 10, 1050), 1100);
    w.disconnected(); // changes waiting on a connection that dropped are forgotten
    w.connected(1200);
    expect(w.check(10_000)).toBeNull();
    expect(w.health()).toBe('up');
  });

  it('a symbol changing again keeps its first deadline', () => {
    const w = new UserStreamWatchdog();
    w.connected(0);
    w.restChanged(change('BTCUSDT', '1', 10, 5), 1000);
    w.restChanged(change('BTCUSDT', '2', 20, 1000), 2500);
    expect(w.nextDeadlineMs()).toBe(1000 + SILENCE_GRACE_MS);
  });

  it('never declares silence while every change REST shows was pushed (property)', () => {
    assertProperty(
      fc.property(
        fc.array(
          fc.record({
            symbol: fc.constantFrom('A', 'B', 'C'),
            amount: fc.integer({ min: -5, max: 5 }).map(String),
            pushDelayMs: fc.integer({ min: 0, max: SILENCE_GRACE_MS - 1 }),
            pushFirst: fc.boolean(),
          }),
          { maxLength: 30 },
        ),
        (events) => {
          const w = new UserStreamWatchdog();
          w.connected(0);
          let now = 100;
          let exchangeTime = 1;
          for (const e of events) {
            const seen = { symbol: e.symbol, amount: e.amount, exchangeUpdateMs: exchangeTime };
            if (e.pushFirst) w.pushed(seen, now);
            w.restChanged({ ...seen, previousMs: now - 50 }, now);
            if (!e.pushFirst) w.pushed(seen, now + e.pushDelayMs);
            expect(w.check(now + e.pushDelayMs)).toBeNull();
            now += 10;
            exchangeTime += 1;
          }
          expect(w.check(now + 10 * SILENCE_GRACE_MS)).toBeNull();
          expect(w.health()).toBe('up');
        },
      ),
    );
  });
});
