/** The poller's lease on the real Firestore emulator. */
import {Firestore} from '@google-cloud/firestore';
import {PollLease} from '../../../functions/polling/lease';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';

const firestore = new Firestore({projectId: TEST_PROJECT});
let clock = Date.now();
const now = () => clock;
const lease = (collection: string, holder: string) =>
  new PollLease(firestore, collection, holder, 10_000, now);

afterAll(() => firestore.terminate());

describe('PollLease', () => {
  it('lets one holder in at a time, and the next once it runs out', async () => {
    const collection = uniqueName('lease');
    const first = lease(collection, 'first');
    const second = lease(collection, 'second');
    expect(await first.acquire()).toBe(true);
    expect(first.validUntil).toBe(clock + 10_000);
    expect(await second.acquire()).toBe(false);

    clock += 5_000;
    expect(await first.renew()).toBe(true);
    clock += 9_000;
    expect(await second.acquire()).toBe(false);

    clock += 2_000;
    expect(await second.acquire()).toBe(true);
    expect(await first.renew()).toBe(false);
    await first.release();
    expect(await lease(collection, 'third').acquire()).toBe(false);
  });

  it('is free again as soon as its holder releases it', async () => {
    const collection = uniqueName('lease');
    const first = lease(collection, 'first');
    expect(await first.acquire()).toBe(true);
    await first.release();
    expect(first.validUntil).toBe(0);
    expect(await lease(collection, 'second').acquire()).toBe(true);
  });

  it('has one winner when many ask at once', async () => {
    const collection = uniqueName('lease');
    const results = await Promise.all(
      Array.from({length: 8}, (_, n) => lease(collection, `h${n}`).acquire()),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
