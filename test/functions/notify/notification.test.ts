import {CloudEvent} from 'cloudevents';
import {
  MAX_MESSAGE_BYTES,
  buildNotification,
  cloudEventTypeSchema,
  notificationAttributesSchema,
  parseNotification,
} from '../../../functions/notify/notification';
import {outcomeSchema, type Registration} from '../../../functions/core/model';

const registration: Registration = {
  id: '0123456789abcdef0123456789abcdef',
  owner: 'a@example.com',
  operation: {
    service: 'firestore.googleapis.com',
    version: 'v1',
    name: 'projects/p/databases/(default)/operations/ABC',
    url: 'https://firestore.googleapis.com/v1/projects/p/databases/(default)/operations/ABC',
  },
  topic: 'projects/p/topics/t',
  labels: {team: 'data', job: '42'},
  timeoutMs: 3_600_000,
  scopes: [],
  style: 'longrunning',
  state: 'pending',
  createdAt: Date.UTC(2026, 0, 1),
  updatedAt: Date.UTC(2026, 0, 1),
  deadline: Date.UTC(2026, 0, 2),
  nextPollAt: Date.UTC(2026, 0, 1),
  attempts: 3,
  errorStreak: 0,
};
const finishedAt = Date.UTC(2026, 0, 1, 0, 5);

describe('buildNotification', () => {
  it('carries the operation exactly as returned, with routing attributes', () => {
    const operation = {
      name: 'projects/p/databases/(default)/operations/ABC',
      done: true,
      error: {code: 9, message: 'x', details: [{'@type': 't', n: [1, [2]]}]},
    };
    const notification = buildNotification(registration, {
      outcome: 'failed',
      finishedAt,
      attempts: 4,
      operation,
    });
    expect(parseNotification(notification.data)).toEqual({
      registrationId: registration.id,
      outcome: 'failed',
      owner: 'a@example.com',
      service: 'firestore.googleapis.com',
      operationUrl: registration.operation.url,
      operation,
      labels: {team: 'data', job: '42'},
      registeredAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:05:00.000Z',
      attempts: 4,
    });
    expect(notification.attributes).toEqual({
      'ce-specversion': '1.0',
      'ce-id': `${registration.id}-${registration.createdAt}`,
      'ce-source': '//firestore.googleapis.com',
      'ce-type': 'dev.opwatch.operation.v1.failed',
      'ce-subject': registration.operation.name,
      'ce-time': '2026-01-01T00:05:00.000Z',
      'content-type': 'application/json',
      outcome: 'failed',
      registrationId: registration.id,
      owner: 'a@example.com',
      service: 'firestore.googleapis.com',
      operationName: registration.operation.name,
      errorCode: '9',
      label_team: 'data',
      label_job: '42',
    });
  });

  it('is a CloudEvent whose id stays with the watch: the same on a republish, new for the next watch', () => {
    const ending = {outcome: 'succeeded' as const, finishedAt, attempts: 2};
    const first = buildNotification(registration, ending);
    const republished = buildNotification(registration, {
      ...ending,
      finishedAt: finishedAt + 30_000,
      attempts: 3,
    });
    const nextWatch = buildNotification(
      {...registration, createdAt: finishedAt + 60_000},
      ending,
    );
    expect(republished.attributes['ce-id']).toBe(first.attributes['ce-id']);
    expect(nextWatch.attributes['ce-id']).not.toBe(first.attributes['ce-id']);
    expect(republished.attributes['ce-time']).toBe(
      new Date(finishedAt + 30_000).toISOString(),
    );
    // A valid CloudEvent for the SDK consumers use, its data the notification.
    const event = new CloudEvent({
      specversion: first.attributes['ce-specversion'],
      id: first.attributes['ce-id'],
      source: first.attributes['ce-source'],
      type: first.attributes['ce-type'],
      subject: first.attributes['ce-subject'],
      time: first.attributes['ce-time'],
      datacontenttype: first.attributes['content-type'],
      data: JSON.parse(first.data.toString()),
    });
    expect(event.validate()).toBe(true);
    expect(notificationAttributesSchema.parse(first.attributes)).toEqual(
      first.attributes,
    );
  });

  it('has one CloudEvents type per outcome, in reverse-DNS form', () => {
    const types = outcomeSchema.options.map(
      outcome =>
        buildNotification(registration, {outcome, finishedAt, attempts: 1})
          .attributes['ce-type'],
    );
    expect(new Set(types).size).toBe(outcomeSchema.options.length);
    for (const type of types)
      expect(type).toMatch(/^dev\.opwatch\.operation\.v1\.[a-z_]+$/);
    expect(cloudEventTypeSchema.options).toEqual(types);
  });

  it("carries the owner's tenant in the data and as an attribute, when it has one", () => {
    const notification = buildNotification(
      {...registration, tenant: 'team-a'},
      {outcome: 'succeeded', finishedAt, attempts: 2},
    );
    expect(parseNotification(notification.data)).toMatchObject({
      owner: 'a@example.com',
      tenant: 'team-a',
    });
    expect(notification.attributes).toMatchObject({
      owner: 'a@example.com',
      tenant: 'team-a',
    });
  });

  it('has no errorCode when the operation succeeded, and a pollError when the watch ended without a result', () => {
    const pollError = {kind: 'http' as const, status: 404, message: 'HTTP 404'};
    const notification = buildNotification(registration, {
      outcome: 'not_found',
      finishedAt,
      attempts: 3,
      pollError,
    });
    expect(notification.attributes.errorCode).toBeUndefined();
    const payload = parseNotification(notification.data);
    expect(payload.pollError).toEqual(pollError);
    expect(payload.operation).toBeUndefined();
  });

  it('drops response and metadata from a message over 10 MB and says so', () => {
    const big = 'x'.repeat(MAX_MESSAGE_BYTES);
    const operation = {name: 'o', done: true, metadata: {big}, response: {big}};
    const notification = buildNotification(registration, {
      outcome: 'succeeded',
      finishedAt,
      attempts: 1,
      operation,
    });
    expect(notification.attributes.truncated).toBe('true');
    expect(parseNotification(notification.data).operation).toEqual({
      name: 'o',
      done: true,
    });
    expect(notification.data.byteLength).toBeLessThan(MAX_MESSAGE_BYTES);
  });

  it('keeps code and message when even the error is too large', () => {
    const details = [{'@type': 't', big: 'y'.repeat(MAX_MESSAGE_BYTES)}];
    const operation = {
      name: 'o',
      done: true,
      error: {code: 13, message: 'internal', details},
    };
    const notification = buildNotification(registration, {
      outcome: 'failed',
      finishedAt,
      attempts: 1,
      operation,
    });
    expect(parseNotification(notification.data).operation).toEqual({
      name: 'o',
      done: true,
      error: {code: 13, message: 'internal'},
    });
    expect(notification.attributes).toMatchObject({
      truncated: 'true',
      errorCode: '13',
    });
  });

  it('leaves a message just under the limit whole', () => {
    const operation = {
      name: 'o',
      done: true,
      response: {fill: 'z'.repeat(MAX_MESSAGE_BYTES - 10_000)},
    };
    const notification = buildNotification(registration, {
      outcome: 'succeeded',
      finishedAt,
      attempts: 1,
      operation,
    });
    expect(notification.attributes.truncated).toBeUndefined();
    expect(parseNotification(notification.data).operation).toEqual(operation);
  });
});

describe('parseNotification', () => {
  it('reads back what buildNotification built, and refuses data that is not a notification', () => {
    const built = buildNotification(registration, {
      outcome: 'succeeded',
      finishedAt,
      attempts: 1,
    });
    expect(parseNotification(built.data).registrationId).toBe(registration.id);
    const payload = JSON.parse(built.data.toString());
    for (const wrong of [
      {...payload, outcome: 'pending'},
      {...payload, finishedAt: 'yesterday'},
      {...payload, attempts: -1},
      {...payload, labels: undefined},
    ]) {
      expect(() => parseNotification(JSON.stringify(wrong))).toThrow();
    }
  });
});
