/**
 * Jest global teardown: stops the emulators the global setup started; reused ones keep running.
 */
import {startedEmulators} from './global-setup';

export default async function globalTeardown(): Promise<void> {
  await Promise.all(startedEmulators().map(emulator => emulator.stop()));
}
