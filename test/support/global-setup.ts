/**
 * Jest global setup: starts the real Firestore and Pub/Sub emulators and points every test worker at them.
 *
 * Workers inherit the environment set here. Emulators the caller already runs (FIRESTORE_EMULATOR_HOST or
 * PUBSUB_EMULATOR_HOST set) are reused and left alone, which makes reruns fast:
 *   FIRESTORE_EMULATOR_HOST=127.0.0.1:8086 PUBSUB_EMULATOR_HOST=127.0.0.1:8085 npx jest
 */
import {
  assertEmulatorsInstalled,
  Emulator,
  startFirestoreEmulator,
  startPubSubEmulator,
} from '../../scripts/lib/emulators';

/** The project the tests use: `demo-` ids are never real ones, so a mistake cannot reach Google Cloud. */
export const TEST_PROJECT = 'demo-opwatch';

/** Where the setup leaves its handles: jest runs setup and teardown in one process, but as separate modules. */
const HANDLES = Symbol.for('opwatch.test.emulators');
type WithHandles = typeof globalThis & {[HANDLES]?: Emulator[]};

/** The emulators the global setup started (not the ones it reused); for the global teardown. */
export function startedEmulators(): Emulator[] {
  return (globalThis as WithHandles)[HANDLES] ?? [];
}

export default async function globalSetup(): Promise<void> {
  // Tests never touch a real project, whatever the caller's shell has configured.
  process.env.GOOGLE_CLOUD_PROJECT = TEST_PROJECT;
  const needFirestore = !process.env.FIRESTORE_EMULATOR_HOST;
  const needPubSub = !process.env.PUBSUB_EMULATOR_HOST;
  if (!needFirestore && !needPubSub) return;

  await assertEmulatorsInstalled();
  const began = Date.now();
  const results = await Promise.allSettled([
    needFirestore ? startFirestoreEmulator() : undefined,
    needPubSub ? startPubSubEmulator({projectId: TEST_PROJECT}) : undefined,
  ]);
  const started = results.flatMap(result =>
    result.status === 'fulfilled' && result.value ? [result.value] : [],
  );
  const failure = results.find(result => result.status === 'rejected');
  if (failure) {
    // Jest runs no teardown when the setup throws: stop what did start.
    await Promise.all(started.map(emulator => emulator.stop()));
    throw (failure as PromiseRejectedResult).reason;
  }

  (globalThis as WithHandles)[HANDLES] = started;
  const [firestore, pubsub] = results.map(
    result => (result as PromiseFulfilledResult<Emulator | undefined>).value,
  );
  if (firestore) process.env.FIRESTORE_EMULATOR_HOST = firestore.host;
  if (pubsub) process.env.PUBSUB_EMULATOR_HOST = pubsub.host;
  const names = started
    .map(emulator => `${emulator.name} ${emulator.host}`)
    .join(', ');
  process.stderr.write(
    `\nemulators ready in ${((Date.now() - began) / 1000).toFixed(1)} s: ${names}\n`,
  );
}
