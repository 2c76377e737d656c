/**
 * The services as operators run them — child processes of the BUILT CLI — for the tests:
 * src/dev/cli-process.ts (shared with the HA cluster and the benchmarks).
 */
export {
  CLI,
  type ServiceLine,
  type ServiceProcess,
  assertCliBuilt,
  httpGet,
  snapshotBuild,
  spawnService,
} from '../../src/dev/cli-process.js';
