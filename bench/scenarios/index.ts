/** Every scenario, by the name used in --only and in results.json. */
import type { ScenarioName } from '../report.js';
import type { ScenarioContext } from './context.js';
import { runDetection } from './detection.js';
import { runFillRefresh } from './fill-refresh.js';
import { runLedgerUpdates } from './ledger-updates.js';
import { runMemory } from './memory.js';
import { runPlanPermit } from './plan-permit.js';
import { runReconcileCycles } from './reconcile-cycle.js';
import { runSnapshotPoll } from './snapshot-poll.js';
import { runWeb } from './web.js';

export const SCENARIOS: Record<ScenarioName, (ctx: ScenarioContext) => Promise<unknown>> = {
  'plan-permit': runPlanPermit,
  reconcile: runReconcileCycles,
  detection: runDetection,
  'snapshot-poll': runSnapshotPoll,
  ledger: runLedgerUpdates,
  memory: runMemory,
  'fill-refresh': runFillRefresh,
  web: runWeb,
};
