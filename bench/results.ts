/**
 * What a benchmark run measured, stage by stage: bench/stages.ts fills it in, bench/report.ts writes it out. A
 * stage that did not run leaves its field absent, and its section out of the report.
 */
import type {Deployment} from './deployed';
import type {FamilyEvaluation} from './evaluation';
import type {RealRun} from './real-run';
import type {LoadResult} from './registration';
import type {Sweep} from './scale';
import type {ShardResults} from './shards';
import type {Timing} from './simulate';
import type {SteadyRun} from './steady';
import type {WatchResult} from './watch';

/** Where and how the benchmark ran. */
export interface Machine {
  cpus: number;
  model: string;
  ramGiB: number;
  node: string;
  loadBefore: string;
  loadAfter: string;
}

/** One family's compressed real run. */
export interface RealFamilyRun {
  family: string;
  role: string;
  description: string;
  run: RealRun;
}

/** Everything a run measured; a stage left out is absent. */
export interface Results {
  command: string;
  quick: boolean;
  stages: string[];
  startedAt: Date;
  durationMs: number;
  machine: Machine;
  deployment: Deployment;
  timing: Timing;
  evaluation?: FamilyEvaluation[];
  events?: FamilyEvaluation;
  real?: RealFamilyRun[];
  steady?: SteadyRun[];
  registration?: LoadResult[];
  scale?: Sweep[];
  shards?: ShardResults;
  /** API calls per operation for a watched parent against registering each (bench/watch.ts). */
  watch?: WatchResult;
}
