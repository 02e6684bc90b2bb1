/**
 * One poll's pure steps, as the poller takes them (functions/polling/registration-poll.ts and poll-settle.ts), for
 * one answer of the hostile server: the operations client reads and classifies it, the forecast places the next
 * poll, the update the poller would write is encoded by the codec and read back, and the notification of the
 * watch's end is built and read back. Polls chain: each starts from the registration the last one stored.
 */
import type {DocumentSnapshot} from '@google-cloud/firestore';
import {
  readDocument,
  toDocument,
  type ReadResult,
} from '../../functions/core/document';
import type {Operation, Registration} from '../../functions/core/model';
import type {PollResult} from '../../functions/core/policy';
import {lroSettingsFor} from '../../functions/core/presets';
import type {DurationModel} from '../../functions/forecast/durations';
import {observedDuration} from '../../functions/forecast/durations';
import {forecast, type Forecast} from '../../functions/forecast/forecast';
import {operationKind} from '../../functions/forecast/kind';
import {OperationsClient} from '../../functions/google/operations-client';
import {
  buildNotification,
  parseNotification,
  type Notification,
  type NotificationPayload,
} from '../../functions/notify/notification';
import {memoryBudget} from '../../functions/polling/memory-budget';
import {lagStart} from '../../functions/polling/outcome-publish';
import {pollUpdate} from '../../functions/polling/poll-settle';
import {withField} from './hostile-documents';

/**
 * The poll function's configuration in the suites: the deployed memory, concurrency and lease (whose quarter is
 * a write's and a publish's deadline), short ticks and requests.
 */
export const POLL_ENV = {
  POLL_BUDGET_SECONDS: '6',
  POLL_LEASE_SECONDS: '15',
  POLL_REQUEST_TIMEOUT_SECONDS: '2',
  POLL_MEMORY_MB: '512',
  POLL_CONCURRENCY: '32',
};
export const BUDGET = memoryBudget({
  memoryMb: Number(POLL_ENV.POLL_MEMORY_MB),
  concurrency: Number(POLL_ENV.POLL_CONCURRENCY),
});

/** An operations client that reads answers from `baseUrl` as the poller does, under the same answer cap. */
export function answerClient(baseUrl: string): OperationsClient {
  return new OperationsClient({
    endpointOverrides: new Map([['firestore.googleapis.com', baseUrl]]),
    requestTimeoutMs: 5000,
    maxAnswerBytes: BUDGET.maxAnswerBytes,
    tokens: {accessToken: async () => 'token'},
  });
}

/** How long finished registrations are kept; only sets `expireAt`. */
const RETENTION_MS = 7 * 86_400_000;

/** What one poll's steps made of an answer. */
export interface Passage {
  result: PollResult;
  forecast: Forecast;
  /** The stored document after the poll's update, read back as the next poll would. */
  readBack: ReadResult;
  /** The notification of the watch's end: its own outcome, or `expired` should the deadline come now. */
  notification: Notification;
  payload: NotificationPayload;
  /** Where the notification's lag starts (outcome-publish.ts), and the duration a success would teach. */
  lagStart: number;
  learned?: number;
}

/** A registration as the registration API stores it, created at `createdAt`, never polled yet. */
export function freshRegistration(
  name: string,
  createdAt: number,
  timeoutMs: number,
): Registration {
  const service = 'firestore.googleapis.com';
  return {
    id: 'f'.repeat(32),
    owner: 'anonymous',
    operation: {
      service,
      version: 'v1',
      name,
      url: `https://${service}/v1/${name}`,
    },
    topic: 'projects/demo-opwatch/topics/hostile',
    labels: {team: 'faults'},
    timeoutMs,
    scopes: [],
    style: 'longrunning',
    state: 'pending',
    createdAt,
    updatedAt: createdAt,
    deadline: createdAt + timeoutMs,
    nextPollAt: createdAt,
    attempts: 0,
    errorStreak: 0,
  };
}

/** A document snapshot of `fields`, as a read returns it. */
export function snapshotOf(
  id: string,
  fields: Record<string, unknown>,
): DocumentSnapshot {
  const snapshot = {id, data: () => fields, get: (f: string) => fields[f]};
  return snapshot as unknown as DocumentSnapshot;
}

/** The stored document of `registration`, as the registration API writes it. */
export function storedDocument(
  registration: Registration,
): Record<string, unknown> {
  return toDocument(registration, RETENTION_MS);
}

/**
 * The poll of `registration` at `now` through every pure step, the answer read by `client`.
 * @param durations what the kind's history would say, if it has one.
 * @throws whatever a step throws: the suite holds that none does.
 */
export async function pollThrough(
  client: OperationsClient,
  registration: Registration,
  now: number,
  durations: DurationModel | undefined,
): Promise<Passage> {
  const result = await client.get(registration);
  const kind =
    result.kind === 'operation'
      ? operationKind(registration.operation.service, result.operation)
      : undefined;
  const next = forecast(
    registration,
    result,
    now,
    Math.random,
    kind && {
      durations,
      prior: lroSettingsFor(registration.operation.service, kind.verb),
    },
  );
  const update = toDocument(pollUpdate(next, now), RETENTION_MS);
  const document = Object.entries(update).reduce(
    (stored, [field, value]) => withField(stored, field, value),
    storedDocument(registration),
  );
  const transition = next.transition;
  const operation: Operation | undefined =
    transition.lastOperation ?? registration.lastOperation;
  const notification = buildNotification(registration, {
    outcome: transition.outcome ?? 'expired',
    finishedAt: now,
    attempts: transition.attempts,
    operation,
    pollError: transition.lastError,
  });
  return {
    result,
    forecast: next,
    readBack: readDocument(snapshotOf(registration.id, document)),
    notification,
    payload: parseNotification(notification.data),
    lagStart: lagStart(registration, operation, now),
    learned:
      transition.outcome === 'succeeded' && operation
        ? observedDuration(registration, operation, now)
        : undefined,
  };
}
