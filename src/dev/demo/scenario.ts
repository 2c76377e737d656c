/**
 * The scripted scenarios: `all` runs every step in order; any step name runs that step
 * alone (a comma-separated list runs those steps in the order given).
 */
import { PosguardError } from '../../errors.js';
import { engineDownStep, malformedStep, staleFeedStep, unknownActionStep } from './steps-global.js';
import { ledgerLagStep } from './steps-repair.js';
import {
  type ScenarioStep,
  externalTradeStep,
  missedResultStep,
  sideFlipStep,
} from './steps-symbol.js';

export const DEMO_SYMBOLS: readonly string[] = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

const STEPS: Record<string, () => ScenarioStep> = {
  'external-trade': () => externalTradeStep('ETHUSDT'),
  'missed-result': () => missedResultStep('BTCUSDT'),
  'side-flip': () => sideFlipStep('SOLUSDT'),
  'ledger-lag': () => ledgerLagStep('SOLUSDT'),
  'unknown-action': () => unknownActionStep('BTCUSDT'),
  malformed: () => malformedStep('BTCUSDT'),
  'stale-feed': () => staleFeedStep(),
  'engine-down': () => engineDownStep(),
};

export const SCENARIO_NAMES: readonly string[] = ['all', ...Object.keys(STEPS)];

export function buildScenario(name: string): ScenarioStep[] {
  const wanted = name === 'all' ? Object.keys(STEPS) : name.split(',').map((s) => s.trim());
  return wanted.map((step) => {
    const make = STEPS[step];
    if (!make) {
      throw new PosguardError(
        'USAGE',
        `unknown scenario ${JSON.stringify(step)}: expected one of ${SCENARIO_NAMES.join(', ')} (or a comma-separated list of steps)`,
      );
    }
    return make();
  });
}
