/**
 * The scenario step for the reconcile engine's evidence-based repair (SPEC §7 row 8): the
 * brain's ledger updater lags (paused), the Apply Layer closes a sliver of a position and
 * reports the fill, the exchange snapshot shows it, and the engine repairs the ledger from
 * that fill — no hold, no operator. When the updater resumes it must not apply the same
 * fill again (the repair marked it applied), so the ledger stays equal to the exchange.
 */
import { Decimal, formatAmount, parseAmount } from '../../domain/amount.js';
import { floorToStep } from '../../domain/lot-size.js';
import type { FaultReport } from './summary.js';
import { type ScenarioStep, ensurePosition } from './steps-symbol.js';
import { type StepContext, awaitSignals, sleep, symbolSettled, waitUntil } from './step-context.js';

/** 0.5 % of the position: inside the default 1 % auto-repair tolerance. */
const SLIVER = new Decimal('0.005');

async function quietPipeline<T>(ctx: StepContext, work: () => Promise<T>): Promise<T> {
  // Every symbol: while the updater is paused, any other fill would be unapplied drift too.
  for (const symbol of ctx.symbols) ctx.pipeline.claim(symbol);
  try {
    for (const symbol of ctx.symbols) await ctx.pipeline.quiesce(symbol, 3000);
    return await work();
  } finally {
    for (const symbol of ctx.symbols) ctx.pipeline.release(symbol);
  }
}

async function closeSliver(ctx: StepContext, symbol: string): Promise<number> {
  const step = (await ctx.lot(symbol)).stepSize;
  return ctx.pipeline.locks.with(symbol, async () => {
    const position = parseAmount(await ctx.venue.positionAmt(symbol)) ?? new Decimal(0);
    // Never send a reduce-only order against a flat position (the venue would reject it,
    // and the demo's verdict rightly counts that as an order beyond the position).
    if (position.isZero()) throw new Error(`${symbol} is flat; nothing to reduce`);
    const size = Decimal.max(floorToStep(position.abs().mul(SLIVER), step), step);
    const signed = position.isNegative() ? size : size.neg();
    const at = ctx.clock.nowMs();
    await ctx.pipeline.apply.reducePosition(symbol, signed);
    ctx.status(
      `ledger updater paused; Apply Layer closed ${formatAmount(signed)} ${symbol} and reported the fill`,
    );
    return at;
  });
}

export function ledgerLagStep(symbol: string): ScenarioStep {
  return {
    name: 'ledger-lag',
    title: `brain's ledger updater lags; a fill on ${symbol} → engine AUTO_REPAIR from the fill → no double count`,
    estimateMs: ({ timing }) => timing.detectTimeoutMs / 3 + 3000,
    run: (ctx) =>
      quietPipeline(ctx, async (): Promise<FaultReport> => {
        // Earlier steps may have left the symbol flat or flipped: open it to its target and
        // wait until snapshot, ledger and engine agree, so the sliver is a real reduction.
        await ensurePosition(ctx, symbol);
        await waitUntil(ctx, () => symbolSettled(ctx, symbol), ctx.timing.recoverTimeoutMs);
        await ctx.brain.pauseLedgerUpdates();
        let injectedAtMs: number;
        let signals;
        try {
          injectedAtMs = await closeSliver(ctx, symbol);
          signals = await awaitSignals(
            ctx,
            [{ kind: 'event', events: ['AUTO_REPAIR/auto_fixed'], symbol }],
            injectedAtMs,
            null,
          );
        } finally {
          ctx.brain.resumeLedgerUpdates();
        }
        // The resumed updater meets the fill the repair already accounted for: it must skip it.
        await sleep(ctx.timing.settleMs);
        const recoveredAtMs = await waitUntil(
          ctx,
          () => symbolSettled(ctx, symbol),
          ctx.timing.recoverTimeoutMs,
        );
        return {
          step: 'ledger-lag',
          title: `ledger updater lag on ${symbol}`,
          symbol,
          injectedAtMs,
          signals,
          recoveredAtMs,
          recovery:
            recoveredAtMs === null
              ? 'ledger and exchange did not agree after the updater resumed'
              : 'engine repaired the ledger from the fill; the resumed updater skipped it (ledger = exchange)',
          notes: [],
        };
      }),
  };
}
