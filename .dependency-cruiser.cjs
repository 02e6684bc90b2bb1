/**
 * The import rules `npm run lint` holds the code to (dependency-cruiser). docs/architecture.md draws them.
 *
 * functions/ is layered: each room may import only the rooms below it (and itself), so every arrow runs one way
 * and a change to a room never needs a change to the rooms above it. No file may be in an import cycle, type-only
 * imports included: a cycle of types is still two files that cannot be read apart.
 */

/**
 * Each room of functions/ and the rooms right below it. A room may import those rooms and everything below them,
 * so an arrow of docs/architecture.md's diagram is an entry here.
 */
const DEPENDS_ON = {
  core: [],
  platform: ['core'],
  http: ['platform'],
  google: ['platform'],
  notify: ['platform'],
  forecast: ['platform'],
  watches: ['platform'],
  polling: ['http', 'google', 'notify', 'forecast', 'watches'],
  registration: ['http', 'notify', 'watches'],
  completions: ['polling'],
  targets: ['registration', 'completions'],
};

/** The rooms `room` may import besides itself: those below it, directly or not. */
function below(room) {
  const found = new Set();
  const pending = [...DEPENDS_ON[room]];
  while (pending.length > 0) {
    const next = pending.pop();
    if (found.has(next)) continue;
    found.add(next);
    pending.push(...DEPENDS_ON[next]);
  }
  return [...found];
}

const roomRules = Object.keys(DEPENDS_ON).map(room => ({
  name: `layer-${room}`,
  comment: `functions/${room}/ may import only ${[room, ...below(room)].map(r => `${r}/`).join(', ')} (docs/architecture.md)`,
  severity: 'error',
  from: {path: `^functions/${room}/`},
  to: {
    path: '^functions/',
    pathNot: [room, ...below(room)].map(r => `^functions/${r}/`),
  },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment:
        'An import cycle ties its files together: break it by moving the shared part down a layer.',
      severity: 'error',
      from: {},
      to: {circular: true},
    },
    {
      name: 'product-stands-alone',
      comment:
        'functions/ ships alone in the deploy artifact (npm run package): it cannot import tests, tooling or the CLI.',
      severity: 'error',
      from: {path: '^functions/'},
      to: {path: '^(?!functions/|node_modules/)', dependencyTypesNot: ['core']},
    },
    {
      name: 'entry-wires-targets',
      comment:
        'functions/index.ts registers the function targets: it wires targets/, it holds no feature.',
      severity: 'error',
      from: {path: '^functions/index\\.ts$'},
      to: {path: '^functions/', pathNot: '^functions/(targets|http|platform)/'},
    },
    {
      name: 'features-below-the-entry',
      comment: 'Nothing imports the entry point of the functions.',
      severity: 'error',
      from: {path: '^functions/'},
      to: {path: '^functions/index\\.ts$'},
    },
    ...roomRules,
    {
      name: 'no-unknown-room',
      comment:
        'Every file of functions/ (but index.ts) lives in a room that DEPENDS_ON lists.',
      severity: 'error',
      from: {
        path: '^functions/',
        pathNot: [
          '^functions/index\\.ts$',
          ...Object.keys(DEPENDS_ON).map(r => `^functions/${r}/`),
        ],
      },
      to: {},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    exclude: {path: '^(node_modules|dist|build|\\.node22)/'},
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'test/tsconfig.json'},
    moduleSystems: ['cjs', 'es6'],
  },
};
