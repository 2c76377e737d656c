/** Every scenario, by the name used in --only and in results.json. */
import type { ScenarioName } from '../report.js';
import type { ScenarioContext } from './context.js';
import { runPlanPermit } from './plan-permit.js';
import { runReconcileCycles } from './reconcile-cycle.js';

export const SCENARIOS: Record<ScenarioName, (ctx: ScenarioContext) => Promise<unknown>> = {
  'plan-permit': runPlanPermit,
  reconcile: runReconcileCycles,
  detection: () => Promise.reject(new Error('not wired yet')),
  'snapshot-poll': () => Promise.reject(new Error('not wired yet')),
  ledger: () => Promise.reject(new Error('not wired yet')),
  memory: () => Promise.reject(new Error('not wired yet')),
};
