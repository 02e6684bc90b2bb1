/**
 * cloudbuild.yaml: it runs the documented test command (which lints), and deploys with Terraform for the
 * build's own project and the region substitution.
 */
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {parse} from 'yaml';
import {REPO_ROOT} from './terraform-config';

interface Step {
  id?: string;
  name: string;
  entrypoint?: string;
  args?: string[];
  script?: string;
}

interface Build {
  steps: Step[];
  substitutions?: Record<string, string>;
  options?: Record<string, unknown>;
}

const build = parse(
  readFileSync(join(REPO_ROOT, 'cloudbuild.yaml'), 'utf8'),
) as Build;
const packageScripts = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

/** The test command README.md tells people to run (the first `npm test`/`npm run test...` line), else `npm test`. */
function documentedTestCommand(): string {
  const readme = join(REPO_ROOT, 'README.md');
  if (!existsSync(readme)) return 'npm test';
  const line = /^\s*(npm (?:test|run test[\w:-]*))\s*$/m.exec(
    readFileSync(readme, 'utf8'),
  );
  return line?.[1] ?? 'npm test';
}

/** The lines a step runs: its script, or its command and arguments (a `bash -c` script's lines). */
function commandLines(step: Step): string[] {
  const text =
    step.script ??
    (step.entrypoint === 'bash'
      ? (step.args ?? []).join('\n')
      : [step.entrypoint ?? step.name, ...(step.args ?? [])].join(' '));
  return text.split('\n').map(line => line.trim());
}

/** Expands an npm script into everything it runs, following `npm test` and `npm run X`. */
function expandNpm(command: string, seen = new Set<string>()): string {
  return command.replace(
    /\bnpm (?:test|run ([\w:-]+))/g,
    (whole, name: string | undefined) => {
      const script = name ?? 'test';
      if (seen.has(script) || !(script in packageScripts)) return whole;
      return `${whole} [${expandNpm(packageScripts[script], new Set([...seen, script]))}]`;
    },
  );
}

test('runs the documented test command in an image with the Cloud SDK emulators and Java', () => {
  const command = documentedTestCommand();
  const testSteps = build.steps.filter(step =>
    commandLines(step).includes(command),
  );
  expect(testSteps).toHaveLength(1);
  expect(testSteps[0].name).toBe(
    'gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators',
  );
});

test('lints before it deploys', () => {
  const testStep = build.steps.findIndex(step =>
    commandLines(step).includes(documentedTestCommand()),
  );
  const lints = build.steps.findIndex(step =>
    commandLines(step).some(line => /\bgts lint\b/.test(expandNpm(line))),
  );
  expect(lints).toBeGreaterThanOrEqual(0);
  expect(lints).toBe(testStep);
  const apply = build.steps.findIndex(step => step.args?.includes('apply'));
  expect(lints).toBeLessThan(apply);
});

test('builds the deploy artifact from the lock before Terraform uploads it', () => {
  const packageStep = build.steps.findIndex(step =>
    commandLines(step).includes('npm run package'),
  );
  const apply = build.steps.findIndex(step => step.args?.includes('apply'));
  expect(packageStep).toBeGreaterThanOrEqual(0);
  expect(packageStep).toBeLessThan(apply);
  expect(
    commandLines(build.steps[packageStep]).some(line =>
      line.startsWith('npm ci'),
    ),
  ).toBe(true);
  // The root package is the CLI; what Cloud Functions builds is the artifact, which has nothing to compile.
  expect(packageScripts['gcp-build']).toBeUndefined();
});

test('deploys with Terraform for the build project and the _REGION substitution, state in _TF_STATE_BUCKET', () => {
  const terraform = build.steps.filter(step =>
    step.name.startsWith('hashicorp/terraform:'),
  );
  const init = terraform.find(step => step.args?.includes('init'));
  const apply = terraform.find(step => step.args?.includes('apply'));
  expect(init?.args).toEqual(
    expect.arrayContaining([
      '-chdir=infra',
      '-backend-config=bucket=${_TF_STATE_BUCKET}',
    ]),
  );
  expect(apply?.args).toEqual(
    expect.arrayContaining([
      '-chdir=infra',
      '-auto-approve',
      '-var=project_id=${PROJECT_ID}',
      '-var=region=${_REGION}',
    ]),
  );
  expect(build.steps.indexOf(init!)).toBeLessThan(build.steps.indexOf(apply!));
  expect(build.substitutions?._REGION).toBe('us-central1');
});

test('defines every substitution it uses, and uses every one it defines', () => {
  const text = JSON.stringify(build.steps);
  const used = new Set(
    [...text.matchAll(/\$\{?(_[A-Z0-9_]+)/g)].map(match => match[1]),
  );
  const defined = new Set(Object.keys(build.substitutions ?? {}));
  expect([...used].sort()).toEqual([...defined].sort());
  // A substitution's default that refers to another one needs dynamic substitutions.
  const dynamic = Object.values(build.substitutions ?? {}).some(value =>
    value.includes('$'),
  );
  if (dynamic) expect(build.options?.dynamicSubstitutions).toBe(true);
});
