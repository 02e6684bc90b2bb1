/**
 * The whole of opwatch in one test process, on real parts: the Functions Framework serving both targets of
 * functions/index.ts, the Firestore and Pub/Sub emulators, google-auth-library minting tokens from the metadata
 * stand-in, and the fake operations server standing in for every watched Google API (through
 * ENDPOINT_OVERRIDES, as an operator would point opwatch at a local stand-in).
 *
 * One stack per test file: the configuration is read from the environment on the functions' first request.
 */
import {Firestore} from '@google-cloud/firestore';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import {PubSub, type Subscription} from '@google-cloud/pubsub';
import type {Server} from 'node:http';
import request from 'supertest';
import {
  TEST_PROJECT,
  createTopicAndSubscription,
  pullMessages,
  uniqueName,
  type PulledMessage,
} from './emulator-env';
import {FakeMetadataServer} from './metadata-server';
import {FakeOperationsServer} from './fake-operations-server';
import {
  functionEnv,
  startPollProcess,
  type SpawnedFunction,
  type StackAddresses,
} from './poll-process';

/** The Google API hosts the fake operations server stands in for. */
export const FAKED_SERVICES = [
  'firestore.googleapis.com',
  'workspaceevents.googleapis.com',
  'apigateway.googleapis.com',
  'compute.googleapis.com',
];

/** A running stack. */
export interface TestStack {
  collection: string;
  topic: string;
  subscription: Subscription;
  firestore: Firestore;
  operationsApi: FakeOperationsServer;
  metadata: FakeMetadataServer;
  /** POSTs a registration; resolves with the response. */
  register(body: object): Promise<request.Response>;
  /** POSTs a watch of a parent; resolves with the response. */
  watch(body: object): Promise<request.Response>;
  /** One Scheduler call of the poll function. */
  tick(): Promise<request.Response>;
  /** Delivers a CloudEvent to the completions function as Eventarc does (binary content mode). */
  event(type: string, data: unknown): Promise<request.Response>;
  pull(count: number, timeoutMs?: number): Promise<PulledMessage[]>;
  stop(): Promise<void>;
}

/**
 * Where `stack` is, for a function in a process of its own (poll-process.ts `functionEnv`): the emulators, the
 * stack's collection, the metadata stand-in, and the fake operations API standing in for {@link FAKED_SERVICES}
 * (plus `overrides`).
 */
export function stackAddresses(
  stack: TestStack,
  overrides: Record<string, string> = {},
): StackAddresses {
  return {
    projectId: TEST_PROJECT,
    firestoreHost: process.env.FIRESTORE_EMULATOR_HOST!,
    pubsubHost: process.env.PUBSUB_EMULATOR_HOST!,
    collection: stack.collection,
    metadataHost: stack.metadata.host,
    endpointOverrides: {
      ...Object.fromEntries(
        FAKED_SERVICES.map(host => [host, stack.operationsApi.baseUrl]),
      ),
      ...overrides,
    },
  };
}

/**
 * Starts a stack; `env` adds or overrides configuration (e.g. POLL_BUDGET_SECONDS), `overrides` adds
 * ENDPOINT_OVERRIDES entries to the fake operations server's (e.g. Google's identity hosts).
 */
export async function startStack(
  env: Record<string, string> = {},
  overrides: Record<string, string> = {},
): Promise<TestStack> {
  const metadata = await FakeMetadataServer.start({projectId: TEST_PROJECT});
  const uninstall = metadata.install();
  const operationsApi = await FakeOperationsServer.start();
  const pubsub = new PubSub({projectId: TEST_PROJECT});
  const topic = uniqueName('notifications');
  const {subscription} = await createTopicAndSubscription(
    pubsub,
    topic,
    `${topic}-sub`,
  );
  const collection = uniqueName('operations');

  Object.assign(process.env, {
    GOOGLE_CLOUD_PROJECT: TEST_PROJECT,
    OPERATIONS_COLLECTION: collection,
    DEFAULT_TOPIC: topic,
    ENDPOINT_OVERRIDES: JSON.stringify({
      ...Object.fromEntries(
        FAKED_SERVICES.map(host => [host, operationsApi.baseUrl]),
      ),
      ...overrides,
    }),
    POLL_BUDGET_SECONDS: '8',
    // Long enough that the publish timeout (a quarter of the lease) outlasts a loaded emulator's first publish.
    POLL_LEASE_SECONDS: '8',
    POLL_REQUEST_TIMEOUT_SECONDS: '2',
    // The local stack has no Google to sign ID tokens, and the suites watch operations of made-up projects.
    ALLOW_UNAUTHENTICATED: 'true',
    WATCH_PROJECTS: '*',
    ...env,
  });
  require('../../functions/index');
  const operations: Server = getTestServer('operations');
  const poll: Server = getTestServer('poll');
  const completions: Server = getTestServer('completions');
  const firestore = new Firestore({projectId: TEST_PROJECT});

  return {
    collection,
    topic,
    subscription,
    firestore,
    operationsApi,
    metadata,
    register: body => request(operations).post('/operations').send(body),
    watch: body => request(operations).post('/watches').send(body),
    tick: () => request(poll).post('/').send({}),
    event: (type, data) =>
      request(completions)
        .post('/')
        .set({
          'ce-specversion': '1.0',
          'ce-id': uniqueName('event'),
          'ce-source': '//cloudaudit.googleapis.com/projects/demo',
          'ce-type': type,
          'content-type': 'application/json',
        })
        .send(JSON.stringify(data)),
    pull: (count, timeoutMs = 15_000) =>
      pullMessages(subscription, {count, timeoutMs}),
    async stop() {
      await Promise.all([
        operationsApi.stop(),
        metadata.stop(),
        firestore.terminate(),
        pubsub.close(),
      ]);
      uninstall();
    },
  };
}

/** A stack and the `poll` function in a process of its own, configured with `pollEnv` on top of the stack's. */
export interface StackWithPoller {
  stack: TestStack;
  poller: SpawnedFunction;
  /** Stops the poll process, then the stack. */
  stop(): Promise<void>;
}

/** Starts a stack and a poll process pointed at it (poll-process.ts), for tests that kill or restart the poller. */
export async function startStackWithPoller(
  pollEnv: Record<string, string>,
): Promise<StackWithPoller> {
  const stack = await startStack();
  const poller = await startPollProcess(
    functionEnv(stackAddresses(stack), pollEnv),
  );
  return {
    stack,
    poller,
    async stop() {
      await poller.stop();
      await stack.stop();
    },
  };
}
