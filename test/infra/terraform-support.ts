/**
 * What the terraform-*.test.ts suites share: infra/ parsed once per suite file, and the readings of it their
 * assertions are written in.
 */
import {
  grantees,
  isIamGrant,
  loadTerraform,
  type Declared,
  type TerraformConfig,
} from './terraform-config';

/** infra/ as parsed, from the first test of a file that calls {@link useTerraform}. */
export let tf: TerraformConfig;

/** For a jest file: parses infra/ into {@link tf} before its tests. */
export function useTerraform(): void {
  beforeAll(async () => {
    tf = await loadTerraform();
  });
}

/** An expression as the parsed configuration holds it. */
export const ref = (expression: string) => `\${${expression}}`;

/** The default of input variable `name`. */
export const defaultOf = (name: string) => tf.variables.get(name)?.default;

/** Every IAM grant to `google_service_account.<serviceAccount>`. */
export const grantsTo = (serviceAccount: string): Declared[] =>
  tf.resources.filter(
    entry =>
      isIamGrant(entry.type) &&
      grantees(entry.body).some(member =>
        member.includes(`google_service_account.${serviceAccount}.`),
      ),
  );

/** The one `iam.*` role allowed: an account's Token Creator on itself, scoped to that account (not the project). */
export const isSelfSigning = (grant: Declared) =>
  grant.type === 'google_service_account_iam_member' &&
  grant.body.role === 'roles/iam.serviceAccountTokenCreator' &&
  String(grant.body.service_account_id).replace(/\.name\}$/, '') ===
    String(grant.body.member).replace(/\.member\}$/, '');

/** A grant as the tests list them: `type.name: role`. */
export const describeGrant = (grant: Declared) =>
  `${grant.type}.${grant.name}: ${String(grant.body.role)}`;
