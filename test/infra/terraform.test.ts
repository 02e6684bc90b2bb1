/**
 * The deployment in infra/ against the code and the security rules: what exists, what each function is told
 * through its environment, and who may do what. Offline: the configuration is parsed, not planned.
 */
import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {
  COMPLETIONS_ENV,
  POLLER_ENV,
  REGISTRATION_ENV,
  TICK_END_FIRESTORE_CALLS,
  tickEndMs,
} from '../../functions/config';
import {SERVICE_PRESETS} from '../../functions/google/presets';
import {UNINDEXED_FIELDS} from '../../functions/registration/store';
import {PUBLISH_TIMEOUT_MS} from '../../functions/notify/publisher';
import {leaseTimings} from '../../functions/polling/lease-timings';
import {
  block,
  blocks,
  environmentOf,
  grantees,
  INFRA_DIR,
  isIamGrant,
  loadTerraform,
  REPO_ROOT,
  resource,
  resourcesOf,
  strings,
  variableReferences,
  type Body,
  type Declared,
  type TerraformConfig,
} from './terraform-config';

let tf: TerraformConfig;

beforeAll(async () => {
  tf = await loadTerraform();
});

const ref = (expression: string) => `\${${expression}}`;
const defaultOf = (name: string) => tf.variables.get(name)?.default;
const grantsTo = (serviceAccount: string): Declared[] =>
  tf.resources.filter(
    entry =>
      isIamGrant(entry.type) &&
      grantees(entry.body).some(member =>
        member.includes(`google_service_account.${serviceAccount}.`),
      ),
  );
/** The one `iam.*` role allowed: an account's Token Creator on itself, scoped to that account (not the project). */
const isSelfSigning = (grant: Declared) =>
  grant.type === 'google_service_account_iam_member' &&
  grant.body.role === 'roles/iam.serviceAccountTokenCreator' &&
  String(grant.body.service_account_id).replace(/\.name\}$/, '') ===
    String(grant.body.member).replace(/\.member\}$/, '');
const describeGrant = (grant: Declared) =>
  `${grant.type}.${grant.name}: ${String(grant.body.role)}`;

describe('the deployment', () => {
  test('enables the APIs the functions, their builds, Firestore, Pub/Sub and the scheduler need', () => {
    const apis = resource(tf, 'google_project_service', 'apis');
    expect(apis.for_each).toBe(ref('local.services'));
    expect(apis.disable_on_destroy).toBe(false);
    const services = [
      ...String(tf.locals.get('services')).matchAll(
        /"([a-z0-9]+\.googleapis\.com)"/g,
      ),
    ].map(m => m[1]);
    expect(services).toEqual(
      expect.arrayContaining([
        'artifactregistry.googleapis.com',
        'cloudbuild.googleapis.com',
        'cloudfunctions.googleapis.com',
        'cloudscheduler.googleapis.com',
        'firestore.googleapis.com',
        'iam.googleapis.com',
        'pubsub.googleapis.com',
        'run.googleapis.com',
        'storage.googleapis.com',
      ]),
    );
  });

  test('has the (default) Firestore database in native mode, which is what the functions use', () => {
    expect(tf.locals.get('firestore_database')).toBe('(default)');
    const database = resource(tf, 'google_firestore_database', 'default');
    expect(database.name).toBe(ref('local.firestore_database'));
    expect(database.type).toBe('FIRESTORE_NATIVE');
    expect(database.deletion_policy).toBe('ABANDON');
  });

  test("indexes the poller's shard query: state == pending, bucket in range, nextPollAt <= now, led by the bucket", () => {
    const indexes = resourcesOf(tf, 'google_firestore_index');
    const due = indexes.find(index =>
      blocks(index.body, 'fields').some(
        field => field.field_path === 'nextPollAt',
      ),
    )?.body;
    expect(due).toBeDefined();
    expect(due!.collection).toBe(ref('var.operations_collection'));
    expect(due!.database).toBe(ref('local.firestore_database'));
    expect(blocks(due!, 'fields')).toEqual([
      {field_path: 'state', order: 'ASCENDING'},
      {field_path: 'bucket', order: 'ASCENDING'},
      {field_path: 'nextPollAt', order: 'ASCENDING'},
    ]);
    // Besides the optional completion-events index (completions.tf), the only composite index.
    expect(
      indexes.filter(index => index.file !== 'completions.tf'),
    ).toHaveLength(1);
    expect(defaultOf('operations_collection')).toBe('operations');
  });

  test('exempts from single-field indexing exactly the fields the code lists, rising and large ones among them', () => {
    const fields = tf.locals.get('unindexed_fields');
    expect(fields).toEqual([...UNINDEXED_FIELDS]);
    expect(fields).toEqual(
      expect.arrayContaining([
        'updatedAt',
        'lastPolledAt',
        'nextPollAt',
        'lastOperation',
      ]),
    );
    // The list and the by-state filter of GET /operations need state's own index.
    expect(fields).not.toContain('state');
    const exemption = resource(tf, 'google_firestore_field', 'unindexed');
    expect(exemption.for_each).toBe(ref('toset(local.unindexed_fields)'));
    expect(exemption.field).toBe(ref('each.value'));
    expect(exemption.collection).toBe(ref('var.operations_collection'));
    expect(blocks(exemption, 'index_config')).toEqual([{}]);
  });

  test('fans a tick out over a topic whose OIDC push subscription calls poll, on enough instances for the shards', () => {
    const pollUri = ref(
      'google_cloudfunctions2_function.poll.service_config[0].uri',
    );
    const poll = resource(tf, 'google_cloudfunctions2_function', 'poll');
    const service = block(poll, 'service_config');
    // The registration function publishes a new registration's wake to the same topic, for the same shards.
    for (const name of ['poll', 'operations']) {
      expect(environmentOf(tf, name)).toMatchObject({
        POLL_SHARDS: ref('tostring(var.poll_shards)'),
        POLL_FANOUT_TOPIC: ref('google_pubsub_topic.poll_fanout.id'),
      });
    }
    expect(defaultOf('poll_shards')).toBe(1);
    expect(service.max_instance_count).toBe(ref('var.poll_max_instances'));
    const preconditions = blocks(block(poll, 'lifecycle'), 'precondition');
    expect(preconditions.map(p => p.condition)).toContain(
      ref('var.poll_max_instances >= var.poll_shards'),
    );

    resource(tf, 'google_pubsub_topic', 'poll_fanout');
    const subscription = resource(
      tf,
      'google_pubsub_subscription',
      'poll_fanout',
    );
    expect(subscription.topic).toBe(ref('google_pubsub_topic.poll_fanout.id'));
    const push = block(subscription, 'push_config');
    expect(push.push_endpoint).toBe(pollUri);
    expect(block(push, 'oidc_token')).toEqual({
      service_account_email: ref('google_service_account.fanout.email'),
      audience: pollUri,
    });
  });

  test('lets Firestore delete finished registrations by a TTL policy on expireAt', () => {
    const ttl = resourcesOf(tf, 'google_firestore_field').find(
      field => field.body.field === 'expireAt',
    )?.body;
    expect(ttl).toBeDefined();
    expect(ttl!.collection).toBe(ref('var.operations_collection'));
    expect(blocks(ttl!, 'ttl_config')).toHaveLength(1);
    expect(defaultOf('retention_days')).toBe(30);
  });

  test('has the notification topic, a dead-letter topic and a subscription filtered on the outcome', () => {
    const topic = resource(tf, 'google_pubsub_topic', 'notifications');
    expect(topic.name).toBe(ref('var.default_topic'));
    expect(defaultOf('default_topic')).toBe('opwatch-notifications');
    resource(tf, 'google_pubsub_topic', 'dead_letter');

    const subscription = resource(tf, 'google_pubsub_subscription', 'failures');
    expect(subscription.topic).toBe(
      ref('google_pubsub_topic.notifications.id'),
    );
    expect(subscription.filter).toBe(ref('var.failure_subscription_filter'));
    expect(String(defaultOf('failure_subscription_filter'))).toMatch(
      /^attributes\.outcome (=|!=) "[a-z_]+"$/,
    );
    expect(block(subscription, 'dead_letter_policy').dead_letter_topic).toBe(
      ref('google_pubsub_topic.dead_letter.id'),
    );
    expect(block(subscription, 'expiration_policy').ttl).toBe('');
  });

  test('lets the Pub/Sub service agent dead-letter: publisher on the DLT, subscriber on the subscription', () => {
    const agent = resource(tf, 'google_project_service_identity', 'pubsub');
    expect(agent.service).toBe('pubsub.googleapis.com');
    const isAgent = (body: Body) =>
      grantees(body).some(m =>
        m.includes('google_project_service_identity.pubsub.'),
      );

    const publisher = resourcesOf(tf, 'google_pubsub_topic_iam_member').filter(
      grant => isAgent(grant.body),
    );
    expect(publisher.map(grant => [grant.body.topic, grant.body.role])).toEqual(
      [[ref('google_pubsub_topic.dead_letter.name'), 'roles/pubsub.publisher']],
    );
    const subscriber = resourcesOf(
      tf,
      'google_pubsub_subscription_iam_member',
    ).filter(grant => isAgent(grant.body));
    expect(
      subscriber.map(grant => [grant.body.subscription, grant.body.role]),
    ).toEqual([
      [
        ref('google_pubsub_subscription.failures.name'),
        'roles/pubsub.subscriber',
      ],
    ]);
  });

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

  test('runs the poller every minute from Cloud Scheduler with an OIDC token for its URL', () => {
    const jobs = resourcesOf(tf, 'google_cloud_scheduler_job');
    expect(jobs).toHaveLength(1);
    const job = jobs[0].body;
    expect(job.schedule).toBe(ref('var.poll_schedule'));
    expect(defaultOf('poll_schedule')).toBe('* * * * *');
    const target = block(job, 'http_target');
    const pollUri = ref(
      'google_cloudfunctions2_function.poll.service_config[0].uri',
    );
    expect(target.uri).toBe(pollUri);
    expect(block(target, 'oidc_token')).toEqual({
      service_account_email: ref('google_service_account.scheduler.email'),
      audience: pollUri,
    });
    expect(block(job, 'retry_config')).not.toEqual({});
  });
});

describe('completion events (opt-in)', () => {
  const gated = () =>
    tf.resources.filter(
      entry =>
        entry.file === 'completions.tf' && entry.type !== 'terraform_data',
    );

  test('exist only with completion_events = true, which is off by default', () => {
    expect(defaultOf('completion_events')).toBe(false);
    expect(String(tf.locals.get('completion_events'))).toBe(
      ref('var.completion_events ? 1 : 0'),
    );
    expect(gated().length).toBeGreaterThan(5);
    for (const entry of gated())
      expect(entry.body.count).toBe(ref('local.completion_events'));
    const operationsEnv = environmentOf(tf, 'operations');
    expect(operationsEnv.COMPLETION_EVENTS).toBe(
      ref('tostring(var.completion_events)'),
    );
  });

  test("sinks the last Admin Activity entries of the presets' services, and no others", () => {
    const sink = resource(tf, 'google_logging_project_sink', 'completions');
    expect(sink.filter).toBe(ref('local.completion_sink_filter'));
    expect(sink.destination).toBe(
      `pubsub.googleapis.com/${ref('google_pubsub_topic.completions[0].id')}`,
    );
    expect(sink.unique_writer_identity).toBe(true);
    const filter = String(tf.locals.get('completion_sink_filter'));
    expect(filter).toContain(
      'logName:\\"cloudaudit.googleapis.com%2Factivity\\"',
    );
    expect(filter).toContain('operation.last=true');
    expect(filter).toContain('protoPayload.serviceName=');
    const listed = strings(tf.locals.get('completion_event_services'));
    const presets = SERVICE_PRESETS.flatMap(
      preset => preset.completionEvents?.serviceName ?? [],
    );
    expect(listed.sort()).toEqual(presets.sort());
  });

  test("lets the sink's writer identity publish to the completions topic only", () => {
    const writerGrants = tf.resources.filter(
      entry =>
        isIamGrant(entry.type) &&
        grantees(entry.body).some(member => member.includes('writer_identity')),
    );
    expect(writerGrants.map(g => [g.type, g.body.topic, g.body.role])).toEqual([
      [
        'google_pubsub_topic_iam_member',
        ref('google_pubsub_topic.completions[0].name'),
        'roles/pubsub.publisher',
      ],
    ]);
  });

  test('pushes to the completions function with an OIDC token of an account that may only invoke it', () => {
    const subscription = resource(
      tf,
      'google_pubsub_subscription',
      'completions',
    );
    const uri = ref(
      'google_cloudfunctions2_function.completions[0].service_config[0].uri',
    );
    const push = block(subscription, 'push_config');
    expect(String(push.push_endpoint)).toContain(uri);
    expect(block(push, 'oidc_token')).toEqual({
      service_account_email: ref(
        'google_service_account.completions_push[0].email',
      ),
      audience: uri,
    });
    expect(grantsTo('completions_push[0]').map(describeGrant)).toEqual([
      'google_cloud_run_service_iam_member.completions_invoker: roles/run.invoker',
    ]);
    expect(
      block(
        resource(tf, 'google_cloudfunctions2_function', 'completions'),
        'build_config',
      ).entry_point,
    ).toBe('completions');
  });

  test('indexes the lookup: completionKey == key and state == pending', () => {
    const index = resource(tf, 'google_firestore_index', 'completion_key');
    expect(blocks(index, 'fields').map(f => f.field_path)).toEqual([
      'completionKey',
      'state',
    ]);
    expect(index.collection).toBe(ref('var.operations_collection'));
  });
});

describe('least privilege', () => {
  const BROAD =
    /^roles\/(owner|editor|viewer|[a-z]+\.admin|iam\.|resourcemanager\.)/;

  test('grants additively only (no authoritative _iam_binding or _iam_policy)', () => {
    const authoritative = tf.resources.filter(entry =>
      /_iam_(binding|policy)$/.test(entry.type),
    );
    expect(authoritative.map(entry => `${entry.type}.${entry.name}`)).toEqual(
      [],
    );
  });

  test('makes nothing public: no allUsers or allAuthenticatedUsers outside the check that refuses them', () => {
    const everything = strings(tf.nonVariableBlocks).join('\n');
    expect(everything).not.toMatch(/allUsers|allAuthenticatedUsers/);
    const refusal = strings(
      tf.variables.get('registration_invokers')?.validation,
    ).join('\n');
    expect(refusal).toContain('allUsers');
    expect(refusal).toContain('allAuthenticatedUsers');
  });

  test('lets the scheduler only invoke the poll function', () => {
    const grants = grantsTo('scheduler');
    expect(grants.map(describeGrant)).toEqual([
      'google_cloud_run_service_iam_member.poll_invoker: roles/run.invoker',
    ]);
    expect(grants[0].body.service).toBe(
      ref('google_cloudfunctions2_function.poll.name'),
    );
  });

  test('keeps the registration function private, invokable by the listed principals only', () => {
    const invokers = resourcesOf(
      tf,
      'google_cloud_run_service_iam_member',
    ).filter(grant =>
      String(grant.body.service).includes(
        'google_cloudfunctions2_function.operations.',
      ),
    );
    expect(invokers).toHaveLength(1);
    expect(invokers[0].body.for_each).toBe(
      ref('toset(var.registration_invokers)'),
    );
    expect(invokers[0].body.member).toBe(ref('each.value'));
    expect(invokers[0].body.role).toBe('roles/run.invoker');
    expect(defaultOf('registration_invokers')).toEqual([]);
  });

  test('gives the registration function Firestore access and publishing on the fan-out topic, nothing else', () => {
    expect(grantsTo('registration').map(describeGrant)).toEqual([
      'google_project_iam_member.registration_datastore_user: roles/datastore.user',
      'google_pubsub_topic_iam_member.registration_wake_publisher: roles/pubsub.publisher',
    ]);
    const wake = resource(
      tf,
      'google_pubsub_topic_iam_member',
      'registration_wake_publisher',
    );
    expect(wake.topic).toBe(ref('google_pubsub_topic.poll_fanout.id'));
  });

  test('gives the poller Firestore, publishing on the notification and fan-out topics (and the dead-letter topic), and the operator-listed read roles', () => {
    const grants = grantsTo('poller');
    const project = grants.filter(
      grant => grant.type === 'google_project_iam_member',
    );
    const own = project.filter(
      grant => grant.body.project === ref('var.project_id'),
    );
    expect(
      own
        .map(grant => grant.body.role)
        .filter(role => role !== 'roles/logging.logWriter'),
    ).toEqual(['roles/datastore.user']);

    const watched = project.filter(
      grant => grant.body.project !== ref('var.project_id'),
    );
    expect(
      watched.map(grant => [
        grant.body.for_each,
        grant.body.project,
        grant.body.role,
      ]),
    ).toEqual([
      [
        ref('local.watched_grants'),
        ref('each.value.project'),
        ref('each.value.role'),
      ],
    ]);
    const watchedRule = strings(
      tf.variables.get('watched_project_roles')?.validation,
    ).join('\n');
    for (const basic of ['roles/owner', 'roles/editor', 'roles/viewer'])
      expect(watchedRule).toContain(basic);

    const topics = grants.filter(
      grant => grant.type === 'google_pubsub_topic_iam_member',
    );
    expect(
      topics.map(grant => [
        grant.body.for_each,
        grant.body.topic,
        grant.body.role,
      ]),
    ).toEqual([
      // The dead-letter topic, only when the operator names one.
      [
        undefined,
        ref(
          'startswith(var.dead_letter_topic, "projects/") ? var.dead_letter_topic : "projects/${var.project_id}/topics/${var.dead_letter_topic}"',
        ),
        'roles/pubsub.publisher',
      ],
      [
        undefined,
        ref('google_pubsub_topic.poll_fanout.id'),
        'roles/pubsub.publisher',
      ],
      [
        ref('local.notification_topics'),
        ref('each.value'),
        'roles/pubsub.publisher',
      ],
    ]);
    const notificationTopics = String(tf.locals.get('notification_topics'));
    expect(notificationTopics).toContain(
      'google_pubsub_topic.notifications.id',
    );
    expect(notificationTopics).toContain('var.extra_notification_topics');
    expect(notificationTopics).not.toContain('dead_letter');

    // Token Creator on its own account alone (for keyless delegation): see its own test.
    const selfSigning = grants.filter(grant => isSelfSigning(grant));
    expect(selfSigning.map(grant => grant.name)).toEqual([
      'poller_signs_as_itself',
    ]);
    expect(grants.length).toBe(
      project.length + topics.length + selfSigning.length,
    );
    for (const grant of grants.filter(grant => !isSelfSigning(grant)))
      expect(String(grant.body.role)).not.toMatch(BROAD);
  });

  test('lets the fan-out account only invoke poll, and the Pub/Sub agent mint its tokens only', () => {
    expect(grantsTo('fanout').map(describeGrant)).toEqual([
      'google_cloud_run_service_iam_member.poll_fanout_invoker: roles/run.invoker',
    ]);
    const tokenGrants = resourcesOf(
      tf,
      'google_service_account_iam_member',
    ).filter(grant => !isSelfSigning(grant));
    expect(
      tokenGrants.map(grant => [
        grant.body.service_account_id,
        grant.body.role,
        grant.body.member,
      ]),
    ).toEqual([
      [
        ref('google_service_account.fanout.name'),
        'roles/iam.serviceAccountTokenCreator',
        'serviceAccount:' + ref('google_project_service_identity.pubsub.email'),
      ],
    ]);
  });

  test('grants no service account a basic or admin role', () => {
    // The iam.* grants are each scoped to one account (the fan-out account, the poller's own), held to that by
    // the tests above.
    const literalRoles = tf.resources
      .filter(
        entry =>
          isIamGrant(entry.type) &&
          entry.type !== 'google_service_account_iam_member',
      )
      .map(entry => String(entry.body.role))
      .filter(role => !role.startsWith('${'));
    for (const role of literalRoles) expect(role).not.toMatch(BROAD);
  });
});

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
