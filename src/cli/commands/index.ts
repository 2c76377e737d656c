/**
 * Every subcommand registers itself here; one line per command module.
 */
import type { Command } from 'commander';
import { registerBrain } from './brain.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerEvents } from './events.js';
import { registerGate } from './gate.js';
import { registerHold } from './hold.js';
import { registerHolds } from './holds.js';
import { registerInstances } from './instances.js';
import { registerLedger } from './ledger.js';
import { registerPermit } from './permit.js';
import { registerStatus } from './status.js';
import { registerReconcile } from './reconcile.js';
import { registerSim } from './sim.js';
import { registerVenue } from './venue.js';
import { registerWeb } from './web.js';

export function registerCommands(program: Command): void {
  void program;
  registerStatus(program);
  registerHolds(program);
  registerInstances(program);
  registerHold(program);
  registerLedger(program);
  registerEvents(program);
  registerPermit(program);
  registerGate(program);
  registerDoctor(program);
  registerReconcile(program);
  registerVenue(program);
  registerBrain(program);
  registerWeb(program);
  registerDemo(program);
  registerSim(program);
}
