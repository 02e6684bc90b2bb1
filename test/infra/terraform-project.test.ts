/**
 * The deployment in infra/ against the code: the APIs the project enables, and the Firestore database the
 * functions use, with the indexes, index exemptions and TTL policy the code relies on. Offline: the configuration
 * is parsed, not planned.
 */
import {UNINDEXED_FIELDS} from '../../functions/core/document';
import {UNINDEXED_WATCH_FIELDS} from '../../functions/core/watch-document';
import {blocks, resource, resourcesOf} from './terraform-config';
import {defaultOf, ref, tf, useTerraform} from './terraform-support';

useTerraform();

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
    const due = indexes.find(index => index.name === 'due_registrations')?.body;
    expect(due).toBeDefined();
    expect(due!.collection).toBe(ref('var.operations_collection'));
    expect(due!.database).toBe(ref('local.firestore_database'));
    expect(blocks(due!, 'fields')).toEqual([
      {field_path: 'state', order: 'ASCENDING'},
      {field_path: 'bucket', order: 'ASCENDING'},
      {field_path: 'nextPollAt', order: 'ASCENDING'},
    ]);
    // The same query of one tenant for GET /stats, the tenant after the state.
    expect(
      blocks(
        resource(tf, 'google_firestore_index', 'tenant_due_registrations'),
        'fields',
      ).map(field => field.field_path),
    ).toEqual(['state', 'tenant', 'bucket', 'nextPollAt']);
    // Besides those, the optional completion-events index (completions.tf), the figures' by-scope index and the
    // watches' due query.
    expect(indexes.map(index => index.name).sort()).toEqual([
      'completion_key',
      'due_registrations',
      'due_watches',
      'stats_by_scope',
      'tenant_due_registrations',
    ]);
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

  test("indexes the watches' shard query, and exempts exactly the watch fields the code lists", () => {
    const watches = resource(tf, 'google_firestore_index', 'due_watches');
    expect(watches.collection).toBe('${var.operations_collection}_watches');
    expect(blocks(watches, 'fields')).toEqual([
      {field_path: 'state', order: 'ASCENDING'},
      {field_path: 'bucket', order: 'ASCENDING'},
      {field_path: 'nextListAt', order: 'ASCENDING'},
    ]);
    expect(tf.locals.get('unindexed_watch_fields')).toEqual([
      ...UNINDEXED_WATCH_FIELDS,
    ]);
    const exemption = resource(tf, 'google_firestore_field', 'unindexed_watch');
    expect(exemption.collection).toBe(watches.collection);
    expect(blocks(exemption, 'index_config')).toEqual([{}]);
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
});
