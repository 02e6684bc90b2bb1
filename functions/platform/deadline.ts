/**
 * Deadlines on calls to Firestore and Pub/Sub, whose clients retry an unreachable backend silently for as long as
 * it is away.
 */

/**
 * `work`, or a rejection once `ms` pass without it settling. The Firestore client retries an unreachable backend
 * silently for as long as it is away (one query waited out a whole 30 s outage), so every Firestore call of a tick
 * gets a deadline: the lease's length (past that the tick could not trust its lease anyway, and must fail, not
 * stall), or for a poll's write the write deadline the fence counts on. The call itself goes on; whatever it does
 * late is guarded by the lease and the write preconditions. A publish gets the publish timeout the same way.
 *
 * A deadline that passes while the thread was busy (parsing a large answer, collecting garbage) is checked once
 * more after the I/O that came in meanwhile: timers run before I/O callbacks in Node's event loop, so an answer
 * that arrived in time would otherwise lose to its own deadline, and a busy thread read as Firestore being away.
 */
export function within<T>(
  work: Promise<T>,
  ms: number,
  what: string,
  from = 'Firestore',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        setImmediate(() =>
          reject(new Error(`${what}: no answer from ${from} in ${ms} ms`)),
        ),
      ms,
    );
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
