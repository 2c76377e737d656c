/**
 * How much each mode measures. `full` is `npm run bench` (< 10 min), `quick` is
 * `npm run bench -- --quick` (< 60 s), `tiny` is the smoke test's (seconds: it proves the
 * harness runs end to end, its figures mean nothing).
 */
export type Mode = 'full' | 'quick' | 'tiny';

export interface ModeParams {
  floor: { pings: number; notifications: number };
  planPermit: {
    symbols: number;
    rates: number[];
    warmupSec: number;
    durationSec: number;
    burst: number;
    /** Rates at which the bare floor is also run (same durations). */
    bareRates: number[];
  };
  reconcile: {
    sizes: number[];
    warmupCycles: number;
    cycles: number;
    /** Replays of one recorded cycle (the floor). */
    replays: number;
    /** From this size on, one warm-up cycle only (a 50 000-symbol cycle takes seconds). */
    largeFrom: number;
    driftEvery: number;
    fills: number;
  };
  detection: { samples: number; pollSec: number; cadenceSec: number; fastCadenceSec: number };
  snapshotPoll: { symbols: number; warmup: number; runs: number };
  ledger: { fills: number; symbols: number };
  memory: {
    symbols: number;
    durationSec: number;
    sampleEverySec: number;
    plansPerSec: number;
    fillPairsPerSec: number;
  };
  fillRefresh: { symbols: number; settleSec: number; phaseSec: number };
  web: {
    symbols: number;
    /** Page refresh cadences measured (the first is the default, and also gets the loads). */
    refreshMs: number[];
    holdSamples: number;
    loads: number;
    deskReads: number;
  };
}

export const MODES: Record<Mode, ModeParams> = {
  full: {
    floor: { pings: 2000, notifications: 1000 },
    planPermit: {
      symbols: 20,
      rates: [100, 500, 2000],
      warmupSec: 2,
      durationSec: 10,
      burst: 10_000,
      bareRates: [100, 500, 2000],
    },
    reconcile: {
      sizes: [100, 1000, 10_000, 50_000],
      warmupCycles: 2,
      cycles: 5,
      replays: 3,
      largeFrom: 50_000,
      driftEvery: 100,
      fills: 500,
    },
    detection: { samples: 8, pollSec: 2, cadenceSec: 1, fastCadenceSec: 0.05 },
    snapshotPoll: { symbols: 500, warmup: 3, runs: 15 },
    ledger: { fills: 20_000, symbols: 50 },
    memory: {
      symbols: 10_000,
      durationSec: 120,
      sampleEverySec: 5,
      plansPerSec: 50,
      fillPairsPerSec: 5,
    },
    fillRefresh: { symbols: 10_000, settleSec: 5, phaseSec: 30 },
    web: { symbols: 550, refreshMs: [1000, 250], holdSamples: 20, loads: 5, deskReads: 50 },
  },
  quick: {
    floor: { pings: 500, notifications: 300 },
    planPermit: {
      symbols: 20,
      rates: [500],
      warmupSec: 1,
      durationSec: 3,
      burst: 2000,
      bareRates: [500],
    },
    reconcile: {
      sizes: [100, 1000, 10_000],
      warmupCycles: 1,
      cycles: 5,
      replays: 2,
      largeFrom: 10_000,
      driftEvery: 100,
      fills: 200,
    },
    detection: { samples: 3, pollSec: 1, cadenceSec: 0.5, fastCadenceSec: 0.05 },
    snapshotPoll: { symbols: 500, warmup: 2, runs: 5 },
    ledger: { fills: 2000, symbols: 20 },
    memory: {
      symbols: 2000,
      durationSec: 6,
      sampleEverySec: 1,
      plansPerSec: 50,
      fillPairsPerSec: 5,
    },
    fillRefresh: { symbols: 2000, settleSec: 1, phaseSec: 5 },
    web: { symbols: 550, refreshMs: [1000, 250], holdSamples: 6, loads: 3, deskReads: 20 },
  },
  tiny: {
    floor: { pings: 50, notifications: 30 },
    planPermit: {
      symbols: 4,
      rates: [100],
      warmupSec: 0.2,
      durationSec: 0.5,
      burst: 100,
      bareRates: [100],
    },
    reconcile: {
      sizes: [10, 100],
      warmupCycles: 1,
      cycles: 2,
      replays: 2,
      largeFrom: 50_000,
      driftEvery: 5,
      fills: 10,
    },
    detection: { samples: 1, pollSec: 0.5, cadenceSec: 0.2, fastCadenceSec: 0.05 },
    snapshotPoll: { symbols: 50, warmup: 1, runs: 2 },
    ledger: { fills: 100, symbols: 4 },
    memory: {
      symbols: 100,
      durationSec: 2,
      sampleEverySec: 0.5,
      plansPerSec: 20,
      fillPairsPerSec: 2,
    },
    fillRefresh: { symbols: 100, settleSec: 0.2, phaseSec: 1 },
    web: { symbols: 50, refreshMs: [250], holdSamples: 1, loads: 1, deskReads: 3 },
  },
};
