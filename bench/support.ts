/**
 * The test doubles the benchmark shares with the integration tests (test/support/), loaded at run time.
 *
 * bench/tsconfig.json compiles them into dist/test/support/. The root build compiles bench/** too, but its
 * composite project must not reach into test/ (TS6307), so no bench module imports them statically: their
 * modules are required by path here, and this file declares the little of their API the benchmark uses.
 */
import type {Subscription} from '@google-cloud/pubsub';
import {join} from 'node:path';

/** test/support/fake-operations-server.ts, as the benchmark uses it. */
export interface FakeOperationsServer {
  readonly baseUrl: string;
  readonly requests: ReadonlyArray<{
    name?: string;
    at: number;
    status: number;
    path: string;
  }>;
  define(
    name: string,
    behavior:
      | {kind: 'finish'; afterMs: number}
      | {kind: 'never'}
      | {kind: 'computed'; operation: (now: number) => object},
  ): void;
  setLatency(latency: number | {medianMs: number; p99Ms: number}): void;
  setServerErrors(rate: number): void;
  reset(): void;
  stop(): Promise<void>;
}

/** test/support/metadata-server.ts, as the benchmark uses it. */
export interface FakeMetadataServer {
  /** Points this process's ADC (and children given its environment) at the stand-in. */
  install(): () => void;
  stop(): Promise<void>;
}

/** A pulled Pub/Sub message, `data` parsed as JSON; a redelivery has the same `id`. */
export interface PulledMessage {
  data: unknown;
  attributes: Record<string, string>;
  id: string;
}

function load<T>(module: string): T {
  return require(join(__dirname, '..', 'test', 'support', module)) as T;
}

/** Starts the fake Google operations API on loopback. */
export function startFakeOperations(
  latencyMs: number,
): Promise<FakeOperationsServer> {
  return load<{
    FakeOperationsServer: {
      start(o: {
        latencyMs: number;
        listPageSize: number;
      }): Promise<FakeOperationsServer>;
    };
  }>('fake-operations-server').FakeOperationsServer.start({
    latencyMs,
    // ListOperations pages as an API's pages, not two at a time as the tests' fake does to page often.
    listPageSize: 100,
  });
}

/** Starts the fake GCE metadata server that mints the poller's tokens. */
export function startFakeMetadata(
  projectId: string,
): Promise<FakeMetadataServer> {
  return load<{
    FakeMetadataServer: {
      start(o: {projectId: string}): Promise<FakeMetadataServer>;
    };
  }>('metadata-server').FakeMetadataServer.start({projectId});
}

/** Pulls and acknowledges up to `count` messages, waiting at most `timeoutMs`. */
export function pullMessages(
  subscription: Subscription,
  options: {count: number; timeoutMs: number},
): Promise<PulledMessage[]> {
  return load<{
    pullMessages(
      s: Subscription,
      o: {count: number; timeoutMs: number},
    ): Promise<PulledMessage[]>;
  }>('emulator-env').pullMessages(subscription, options);
}
