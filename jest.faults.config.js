/**
 * The fault suites (test/faults): the poller killed, Pub/Sub and Firestore taken away, an API storm, fuzzed
 * requests, hostile answers and corrupt documents, and token and log safety, each on the real emulators with the
 * poll function in a process of its own.
 * Two sizes (test/faults/profile.ts): `npm test` runs the quick profile after the main suite, a few minutes;
 * `npm run test:faults` runs the full one (FAULT_PROFILE=full), whose figures docs/reliability.md reports.
 *
 * One suite at a time: each drives a machine's worth of load, and one stops and restarts emulators.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/faults'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', {tsconfig: '<rootDir>/test/tsconfig.json'}],
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 1,
  testTimeout: 600_000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
