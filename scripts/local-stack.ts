/**
 * The local stack a newcomer runs with `npm start`: the real Firestore and Pub/Sub emulators, the functions under
 * the Functions Framework, a stand-in for Cloud Scheduler that triggers `poll`, a subscriber that prints every
 * notification, and a sandbox (scripts/lib/sandbox.ts). Ctrl-C stops all of it. A sandbox operation's completion
 * entry goes to a local audit topic that a push subscription delivers to `completions`, as completion events do
 * when deployed, so its notification comes about a second after it ends. A new registration's wake goes to the
 * poll fan-out topic, pushed to `poll`, as deployed, so it is polled at once, not at the next tick.
 *
 * The sandbox is on by default, because a newcomer usually has neither network access to Google APIs nor
 * credentials, and without it a registered operation would never finish: a sandbox operations API stands in
 * for firestore, workspaceevents and apigateway.googleapis.com (through ENDPOINT_OVERRIDES, the user's own
 * overrides merged on top), and a metadata-server stand-in mints the functions' tokens, so they never use the
 * user's real credentials (which would otherwise be sent to the sandbox). How a sandbox operation ends depends
 * on its id; the banner lists the conventions. LOCAL_SANDBOX=0 turns both off: the functions then poll the real
 * APIs with the user's Application Default Credentials.
 *
 * Environment (all optional): GOOGLE_CLOUD_PROJECT (demo-opwatch), LOCAL_TICK_SECONDS (10; 0 disables the
 * automatic poll), LOCAL_SANDBOX (1; 0 turns the sandbox off), LOCAL_OPERATION_SECONDS (15, how long a sandbox
 * operation runs), FIRESTORE_EMULATOR_PORT (8086), PUBSUB_EMULATOR_PORT (8085), OPERATIONS_PORT (8080),
 * POLL_PORT (8081), SANDBOX_PORT (8082), COMPLETIONS_PORT (8083). Everything else, ENDPOINT_OVERRIDES for one, passes through to the
 * functions.
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
import {assertPortFree, LOOPBACK, portFromEnv} from './lib/ports';
import {
  type Sandbox,
  SANDBOX_HOSTS,
  sandboxEndpointOverrides,
  startSandbox,
} from './lib/sandbox';
import {startTicker} from './lib/scheduler';

/** dist/scripts/local-stack.js -> the deploy artifact (`npm run package`), whose package.json `main` registers the targets. */
const ARTIFACT = resolve(__dirname, '..', '..', 'build', 'function-source');
const TOPIC = 'opwatch-notifications';
const SUBSCRIPTION = 'opwatch-notifications-local';
/** Where the sandbox writes completion entries, as a Logging sink would. */
const AUDIT_TOPIC = 'opwatch-audit-local';
/** The poll fan-out topic, as deployed: a new registration's wake goes there, pushed to `poll`. */
const FANOUT_TOPIC = 'opwatch-poll-fanout';

const say = (prefix: string) => (line: string) =>
  process.stdout.write(`[${prefix}] ${line}\n`);
const log = say('local-stack');

function secondsFromEnv(name: string, fallback: number): number {
  const text = process.env[name] ?? '';
  const seconds = text === '' ? fallback : Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error(
      `${name} must be a number of seconds, not ${JSON.stringify(text)}`,
    );
  }
  return seconds;
}

function flagFromEnv(name: string, fallback: boolean): boolean {
  const text = (process.env[name] ?? '').trim().toLowerCase();
  if (text === '') return fallback;
  if (['1', 'true', 'on', 'yes'].includes(text)) return true;
  if (['0', 'false', 'off', 'no'].includes(text)) return false;
  throw new Error(`${name} must be 1 or 0, not ${JSON.stringify(text)}`);
}

function readSettings() {
  const sandbox = flagFromEnv('LOCAL_SANDBOX', true);
  const sandboxPort = portFromEnv('SANDBOX_PORT', 8082);
  return {
    project: process.env.GOOGLE_CLOUD_PROJECT || 'demo-opwatch',
    tickSeconds: secondsFromEnv('LOCAL_TICK_SECONDS', 10),
    firestorePort: portFromEnv('FIRESTORE_EMULATOR_PORT', 8086),
    pubsubPort: portFromEnv('PUBSUB_EMULATOR_PORT', 8085),
    operationsPort: portFromEnv('OPERATIONS_PORT', 8080),
    pollPort: portFromEnv('POLL_PORT', 8081),
    completionsPort: portFromEnv('COMPLETIONS_PORT', 8083),
    sandbox: sandbox
      ? {
          port: sandboxPort,
          operationSeconds: secondsFromEnv('LOCAL_OPERATION_SECONDS', 15),
          // Checked here, before anything starts, rather than by the functions on their first request.
          endpointOverrides: sandboxEndpointOverrides(
            process.env.ENDPOINT_OVERRIDES,
            `http://${LOOPBACK}:${sandboxPort}`,
          ),
        }
      : undefined,
  };
}
type Settings = ReturnType<typeof readSettings>;
type SandboxSettings = NonNullable<Settings['sandbox']>;

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
  await assertEmulatorsInstalled();
  await assertPortsFree(settings);

  log('starting the Firestore and Pub/Sub emulators...');
  const [firestore, pubsubEmulator] = await startEmulators(stack, settings);
  log(
    `emulators ready: Firestore in ${firestore.lastStartupMs} ms, Pub/Sub in ${pubsubEmulator.lastStartupMs} ms`,
  );

  const pubsub = await startNotifications(stack, settings, pubsubEmulator);
  let env: NodeJS.ProcessEnv = {
    ...process.env,
    FIRESTORE_EMULATOR_HOST: firestore.host,
    PUBSUB_EMULATOR_HOST: pubsubEmulator.host,
    GOOGLE_CLOUD_PROJECT: settings.project,
    DEFAULT_TOPIC: TOPIC,
    // Nothing on a laptop signs ID tokens for the local functions: every registration is `anonymous`'s.
    ALLOW_UNAUTHENTICATED: 'true',
    // ... who is the local stack's admin, so `opwatch stats` (GET /stats) answers.
    ADMIN_PRINCIPALS: process.env.ADMIN_PRINCIPALS ?? 'anonymous',
    POLL_FANOUT_TOPIC: (
      await pushTopic(
        pubsub,
        FANOUT_TOPIC,
        `http://${LOOPBACK}:${settings.pollPort}/`,
      )
    ).name,
  };
  let sandbox: Sandbox | undefined;
  if (settings.sandbox) {
    // Started before the functions, so it is stopped after them: no poll in flight meets a closed port.
    sandbox = await startSandboxWithEvents(
      stack,
      settings,
      settings.sandbox,
      pubsub,
    );
    env = sandboxFunctionEnv(sandbox, settings.sandbox, env);
  }
  await startFunctions(stack, settings, env);
  if (settings.tickSeconds > 0) {
    const ticker = startTicker({
      url: `http://127.0.0.1:${settings.pollPort}/`,
      intervalMs: settings.tickSeconds * 1000,
      log: say('scheduler'),
    });
    stack.defer('scheduler', async () => ticker.stop());
  }
  printBanner(settings, firestore, pubsubEmulator, sandbox);
}

/** Every port up front: failing after the emulators took their seconds to start helps nobody. */
async function assertPortsFree(settings: Settings): Promise<void> {
  const ports: Array<[number, string, string]> = [
    [settings.firestorePort, 'Firestore emulator', 'FIRESTORE_EMULATOR_PORT'],
    [settings.pubsubPort, 'Pub/Sub emulator', 'PUBSUB_EMULATOR_PORT'],
    [settings.operationsPort, 'operations function', 'OPERATIONS_PORT'],
    [settings.pollPort, 'poll function', 'POLL_PORT'],
    [settings.completionsPort, 'completions function', 'COMPLETIONS_PORT'],
  ];
  if (settings.sandbox) {
    ports.push([
      settings.sandbox.port,
      'sandbox operations API',
      'SANDBOX_PORT',
    ]);
  }
  for (const [port, what, variable] of ports) {
    await assertPortFree(port, what, `set ${variable} to use another`);
  }
}

/** A Pub/Sub client of the emulator, and the notification topic with a subscriber that prints what arrives. */
async function startNotifications(
  stack: CleanupStack,
  settings: Settings,
  emulator: Emulator,
): Promise<PubSub> {
  const pubsub = new PubSub({
    projectId: settings.project,
    apiEndpoint: emulator.host,
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
  return pubsub;
}

/** The sandbox, its operations' completion entries published to the audit topic pushed to `completions`. */
async function startSandboxWithEvents(
  stack: CleanupStack,
  settings: Settings,
  sandboxSettings: SandboxSettings,
  pubsub: PubSub,
): Promise<Sandbox> {
  const {project} = settings;
  // The push path names the topic, as the Functions Framework expects of a raw push request.
  const audit = await pushTopic(
    pubsub,
    AUDIT_TOPIC,
    `http://${LOOPBACK}:${settings.completionsPort}/projects/${project}/topics/${AUDIT_TOPIC}`,
  );
  const sandbox = await startSandbox({
    port: sandboxSettings.port,
    projectId: project,
    operationMs: sandboxSettings.operationSeconds * 1000,
    log: say('sandbox'),
    onCompleted: entry =>
      void audit
        .publishMessage({json: entry})
        .catch((error: Error) =>
          say('sandbox')(`publishing a completion entry: ${error.message}`),
        ),
  });
  stack.defer('sandbox', () => sandbox.stop());
  return sandbox;
}

/** The functions' environment with the sandbox standing in for the Google APIs. */
function sandboxFunctionEnv(
  sandbox: Sandbox,
  sandboxSettings: SandboxSettings,
  env: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
  return sandbox.functionEnv({
    ...env,
    ENDPOINT_OVERRIDES: JSON.stringify(sandboxSettings.endpointOverrides),
    // The sandbox announces its operations' completion: registrations may back off lazily.
    COMPLETION_EVENTS: 'true',
  });
}

/** The three functions under the Functions Framework; any of them exiting stops the stack. */
async function startFunctions(
  stack: CleanupStack,
  settings: Settings,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const targets: Array<[string, number]> = [
    ['operations', settings.operationsPort],
    ['poll', settings.pollPort],
    ['completions', settings.completionsPort],
  ];
  const functions = targets.map(([target, port]) => {
    const child = spawnFunction({source: ARTIFACT, target, port, env});
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
}

/**
 * A topic and its push subscription to a local function, on the Pub/Sub emulator: the audit topic to
 * `completions` (Cloud Logging's sink and Eventarc's delivery), the poll fan-out topic to `poll` (its OIDC push
 * subscription, as deployed).
 */
async function pushTopic(pubsub: PubSub, name: string, pushEndpoint: string) {
  const topic = pubsub.topic(name);
  const [exists] = await topic.exists();
  if (!exists) await topic.create();
  const subscription = topic.subscription(`${name}-push`);
  const [subscribed] = await subscription.exists();
  if (!subscribed) await subscription.create({pushConfig: {pushEndpoint}});
  return topic;
}

/** The banner's sandbox rows, what a sandbox operation does, and the operations its examples register. */
function sandboxText(
  settings: Settings,
  sandbox: Sandbox | undefined,
): {rows: string; conventions: string; examples: string[]} {
  const firestoreOperation = (id: string) =>
    `https://firestore.googleapis.com/v1/projects/${settings.project}/databases/(default)/operations/${id}`;
  if (!settings.sandbox || !sandbox) {
    return {
      rows: `  sandbox     off (LOCAL_SANDBOX=0): the real Google APIs, polled with your Application Default
              Credentials (gcloud auth application-default login)
`,
      conventions: '',
      examples: [firestoreOperation('ABC')],
    };
  }
  const seconds = settings.sandbox.operationSeconds;
  const overrides = settings.sandbox.endpointOverrides;
  // A user's own ENDPOINT_OVERRIDES entry takes a host away from the sandbox.
  const hosts = SANDBOX_HOSTS.filter(
    host => overrides[host] === sandbox.operationsApi.baseUrl,
  );
  return {
    rows: `  sandbox     ${sandbox.operationsApi.baseUrl} stands in for ${hosts.join(', ')}
              tokens from a metadata-server stand-in at ${sandbox.metadata.host}, never your own credentials
              LOCAL_SANDBOX=0 turns it off: the real APIs, with your own credentials
  events      a finished sandbox operation's audit entry goes to topic ${AUDIT_TOPIC}, pushed to completions:
              its notification comes about a second after it ends (Firestore and API Gateway names)
`,
    conventions: `
A sandbox operation's id (its last path segment) says how it ends, timed from its first poll:
  contains "fail"     fails after ${seconds} s (error code 9, FAILED_PRECONDITION)
  contains "never"    never finishes (until the registration times out)
  contains "missing"  answers 404: ends as not_found after a few polls
  anything else       finishes after ${seconds} s with a response (LOCAL_OPERATION_SECONDS)
`,
    examples: [
      firestoreOperation('ABC'),
      firestoreOperation('fail-1'),
      'https://workspaceevents.googleapis.com/v1beta/operations/demo-subscription',
    ],
  };
}

function printBanner(
  settings: Settings,
  firestore: Emulator,
  pubsub: Emulator,
  sandbox: Sandbox | undefined,
): void {
  const {project, operationsPort, pollPort, tickSeconds} = settings;
  const {rows, conventions, examples} = sandboxText(settings, sandbox);
  const register = (operation: string) =>
    `  curl -s -X POST localhost:${operationsPort}/operations -H 'content-type: application/json' -d '{"operation":"${operation}"}'`;
  const scheduled =
    tickSeconds > 0
      ? `POSTed every ${tickSeconds} s, as Cloud Scheduler would`
      : 'not triggered automatically (LOCAL_TICK_SECONDS=0)';
  process.stdout.write(`
opwatch local stack is up (project ${project})
  operations  http://127.0.0.1:${operationsPort}/operations
  poll        http://127.0.0.1:${pollPort}/  (${scheduled})
  completions http://127.0.0.1:${settings.completionsPort}/  (completion events, CloudEvents)
  Firestore   ${firestore.host}  log: ${firestore.logFile}
  Pub/Sub     ${pubsub.host}  log: ${pubsub.logFile}
              topic ${TOPIC}, subscription ${SUBSCRIPTION} (printed below as [notification])
${rows}${conventions}
Register an operation:
${examples.map(register).join('\n')}
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
