/**
 * The Terraform module's `tenants` map: each function is told TENANTS, and the JSON Terraform renders from the map
 * (evaluated by the terraform binary itself, on the variable and the local copied from infra/) is what
 * functions/core/tenants.ts reads, a field a tenant leaves out left out so it takes the global value.
 */
import {spawnSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {loadRegistrationConfig} from '../../functions/core/config';
import {environmentOf, INFRA_DIR} from './terraform-config';
import {defaultOf, ref, tf, useTerraform} from './terraform-support';

useTerraform();

const BASE_ENV = {
  GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
  DEFAULT_TOPIC: 'notifications',
  FUNCTION_URLS: 'https://example.run.app',
  WATCH_PROJECTS: 'proj-a,proj-b',
};

/** The `tenants` variable block of variables.tf, as written. */
function tenantsVariable(): string {
  const text = readFileSync(join(INFRA_DIR, 'variables.tf'), 'utf8');
  const start = text.indexOf('variable "tenants" {');
  const end = text.indexOf('\n}\n', start);
  expect(start).toBeGreaterThanOrEqual(0);
  return text.slice(start, end + 3);
}

/** local.tenants_env as Terraform evaluates it for `tfvars`. */
function renderedTenants(tfvars: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'opwatch-tenants-'));
  try {
    writeFileSync(join(dir, 'variables.tf'), tenantsVariable());
    writeFileSync(
      join(dir, 'tenants.tf'),
      readFileSync(join(INFRA_DIR, 'tenants.tf')),
    );
    writeFileSync(join(dir, 'test.tfvars'), tfvars);
    const run = spawnSync('terraform', ['console', '-var-file=test.tfvars'], {
      cwd: dir,
      input: 'local.tenants_env\n',
      encoding: 'utf8',
    });
    expect(run.stderr).not.toMatch(/Error/);
    return JSON.parse(run.stdout.trim()) as string;
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

test('tells every function TENANTS, rendered from the tenants map (none by default)', () => {
  for (const name of ['operations', 'poll', 'completions']) {
    expect(environmentOf(tf, name).TENANTS).toBe(ref('local.tenants_env'));
  }
  expect(defaultOf('tenants')).toEqual({});
});

const hasTerraform = spawnSync('terraform', ['version']).status === 0;

(hasTerraform ? test : test.skip)(
  'renders the map as the JSON the functions read, fields left out left out',
  () => {
    const json = renderedTenants(`tenants = {
      team-a = {
        principals  = ["a@example.com", "*@a.example.com"]
        projects    = ["proj-a"]
        topics      = ["projects/demo-opwatch/topics/team-a-*"]
        max_pending = 500
      }
      team-b = { principals = ["b@example.com"] }
    }`);
    expect(JSON.parse(json)).toEqual({
      'team-a': {
        principals: ['a@example.com', '*@a.example.com'],
        projects: ['proj-a'],
        topics: ['projects/demo-opwatch/topics/team-a-*'],
        maxPending: 500,
      },
      'team-b': {principals: ['b@example.com']},
    });
    const {tenants} = loadRegistrationConfig({...BASE_ENV, TENANTS: json});
    expect(tenants?.get('team-a')).toMatchObject({
      maxPending: 500,
      allowlists: {projects: new Set(['proj-a'])},
    });
    // team-b sets no lists: the global ones stand for all of them.
    expect(tenants?.get('team-b')?.allowlists).toEqual({});
    expect(renderedTenants('')).toBe('');
  },
);
