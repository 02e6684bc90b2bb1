module.exports = [
  {ignores: ['dist/', 'node_modules/', '.node22/', 'coverage/', '.local/']},
  ...require('gts'),
];
