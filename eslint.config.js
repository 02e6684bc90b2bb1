const globals = require('globals');

module.exports = [
  {ignores: ['dist/', 'node_modules/', '.node22/', 'coverage/', '.local/']},
  ...require('gts'),
  {
    // The tests are type-checked with their own tsconfig (jest types, no emit); lint them with it.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {project: ['./tsconfig.json', './test/tsconfig.json']},
    },
  },
  {
    // Jest's configuration and reporter are plain CommonJS run by Node.
    files: ['jest*.config.js', 'test/support/*.js'],
    languageOptions: {sourceType: 'commonjs', globals: globals.node},
  },
];
