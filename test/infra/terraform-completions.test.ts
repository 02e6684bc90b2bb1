/**
 * The optional completion events in infra/completions.tf: all gated on `completion_events`, the log sink and
 * its filter, its topic and push subscription to `completions`, and the index of the lookup. Offline: the
 * configuration is parsed, not planned.
 */
import {SERVICE_PRESETS} from '../../functions/core/presets';
import {
  block,
  blocks,
  environmentOf,
  grantees,
  isIamGrant,
  resource,
  strings,
} from './terraform-config';
import {
  defaultOf,
  describeGrant,
  grantsTo,
  ref,
  tf,
  useTerraform,
} from './terraform-support';

useTerraform();

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
