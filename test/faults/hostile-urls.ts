/**
 * Registrations that try to make the poller send its token somewhere other than a Google API: the token-safety
 * suite asserts each is refused, the fuzzer mixes them into its requests.
 */

/** A Firestore operation name, valid for firestore.googleapis.com. */
export const FIRESTORE_NAME = 'projects/p/databases/(default)/operations/x';
/** A registration URL that is accepted. */
export const GOOD = `https://firestore.googleapis.com/v1/${FIRESTORE_NAME}`;
/** A host that is trusted only where ENDPOINT_OVERRIDES lists it. */
export const CANARY_HOST = 'canary.example.test';

/** Operation URLs that must be refused: each tries to make the poller send its token somewhere else. */
export const HOSTILE_URLS: string[] = [
  // Other hosts, and hosts that only look like Google's.
  `https://evil.test/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com.evil.test/v1/${FIRESTORE_NAME}`,
  `https://evilgoogleapis.com/v1/${FIRESTORE_NAME}`,
  `https://googleapis.com/v1/${FIRESTORE_NAME}`,
  `https://${CANARY_HOST}/v1/operations/x`,
  'https://metadata.google.internal/computeMetadata/v1/operations/x',
  'https://localhost/v1/operations/x',
  // IP literals.
  `https://127.0.0.1/v1/${FIRESTORE_NAME}`,
  `https://169.254.169.254/v1/${FIRESTORE_NAME}`,
  `https://2130706433/v1/${FIRESTORE_NAME}`,
  `https://0x7f000001/v1/${FIRESTORE_NAME}`,
  `https://[::1]/v1/${FIRESTORE_NAME}`,
  `https://[::ffff:127.0.0.1]/v1/${FIRESTORE_NAME}`,
  // User-info.
  `https://firestore.googleapis.com@evil.test/v1/${FIRESTORE_NAME}`,
  `https://evil.test@firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https://user:pass@firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com:@evil.test/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com%40evil.test/v1/${FIRESTORE_NAME}`,
  // Encoded separators.
  `https://firestore.googleapis.com%2f@evil.test/v1/${FIRESTORE_NAME}`,
  `https://evil.test%2f.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com%2fevil.test/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com%00.evil.test/v1/${FIRESTORE_NAME}`,
  'https://firestore.googleapis.com/v1/%2e%2e/%2e%2e/evil/operations/x',
  'https://firestore.googleapis.com/v1/projects%2fp/databases/(default)/operations/x',
  // Backslashes.
  `https://evil.test\\firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https://evil.test\\@firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https:\\\\evil.test\\v1\\${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com\\.evil.test/v1/${FIRESTORE_NAME}`,
  // Unicode dots and look-alikes.
  `https://firestore.googleapis\u3002com/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis\uff0ecom/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis\uff61com/v1/${FIRESTORE_NAME}`,
  `https://evil\u3002test/v1/${FIRESTORE_NAME}`,
  `https://\uff26\uff29\uff32\uff25\uff33\uff34\uff2f\uff32\uff25.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com\u200b/v1/${FIRESTORE_NAME}`,
  // Upper case.
  `HTTPS://EVIL.TEST/v1/${FIRESTORE_NAME}`,
  `https://FIRESTORE.GOOGLEAPIS.COM.EVIL.TEST/v1/${FIRESTORE_NAME}`,
  `HTTP://FIRESTORE.GOOGLEAPIS.COM/v1/${FIRESTORE_NAME}`,
  // Trailing dots.
  `https://firestore.googleapis.com./v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com../v1/${FIRESTORE_NAME}`,
  `https://evil.test./v1/${FIRESTORE_NAME}`,
  // Ports.
  `https://firestore.googleapis.com:443/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com:8443/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com:/v1/${FIRESTORE_NAME}`,
  // Other schemes, no scheme.
  `http://firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `ftp://firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `//firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https:/firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https:///evil.test/v1/${FIRESTORE_NAME}`,
  // Tabs, newlines and spaces in the host.
  `https://firestore.googleapis.com\t.evil.test/v1/${FIRESTORE_NAME}`,
  `https://fire\nstore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https://evil.test\n.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https://evil.test\r\nHost: firestore.googleapis.com/v1/${FIRESTORE_NAME}`,
  `https://firestore.googleapis.com /v1/${FIRESTORE_NAME}`,
  ` https://evil.test/v1/${FIRESTORE_NAME}`,
  // Paths that leave the API: dot segments, empty segments, queries and fragments.
  `https://firestore.googleapis.com/v1/../../evil.test/${FIRESTORE_NAME}`,
  'https://firestore.googleapis.com/v1//evil.test/operations/x',
  `https://firestore.googleapis.com/v1/${FIRESTORE_NAME}?alt=@evil.test`,
  `https://firestore.googleapis.com/v1/${FIRESTORE_NAME}#@evil.test`,
  `https://firestore.googleapis.com/v1/${FIRESTORE_NAME}/..`,
  `https://firestore.googleapis.com/v1/${FIRESTORE_NAME}@evil.test`,
];

/** Registrations in the `service` + `name` form that must be refused. */
export const HOSTILE_PARTS: object[] = [
  {service: 'evil.test', name: 'operations/x'},
  {service: CANARY_HOST, name: 'operations/x'},
  {service: 'firestore.googleapis.com.evil.test', name: FIRESTORE_NAME},
  {service: 'firestore.googleapis.com@evil.test', name: FIRESTORE_NAME},
  {service: 'firestore.googleapis.com/evil', name: FIRESTORE_NAME},
  {service: 'firestore.googleapis.com:8443', name: FIRESTORE_NAME},
  {service: 'firestore.googleapis.com.', name: FIRESTORE_NAME},
  {service: 'firestore.googleapis.com\n', name: FIRESTORE_NAME},
  {service: 'firestore.googleapis\u3002com', name: FIRESTORE_NAME},
  {service: 'FIRESTORE.GOOGLEAPIS.COM.EVIL.TEST', name: FIRESTORE_NAME},
  {service: '127.0.0.1', name: FIRESTORE_NAME},
  {service: '[::1]', name: FIRESTORE_NAME},
  {service: 'https://evil.test', name: FIRESTORE_NAME},
  {service: 'firestore.googleapis.com', name: '../../evil.test/operations/x'},
  {service: 'firestore.googleapis.com', name: '//evil.test/operations/x'},
  {service: 'firestore.googleapis.com', name: 'http://evil.test/operations/x'},
  {service: 'firestore.googleapis.com', name: `${FIRESTORE_NAME}%2f..`},
  {service: 'firestore.googleapis.com', name: `${FIRESTORE_NAME}\\..\\..`},
  {service: 'firestore.googleapis.com', name: FIRESTORE_NAME, version: '..'},
  {
    service: 'firestore.googleapis.com',
    name: FIRESTORE_NAME,
    version: 'v1/../..',
  },
  {
    service: 'firestore.googleapis.com',
    name: FIRESTORE_NAME,
    version: 'v1@evil.test',
  },
  {operation: GOOD, service: 'evil.test'},
];
