import type { BenchResults } from './report.js';

export function renderTables(results: BenchResults): string {
  return '```json\n' + JSON.stringify(results.floors) + '\n```';
}
