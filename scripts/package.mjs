#!/usr/bin/env node
/**
 * `npm run package`: builds the deploy artifact, the one folder Terraform zips and Cloud Functions builds.
 *
 *   build/function-source/
 *     index.js, registration/, polling/, ...   functions/ compiled alone (functions/tsconfig.json)
 *     package.json                             main, engines, and the runtime dependencies the code requires
 *     package-lock.json                        the repository's lock, pruned to those dependencies
 *
 * Nothing is left to compile there: Cloud Functions' build runs `npm ci` and starts `main`. The dependencies are
 * the packages the compiled code actually requires, at the versions package.json declares, so the artifact can
 * neither miss one nor carry a devDependency; the lock keeps the exact versions the suite ran with.
 */
import {execFileSync} from 'node:child_process';
import {
  copyFileSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import {isBuiltin} from 'node:module';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the artifact is built; infra/functions.tf zips exactly this folder. */
export const ARTIFACT_DIR = join(ROOT, 'build', 'function-source');

const say = line => process.stderr.write(`[package] ${line}\n`);

function compiledFiles(dir) {
  return readdirSync(dir, {withFileTypes: true, recursive: true})
    .filter(entry => entry.isFile() && entry.name.endsWith('.js'))
    .map(entry => join(entry.parentPath, entry.name));
}

/** The package a bare specifier names: `a/b` -> `a`, `@s/a/b` -> `@s/a`. */
function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Every package the compiled code requires, by name. */
function requiredPackages(dir) {
  const names = new Set();
  for (const file of compiledFiles(dir)) {
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(
      /\brequire\("([^"]+)"\)/g,
    )) {
      if (!specifier.startsWith('.') && !isBuiltin(specifier))
        names.add(packageOf(specifier));
    }
  }
  return [...names].sort();
}

function manifest(root, required) {
  const dependencies = {};
  for (const name of required) {
    const range = root.dependencies?.[name];
    if (!range) {
      throw new Error(
        `functions/ requires ${name}, which is not in package.json's dependencies` +
          (root.devDependencies?.[name] ? ' (it is a devDependency)' : ''),
      );
    }
    dependencies[name] = range;
  }
  return {
    name: `${root.name}-functions`,
    version: root.version,
    description: `${root.description} (the deployed functions)`,
    license: root.license,
    private: true,
    main: 'index.js',
    engines: root.engines,
    dependencies,
  };
}

export function buildArtifact() {
  const started = Date.now();
  rmSync(ARTIFACT_DIR, {recursive: true, force: true});
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(
    process.execPath,
    [tsc, '-p', join(ROOT, 'functions', 'tsconfig.json')],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const pkg = manifest(root, requiredPackages(ARTIFACT_DIR));
  writeFileSync(
    join(ARTIFACT_DIR, 'package.json'),
    `${JSON.stringify(pkg, null, 2)}\n`,
  );
  // Starting from the repository's lock, npm keeps every locked version and drops what is no longer reachable.
  copyFileSync(
    join(ROOT, 'package-lock.json'),
    join(ARTIFACT_DIR, 'package-lock.json'),
  );
  execFileSync(
    'npm',
    [
      'install',
      '--package-lock-only',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
    ],
    {cwd: ARTIFACT_DIR, stdio: ['ignore', 'ignore', 'inherit']},
  );
  say(
    `${ARTIFACT_DIR}: ${compiledFiles(ARTIFACT_DIR).length} files, dependencies ${Object.keys(pkg.dependencies).join(', ')} ` +
      `(${Date.now() - started} ms)`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildArtifact();
