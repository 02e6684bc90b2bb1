/**
 * The whole suite: unit tests of pure logic, and integration tests against the real Firestore and Pub/Sub
 * emulators, which the global setup starts (and the teardown stops) so the test command needs no manual step.
 * Two workers even on a 2-core machine (Jest would take one): most files wait on the emulators and the function
 * processes rather than compute, and every file has its own collections, topics and ports.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', {tsconfig: '<rootDir>/test/tsconfig.json'}],
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
