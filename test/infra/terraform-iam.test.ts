/**
 * Who may do what in infra/: every grant additive, nothing public, and each service account held to the roles
 * its function needs. Offline: the configuration is parsed, not planned.
 */
import {isIamGrant, resource, resourcesOf, strings} from './terraform-config';
import {
  defaultOf,
  describeGrant,
  grantsTo,
  isSelfSigning,
  ref,
  tf,
  useTerraform,
} from './terraform-support';

useTerraform();

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
