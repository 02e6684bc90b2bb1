/**
 * The deployment in infra/ against the code: how ticks reach `poll` (Cloud Scheduler, the fan-out topic) and
 * where notifications go (the notification topic, its filtered subscription and dead-letter topic). Offline: the
 * configuration is parsed, not planned.
 */
import {
  block,
  blocks,
  environmentOf,
  grantees,
  resource,
  resourcesOf,
  type Body,
} from './terraform-config';
import {defaultOf, ref, tf, useTerraform} from './terraform-support';

useTerraform();

describe('the deployment', () => {
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
