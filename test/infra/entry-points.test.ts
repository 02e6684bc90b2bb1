/**
 * The functions infra/ deploys against the targets the code registers: every Terraform entry_point is a
 * function target of functions/index.ts, registered with the Functions Framework under that name.
 */
import {getFunction} from '@google-cloud/functions-framework/testing';
import {FUNCTION_TARGETS} from '../../functions/index';
import {block, loadTerraform, resourcesOf} from './terraform-config';

test('deploys each function target of the code, by its registered name', async () => {
  const tf = await loadTerraform();
  const entryPoints = resourcesOf(tf, 'google_cloudfunctions2_function').map(
    fn => block(fn.body, 'build_config').entry_point,
  );
  expect([...entryPoints].sort()).toEqual([...FUNCTION_TARGETS].sort());
  for (const target of FUNCTION_TARGETS)
    expect(getFunction(target)).toBeDefined();
});
