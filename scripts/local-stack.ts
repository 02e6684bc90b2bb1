/**
 * The local stack a newcomer runs with `npm start`: the real Firestore and Pub/Sub emulators, both functions under
 * the Functions Framework, a stand-in for Cloud Scheduler that triggers `poll`, and a subscriber that prints every
 * notification. Ctrl-C stops all of it.
 *
 * Environment (all optional): GOOGLE_CLOUD_PROJECT (demo-opwatch), LOCAL_TICK_SECONDS (10; 0 disables the
 * automatic poll), FIRESTORE_EMULATOR_PORT (8086), PUBSUB_EMULATOR_PORT (8085), OPERATIONS_PORT (8080),
 * POLL_PORT (8081). Everything else, ENDPOINT_OVERRIDES for one, passes through to the functions.
 */
import {PubSub} from '@google-cloud/pubsub';
import {resolve} from 'node:path';
import {
  assertEmulatorsInstalled,
  Emulator,
  startFirestoreEmulator,
  startPubSubEmulator,
} from './lib/emulators';
import {CleanupStack} from './lib/cleanup-stack';
import {spawnFunction} from './lib/function-process';
import {
  ensureTopicAndSubscription,
  printNotifications,
} from './lib/notification-printer';
import {assertPortFree, portFromEnv} from './lib/ports';
import {startTicker} from './lib/scheduler';

/** dist/scripts/local-stack.js -> the repository root, whose package.json `main` registers the targets. */
const ROOT = resolve(__dirname, '..', '..');
const TOPIC = 'opwatch-notifications';
const SUBSCRIPTION = 'opwatch-notifications-local';

const say = (prefix: string) => (line: string) =>
  process.stdout.write(`[${prefix}] ${line}\n`);
const log = say('local-stack');

function readSettings() {
  const tickText = process.env.LOCAL_TICK_SECONDS ?? '';
  const tickSeconds = tickText === '' ? 10 : Number(tickText);
  if (!Number.isFinite(tickSeconds) || tickSeconds < 0) {
    throw new Error(
      `LOCAL_TICK_SECONDS must be a number of seconds, not ${JSON.stringify(tickText)}`,
    );
  }
  return {
    project: process.env.GOOGLE_CLOUD_PROJECT || 'demo-opwatch',
    tickSeconds,
    firestorePort: portFromEnv('FIRESTORE_EMULATOR_PORT', 8086),
    pubsubPort: portFromEnv('PUBSUB_EMULATOR_PORT', 8085),
    operationsPort: portFromEnv('OPERATIONS_PORT', 8080),
    pollPort: portFromEnv('POLL_PORT', 8081),
  };
}
type Settings = ReturnType<typeof readSettings>;

async function startEmulators(
  stack: CleanupStack,
  settings: Settings,
): Promise<[Emulator, Emulator]> {
  const onUnexpectedExit = (name: string) => () =>
    void stack.shutdown(1, `the ${name} emulator exited unexpectedly`);
  const results = await Promise.allSettled([
    startFirestoreEmulator({
      port: settings.firestorePort,
      onUnexpectedExit: onUnexpectedExit('Firestore'),
    }),
    startPubSubEmulator({
      port: settings.pubsubPort,
      projectId: settings.project,
      onUnexpectedExit: onUnexpectedExit('Pub/Sub'),
    }),
  ]);
  for (const result of results) {
    if (result.status === 'fulfilled') {
      stack.defer(`${result.value.name} emulator`, () => result.value.stop());
    }
  }
  for (const result of results) {
    if (result.status === 'rejected') throw result.reason;
  }
  return results.map(
    result => (result as PromiseFulfilledResult<Emulator>).value,
  ) as [Emulator, Emulator];
}

async function start(stack: CleanupStack, settings: Settings): Promise<void> {
  const {project, operationsPort, pollPort} = settings;
  await assertEmulatorsInstalled();
  // Every port up front: failing after the emulators took their seconds to start helps nobody.
  const ports: Array<[number, string, string]> = [
    [settings.firestorePort, 'Firestore emulator', 'FIRESTORE_EMULATOR_PORT'],
    [settings.pubsubPort, 'Pub/Sub emulator', 'PUBSUB_EMULATOR_PORT'],
    [operationsPort, 'operations function', 'OPERATIONS_PORT'],
    [pollPort, 'poll function', 'POLL_PORT'],
  ];
  for (const [port, what, variable] of ports) {
    await assertPortFree(port, what, `set ${variable} to use another`);
  }

  log('starting the Firestore and Pub/Sub emulators...');
  const [firestore, pubsubEmulator] = await startEmulators(stack, settings);
  log(
    `emulators ready: Firestore in ${firestore.lastStartupMs} ms, Pub/Sub in ${pubsubEmulator.lastStartupMs} ms`,
  );

  const pubsub = new PubSub({
    projectId: project,
    apiEndpoint: pubsubEmulator.host,
    emulatorMode: true,
    // Known up front, so the auth library does not probe for a GCE metadata server (a warning and a delay here).
    universeDomain: 'googleapis.com',
  });
  stack.defer('Pub/Sub client', () => pubsub.close());
  const subscription = await ensureTopicAndSubscription(
    pubsub,
    TOPIC,
    SUBSCRIPTION,
  );
  stack.defer(
    'notification subscriber',
    printNotifications(subscription, say('notification')),
  );

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FIRESTORE_EMULATOR_HOST: firestore.host,
    PUBSUB_EMULATOR_HOST: pubsubEmulator.host,
    GOOGLE_CLOUD_PROJECT: project,
    DEFAULT_TOPIC: TOPIC,
  };
  const targets: Array<[string, number]> = [
    ['operations', operationsPort],
    ['poll', pollPort],
  ];
  const functions = targets.map(([target, port]) => {
    const child = spawnFunction({root: ROOT, target, port, env});
    stack.defer(`${target} function`, () => child.stop());
    void child.exited.then(status =>
      // Give a Ctrl-C that reached the child too a moment to reach us first.
      setTimeout(() => {
        const how = status.signal ?? `code ${status.code}`;
        void stack.shutdown(
          1,
          `the ${target} function exited (${how}); see its output above`,
        );
      }, 200),
    );
    return child;
  });
  await Promise.all(functions.map(child => child.ready()));

  if (settings.tickSeconds > 0) {
    const ticker = startTicker({
      url: `http://127.0.0.1:${pollPort}/`,
      intervalMs: settings.tickSeconds * 1000,
      log: say('scheduler'),
    });
    stack.defer('scheduler', async () => ticker.stop());
  }
  printBanner(settings, firestore, pubsubEmulator);
}

function printBanner(
  settings: Settings,
  firestore: Emulator,
  pubsub: Emulator,
): void {
  const {project, operationsPort, pollPort, tickSeconds} = settings;
  const operation = `https://firestore.googleapis.com/v1/projects/${project}/databases/(default)/operations/ABC`;
  const scheduled =
    tickSeconds > 0
      ? `POSTed every ${tickSeconds} s, as Cloud Scheduler would`
      : 'not triggered automatically (LOCAL_TICK_SECONDS=0)';
  process.stdout.write(`
opwatch local stack is up (project ${project})
  operations  http://127.0.0.1:${operationsPort}/operations
  poll        http://127.0.0.1:${pollPort}/  (${scheduled})
  Firestore   ${firestore.host}  log: ${firestore.logFile}
  Pub/Sub     ${pubsub.host}  log: ${pubsub.logFile}
              topic ${TOPIC}, subscription ${SUBSCRIPTION} (printed below as [notification])

Register an operation:
  curl -s -X POST localhost:${operationsPort}/operations -H 'content-type: application/json' -d '{"operation":"${operation}"}'
Trigger a poll now:
  curl -s -X POST localhost:${pollPort}/ -H 'content-type: application/json' -d '{}'
Use these emulators from another shell:
  export FIRESTORE_EMULATOR_HOST=${firestore.host} PUBSUB_EMULATOR_HOST=${pubsub.host} GOOGLE_CLOUD_PROJECT=${project}

Ctrl-C stops everything.

`);
}

function main(): void {
  const stack = new CleanupStack(log);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stack.stopping) {
        // A second Ctrl-C: leave now; the emulators' watchers take them down within seconds.
        log('stopping anyway');
        process.exit(130);
      }
      void stack.shutdown(0, `${signal} received`);
    });
  }
  let settings: Settings;
  try {
    settings = readSettings();
  } catch (error) {
    log((error as Error).message);
    process.exit(1);
  }
  start(stack, settings).catch(
    error =>
      void stack.shutdown(1, `could not start: ${(error as Error).message}`),
  );
}

main();
