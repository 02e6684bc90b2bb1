/**
 * The CLI's pure parts: the registration body from flags, the registration id `wait` predicts before registering
 * (which must be the id the API gives), progress read from operation metadata, and exit codes.
 */
import {exitCodeFor, EXIT} from '../../cli/exit-codes';
import {describeProgress, formatElapsed} from '../../cli/progress';
import {parseTimeout, registrationBody} from '../../cli/registration-input';
import {predictRegistrationId} from '../../cli/wait';
import {registrationId} from '../../functions/core/model';
import {validateRegistration} from '../../functions/registration/validation';

const TOPIC = 'projects/demo-opwatch/topics/opwatch-notifications';
const context = {
  projectId: 'demo-opwatch',
  defaultTopic: TOPIC,
  endpointOverrides: new Map<string, string>(),
};

describe('predictRegistrationId', () => {
  it.each([
    {
      operation:
        'https://firestore.googleapis.com/v1/projects/p/databases/(default)/operations/A',
    },
    {
      operation:
        'https://Firestore.GoogleAPIs.com/v1/projects/p/databases/d/operations/B',
    },
    {
      service: 'firestore.googleapis.com',
      name: 'projects/p/databases/d/operations/C',
    },
    {
      service: 'compute.googleapis.com',
      name: 'projects/p/zones/z/operations/D',
    },
    {service: 'workspaceevents.googleapis.com', name: 'operations/E'},
    {
      service: 'apigateway.googleapis.com',
      name: 'projects/p/locations/global/operations/F',
      version: 'v1',
    },
    {
      service: 'us-central1-aiplatform.googleapis.com',
      name: 'projects/p/locations/us-central1/operations/G',
    },
    {
      service: 'datamigration.googleapis.com',
      name: 'projects/p/locations/l/operations/H',
    },
  ])('%j gets the id the API gives', body => {
    const validated = validateRegistration(body, context);
    if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
    const expected = registrationId(
      validated.value.operation.url,
      TOPIC,
      'a@example.com',
    );
    expect(predictRegistrationId(body, TOPIC, 'a@example.com')).toBe(expected);
  });
});

describe('registrationBody', () => {
  it('maps the flags onto the API body', () => {
    expect(
      registrationBody(undefined, {
        service: 'firestore.googleapis.com',
        name: 'projects/p/databases/d/operations/o',
        version: 'v1',
        topic: 't',
        label: ['a=1', 'b=x=y'],
        timeout: '90m',
        scope: ['https://www.googleapis.com/auth/datastore'],
        subject: 'alice@example.com',
      }),
    ).toEqual({
      service: 'firestore.googleapis.com',
      name: 'projects/p/databases/d/operations/o',
      version: 'v1',
      topic: 't',
      labels: {a: '1', b: 'x=y'},
      timeout: '5400s',
      scopes: ['https://www.googleapis.com/auth/datastore'],
      subject: 'alice@example.com',
    });
  });

  it.each([
    ['3600s', '3600s'],
    ['3600', '3600s'],
    ['1.5s', '1.5s'],
    ['2h', '7200s'],
    ['1d', '86400s'],
  ])('timeout %s is %s', (text, duration) => {
    expect(parseTimeout(text)).toBe(duration);
  });

  it.each([
    [undefined, {service: 'x.googleapis.com'}],
    ['https://x.googleapis.com/v1/operations/o', {name: 'operations/o'}],
    ['https://x.googleapis.com/v1/operations/o', {version: 'v1'}],
    ['https://x.googleapis.com/v1/operations/o', {label: ['a=1', 'a=2']}],
    ['https://x.googleapis.com/v1/operations/o', {timeout: '1 hour'}],
  ])('%s with %j is a usage error', (url, flags) => {
    expect(() => registrationBody(url, flags)).toThrow(
      expect.objectContaining({exitCode: EXIT.usage}),
    );
  });
});

describe('describeProgress', () => {
  it.each([
    [{metadata: {progressPercent: 45}}, '45%'],
    [{metadata: {progress: {progressPercent: 80}}}, '80%'],
    [{progress: 30, status: 'RUNNING'}, '30%'],
    [
      {
        metadata: {
          operationState: 'PROCESSING',
          progressDocuments: {completedWork: '1200', estimatedWork: '5000'},
        },
      },
      '1200/5000 documents, PROCESSING',
    ],
    [{metadata: {'@type': 'x'}}, undefined],
    [{}, undefined],
  ])('%j: %s', (operation, text) => {
    expect(describeProgress(operation)).toBe(text);
  });

  it.each([
    [0, '0s'],
    [65_000, '1m05s'],
    [3_725_000, '1h02m05s'],
  ])('elapsed %i ms is %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });
});

describe('exit codes', () => {
  it('follow the outcome, and are distinct', () => {
    expect(
      [
        'succeeded',
        'failed',
        'expired',
        'not_found',
        'poll_error',
        'cancelled',
        'undeliverable',
      ].map(exitCodeFor),
    ).toEqual([0, 1, 3, 4, 5, 6, 8]);
    expect(exitCodeFor('pending')).toBe(1);
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
