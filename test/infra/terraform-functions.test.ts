/**
 * The deployment in infra/ against the code: the functions, what each is deployed from and told through its
 * environment, and the timeouts a poll run needs. Offline: the configuration is parsed, not planned.
 */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {
  COMPLETIONS_ENV,
  POLLER_ENV,
  REGISTRATION_ENV,
} from '../../functions/core/config';
import {PUBLISH_TIMEOUT_MS} from '../../functions/notify/publisher';
import {
  TICK_END_FIRESTORE_CALLS,
  leaseTimings,
  tickEndMs,
} from '../../functions/polling/lease-timings';
import {
  block,
  environmentOf,
  INFRA_DIR,
  resource,
  resourcesOf,
} from './terraform-config';
import {defaultOf, ref, tf, useTerraform} from './terraform-support';

useTerraform();

describe('the deployment', () => {
  test('uploads the deploy artifact (npm run package) as a zip named by its MD5, and refuses to run without it', () => {
    const archive = tf.data.find(
      entry => entry.type === 'archive_file' && entry.name === 'source',
    )?.body;
    expect(archive).toBeDefined();
    expect(archive!.type).toBe('zip');
    expect(archive!.source_dir).toBe(ref('local.artifact_dir'));
    expect(tf.locals.get('artifact_dir')).toBe(
      ref('path.module') + '/../build/function-source',
    );
    const precondition = block(block(archive!, 'lifecycle'), 'precondition');
    expect(String(precondition.condition)).toContain('/package-lock.json');
    expect(String(precondition.error_message)).toContain('npm run package');

    resource(tf, 'google_storage_bucket', 'source');
    const object = resource(tf, 'google_storage_bucket_object', 'source');
    expect(object.bucket).toBe(ref('google_storage_bucket.source.name'));
    expect(object.source).toBe(ref('data.archive_file.source.output_path'));
    expect(String(object.name)).toContain(
      ref('data.archive_file.source.output_md5'),
    );
  });

  test('deploys the gen2 functions on nodejs22 from the uploaded source, each with its service account', () => {
    const functions = resourcesOf(tf, 'google_cloudfunctions2_function');
    expect(functions.map(fn => fn.name).sort()).toEqual([
      'completions',
      'operations',
      'poll',
    ]);
    for (const fn of functions) {
      const build = block(fn.body, 'build_config');
      expect(build.runtime).toBe('nodejs22');
      expect(block(block(build, 'source'), 'storage_source')).toEqual({
        bucket: ref('google_storage_bucket.source.name'),
        object: ref('google_storage_bucket_object.source.name'),
      });
    }
    const accountOf = (name: string) =>
      block(
        resource(tf, 'google_cloudfunctions2_function', name),
        'service_config',
      ).service_account_email;
    expect(accountOf('operations')).toBe(
      ref('google_service_account.registration.email'),
    );
    expect(accountOf('poll')).toBe(ref('google_service_account.poller.email'));
    // completions runs the poller's ticks: the poller's account, nothing more.
    expect(accountOf('completions')).toBe(
      ref('google_service_account.poller.email'),
    );
  });

  test('sets on each function exactly the environment variables its code reads', () => {
    const envOf = (name: string) => Object.keys(environmentOf(tf, name)).sort();
    // ALLOW_UNAUTHENTICATED is for local stacks and tests: a deployment always verifies callers.
    expect(envOf('operations')).toEqual(
      REGISTRATION_ENV.filter(name => name !== 'ALLOW_UNAUTHENTICATED').sort(),
    );
    expect(envOf('poll')).toEqual([...POLLER_ENV].sort());
    expect(envOf('completions')).toEqual([...COMPLETIONS_ENV].sort());
  });

  test('never lets the registration function skip ID-token verification', () => {
    for (const file of ['functions.tf', 'variables.tf']) {
      expect(readFileSync(join(INFRA_DIR, file), 'utf8')).not.toContain(
        'ALLOW_UNAUTHENTICATED =',
      );
    }
  });

  test('grants the poller Token Creator on its own account only when delegation_subjects is set', () => {
    const grant = resource(
      tf,
      'google_service_account_iam_member',
      'poller_signs_as_itself',
    );
    expect(grant).toMatchObject({
      count: ref('length(var.delegation_subjects) > 0 ? 1 : 0'),
      service_account_id: ref('google_service_account.poller.name'),
      role: 'roles/iam.serviceAccountTokenCreator',
      member: ref('google_service_account.poller.member'),
    });
    expect(defaultOf('delegation_subjects')).toEqual([]);
  });

  test('passes the endpoint overrides as the JSON object the code parses', () => {
    for (const name of ['operations', 'poll', 'completions']) {
      const env = environmentOf(tf, name);
      expect(env.ENDPOINT_OVERRIDES).toBe(
        ref('jsonencode(var.endpoint_overrides)'),
      );
    }
    expect(defaultOf('endpoint_overrides')).toEqual({});
  });

  test("gives a poll run time to finish: function timeout > budget + the run's end (tickEndMs), scheduler waits longer", () => {
    const poll = resource(tf, 'google_cloudfunctions2_function', 'poll');
    expect(block(poll, 'service_config').timeout_seconds).toBe(
      ref('var.poll_timeout_seconds'),
    );
    const lease = Number(defaultOf('poll_lease_seconds'));
    const request = Number(defaultOf('poll_request_timeout_seconds'));
    const endSeconds =
      tickEndMs({leaseMs: lease * 1000, requestTimeoutMs: request * 1000}) /
      1000;
    expect(Number(defaultOf('poll_timeout_seconds'))).toBeGreaterThan(
      Number(defaultOf('poll_budget_seconds')) + endSeconds,
    );
    const precondition = block(block(poll, 'lifecycle'), 'precondition');
    expect(precondition.condition).toBe(
      ref('var.poll_timeout_seconds > local.poll_run_max_seconds'),
    );
    // The terms of the run's longest time, as the poller spends its lease.
    expect(tf.locals.get('poll_publish_timeout_seconds')).toBe(
      ref(`min(${PUBLISH_TIMEOUT_MS / 1000}, var.poll_lease_seconds / 4)`),
    );
    expect(tf.locals.get('poll_run_max_seconds')).toBe(
      ref(
        'var.poll_budget_seconds + var.poll_request_timeout_seconds + local.poll_publish_timeout_seconds + ' +
          `${TICK_END_FIRESTORE_CALLS} * var.poll_lease_seconds`,
      ),
    );
    const leaseMs = Number(defaultOf('poll_lease_seconds')) * 1000;
    const timings = leaseTimings(leaseMs);
    expect(timings.publishTimeoutMs).toBe(
      Math.min(PUBLISH_TIMEOUT_MS, leaseMs / 4),
    );
    // Every Firestore call of a run's end (the write among them) fits one lease length each.
    expect(timings.writeDeadlineMs).toBeLessThanOrEqual(leaseMs);
    const job = resource(tf, 'google_cloud_scheduler_job', 'poll');
    expect(job.attempt_deadline).toBe(
      ref('var.poll_timeout_seconds + 30') + 's',
    );
  });

  test('gives the polling functions the memory POLL_MEMORY_MB budgets their answers from', () => {
    for (const name of ['poll', 'completions']) {
      const serviceConfig = block(
        resource(tf, 'google_cloudfunctions2_function', name),
        'service_config',
      );
      expect(serviceConfig.available_memory).toBe(
        ref('var.poll_memory_mb') + 'M',
      );
      expect(environmentOf(tf, name).POLL_MEMORY_MB).toBe(
        ref('tostring(var.poll_memory_mb)'),
      );
    }
    expect(defaultOf('poll_memory_mb')).toBe(512);
  });

  test('passes the publish grace and the dead-letter topic, and lets the poller publish to that topic only when set', () => {
    const env = environmentOf(tf, 'poll');
    expect(env.PUBLISH_GRACE_SECONDS).toBe(
      ref('tostring(var.publish_grace_seconds)'),
    );
    expect(env.DEAD_LETTER_TOPIC).toBe(ref('var.dead_letter_topic'));
    expect(defaultOf('publish_grace_seconds')).toBe(3600);
    expect(defaultOf('dead_letter_topic')).toBe('');
    const grant = resource(
      tf,
      'google_pubsub_topic_iam_member',
      'poller_dead_letter_publisher',
    );
    expect(grant.count).toBe(ref('var.dead_letter_topic == "" ? 0 : 1'));
    expect(grant.role).toBe('roles/pubsub.publisher');
  });
});
