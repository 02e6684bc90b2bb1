/**
 * What a benchmark run measured, stage by stage: bench/run.ts fills it in, bench/report.ts writes it out.
 */
import type {RealWorkload, WorkloadResult} from './informed';
import type {Row, SimulatedComparison} from './policies';
import type {RealRun} from './real-run';
import type {LoadResult} from './registration';
import type {Sweep} from './scale';
import type {ShardResults} from './shards';
import type {TickMeasurement} from './throughput';
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

/** Everything a run measured; a stage left out is absent. */
export interface Results {
  command: string;
  quick: boolean;
  startedAt: Date;
  durationMs: number;
  machine: Machine;
  latencyMs: number;
  policy?: {comparison: SimulatedComparison; real?: RealRun};
  /** opwatch with completion events beside the peers (the first two rows: opwatch, then with events). */
  events?: {simulated: Row[]; real?: RealRun};
  informed?: WorkloadResult[];
  informedReal?: RealWorkload[];
  throughput?: {
    atDefault: TickMeasurement;
    atHigh: TickMeasurement;
    memory: TickMeasurement[];
  };
  registration?: LoadResult[];
  scale?: Sweep[];
  shards?: ShardResults;
  /** API calls per operation for a watched parent against registering each (bench/watch.ts). */
  watch?: WatchResult;
}
