const globals = require('globals');

/**
 * functions/ is the deployed product, compiled alone into the deploy artifact: nothing in it may import from
 * outside it (tests, tooling, the CLI). One entry per folder depth, since a relative import that climbs out of
 * functions/ starts with one more `../` than the file's depth below it.
 */
const productBoundary = [1, 2, 3].map(depth => ({
  files: [`functions/${'*/'.repeat(depth - 1)}*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: [`${'../'.repeat(depth)}*`],
            message:
              'functions/ ships alone in the deploy artifact: it cannot import from outside functions/.',
          },
        ],
      },
    ],
  },
}));

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
  ...productBoundary,
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
