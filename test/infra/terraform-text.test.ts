/**
 * The Terraform configuration in infra/ as text: every variable declared and used, the example tfvars in step,
 * Terraform and its providers pinned, and the files formatted canonically.
 */
import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {INFRA_DIR, REPO_ROOT, variableReferences} from './terraform-config';
import {tf, useTerraform} from './terraform-support';

useTerraform();

describe('the configuration as text', () => {
  test('declares every variable it uses and uses every variable it declares', () => {
    const used = variableReferences(tf.nonVariableBlocks);
    const declared = new Set(tf.variables.keys());
    expect([...used].filter(name => !declared.has(name))).toEqual([]);
    expect([...declared].filter(name => !used.has(name))).toEqual([]);
  });

  test('keeps the variables in variables.tf and the example tfvars in step with them', () => {
    for (const [file, text] of tf.files) {
      if (file !== 'variables.tf') expect(text).not.toMatch(/^variable\s/m);
    }
    const example = readFileSync(
      join(INFRA_DIR, 'terraform.tfvars.example'),
      'utf8',
    );
    const named = [...example.matchAll(/^#?\s*([a-z_][a-z0-9_]*)\s*=/gm)].map(
      match => match[1],
    );
    expect(named.filter(name => !tf.variables.has(name))).toEqual([]);
    expect(named).toContain('project_id');
  });

  test('pins Terraform and its providers', () => {
    const versions = tf.files.get('versions.tf') ?? '';
    expect(versions).toMatch(/required_version\s*=\s*">= 1\.5"/);
    for (const provider of [
      'hashicorp/google',
      'hashicorp/google-beta',
      'hashicorp/archive',
    ]) {
      expect(versions).toContain(`"${provider}"`);
    }
  });

  const terraform = spawnSync('terraform', ['version'], {encoding: 'utf8'});
  const hasTerraform = terraform.status === 0;
  (hasTerraform ? test : test.skip)(
    hasTerraform
      ? 'is formatted canonically (terraform fmt)'
      : 'is formatted canonically (skipped: no terraform on PATH)',
    () => {
      const fmt = spawnSync(
        'terraform',
        ['fmt', '-check', '-recursive', '-diff', 'infra'],
        {
          cwd: REPO_ROOT,
          encoding: 'utf8',
        },
      );
      expect(fmt.stdout).toBe('');
      expect(fmt.status).toBe(0);
    },
  );
});
