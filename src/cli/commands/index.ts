/**
 * Every subcommand registers itself here; one line per command module.
 */
import type { Command } from 'commander';
import { registerVenue } from './venue.js';

export function registerCommands(program: Command): void {
  void program;
  registerVenue(program);
}
