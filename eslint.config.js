const globals = require('globals');

/**
 * Units stay small enough to read in one go: a file of about 400 lines at most, a function of about 80 (blank
 * lines and comments not counted). Test suites are exempt from the function bound, since `describe` blocks are
 * functions that hold a whole suite. Which module may import which is dependency-cruiser's
 * (.dependency-cruiser.cjs), run by `npm run lint` too.
 */
const SIZE = {skipBlankLines: true, skipComments: true};
const unitSize = [
  {
    files: ['**/*.ts'],
    rules: {'max-lines': ['error', {max: 400, ...SIZE}]},
  },
  {
    files: [
      'functions/**/*.ts',
      'cli/**/*.ts',
      'scripts/**/*.ts',
      'bench/**/*.ts',
      'test/support/**/*.ts',
      'test/faults/harness.ts',
    ],
    rules: {
      'max-lines-per-function': ['error', {max: 80, ...SIZE, IIFEs: true}],
    },
  },
];

module.exports = [
  {
    ignores: [
      'dist/',
      'build/',
      'node_modules/',
      '.node22/',
      'coverage/',
      '.local/',
    ],
  },
  ...require('gts'),
  {
    // The tests are type-checked with their own tsconfig (jest types, no emit); lint them with it.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {project: ['./tsconfig.json', './test/tsconfig.json']},
    },
  },
  ...unitSize,
  {
    // Jest's configuration and reporter are plain CommonJS run by Node.
    files: ['jest*.config.js', 'eslint.config.js', 'test/support/*.js'],
    languageOptions: {sourceType: 'commonjs', globals: globals.node},
  },
  {
    files: ['scripts/*.mjs'],
    languageOptions: {sourceType: 'module', globals: globals.node},
  },
];
