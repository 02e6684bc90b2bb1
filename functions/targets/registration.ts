/**
 * The `operations` function's handler, wired to its dependencies. functions/index.ts loads this module on the
 * function's first request.
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import type {Firestore} from '@google-cloud/firestore';
import {loadRegistrationConfig, type RegistrationConfig} from '../core/config';
import {PubSubPublisher} from '../notify/publisher';
import {shardMessage} from '../polling/poll-request';
import {TickWake} from '../polling/tick-wake';
import {newFirestore} from '../platform/firestore';
import type {Logger} from '../platform/log';
import {createRegistrationHandler} from '../registration/api';
import {RegistrationStore} from '../registration/store';
import {WatchStore} from '../watches/watch-store';

/** Builds the registration API from the environment's configuration. */
export function registrationHandler(
  log: Logger,
): (req: Request, res: Response) => Promise<void> {
  const config = loadRegistrationConfig();
  const firestore = newFirestore(config.projectId);
  const store = new RegistrationStore(
    firestore,
    config.collection,
    config.retentionMs,
  );
  return createRegistrationHandler({
    config,
    store,
    watches: new WatchStore(firestore, config.collection, config.retentionMs),
    log,
    wake: config.fanoutTopic
      ? tickWake(config, config.fanoutTopic, firestore, log)
      : undefined,
  });
}

/** Wakes, published to the fan-out topic, whose push subscription calls the poll function. */
function tickWake(
  config: RegistrationConfig,
  fanoutTopic: string,
  firestore: Firestore,
  log: Logger,
): TickWake {
  // Loaded only where wakes are sent: the registration function publishes nothing else.
  const {PubSub} =
    require('@google-cloud/pubsub') as typeof import('@google-cloud/pubsub');
  const publisher = new PubSubPublisher(
    new PubSub({projectId: config.projectId}),
  );
  return new TickWake({
    firestore,
    collection: config.collection,
    shards: config.shards,
    send: shard => publisher.publish(fanoutTopic, shardMessage(shard, true)),
    log,
  });
}
