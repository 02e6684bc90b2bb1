/**
 * Pending registrations written straight to Firestore, through the stored schema's own `toDocument`
 * (functions/core/document.ts), so they have exactly the shape the registration API stores; and, for the stages
 * that want them finished at once, the fake API's answers.
 */
import type {Firestore} from '@google-cloud/firestore';
import {
  ANONYMOUS,
  registrationId,
  type Registration,
} from '../functions/core/model';
import {CLOUD_PLATFORM} from '../functions/core/presets';
import {toDocument} from '../functions/core/document';
import {DEFAULT_TIMEOUT_MS} from '../functions/core/schemas';
import {PROJECT, SERVICE, type BenchEnv} from './env';

/** RETENTION_DAYS' default. */
export const RETENTION_MS = 30 * 86_400_000;
const BATCH = 500;
const BATCHES_IN_FLIGHT = 4;

/** The operation name of the `index`-th seeded registration of a run. */
export function operationName(prefix: string, index: number): string {
  return `projects/${PROJECT}/databases/(default)/operations/${prefix}-${index}`;
}

/** A pending registration of `name`, due at `nextPollAt`, polled `attempts` times so far. */
export function pendingRegistration(
  name: string,
  topic: string,
  nextPollAt: number,
  now: number,
  attempts = 0,
): Registration {
  const url = `https://${SERVICE}/v1/${name}`;
  return {
    operation: {service: SERVICE, version: 'v1', name, url},
    topic,
    labels: {},
    timeoutMs: DEFAULT_TIMEOUT_MS,
    scopes: [CLOUD_PLATFORM],
    style: 'longrunning',
    id: registrationId(url, topic, ANONYMOUS),
    owner: ANONYMOUS,
    state: 'pending',
    createdAt: now,
    updatedAt: now,
    deadline: now + DEFAULT_TIMEOUT_MS,
    nextPollAt,
    attempts,
    errorStreak: 0,
  };
}

/**
 * Writes `count` pending registrations of operations `prefix-0`, `prefix-1`, ..., the i-th due at `dueAt(i)`,
 * each polled `attempts` times so far (0 unless given).
 * @returns how long it took, in milliseconds.
 */
export async function seed(
  firestore: Firestore,
  options: {
    collection: string;
    topic: string;
    prefix: string;
    count: number;
    dueAt: (index: number) => number;
    attempts?: number;
  },
): Promise<number> {
  const began = Date.now();
  const collection = firestore.collection(options.collection);
  let commits: Promise<unknown>[] = [];
  for (let start = 0; start < options.count; start += BATCH) {
    const batch = firestore.batch();
    const end = Math.min(options.count, start + BATCH);
    for (let i = start; i < end; i++) {
      const registration = pendingRegistration(
        operationName(options.prefix, i),
        options.topic,
        options.dueAt(i),
        began,
        options.attempts,
      );
      batch.create(
        collection.doc(registration.id),
        toDocument(registration, RETENTION_MS),
      );
    }
    commits.push(batch.commit());
    if (commits.length >= BATCHES_IN_FLIGHT) {
      await Promise.all(commits);
      commits = [];
    }
  }
  await Promise.all(commits);
  return Date.now() - began;
}

/**
 * Seeds `count` registrations of operations `prefix-0`, ... due now, notifying `topicId`, each operation answered
 * `done` by the fake API at its first poll.
 * @returns how long the seeding took, in milliseconds.
 */
export async function seedFinishingNow(
  env: BenchEnv,
  options: {collection: string; topicId: string; prefix: string; count: number},
): Promise<number> {
  for (let i = 0; i < options.count; i++)
    env.fake.define(operationName(options.prefix, i), {
      kind: 'finish',
      afterMs: 0,
    });
  const now = Date.now();
  return seed(env.firestore, {
    collection: options.collection,
    topic: `projects/${PROJECT}/topics/${options.topicId}`,
    prefix: options.prefix,
    count: options.count,
    dueAt: () => now,
  });
}
