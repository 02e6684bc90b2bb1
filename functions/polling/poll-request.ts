/**
 * What a call of the `poll` function asks for: a tick of one shard, `{"shard": k}`, sent directly or wrapped in
 * the envelope a Pub/Sub push subscription delivers (the fan-out path); or, with no shard (Cloud Scheduler's
 * empty body), a tick of the whole collection or its fan-out over the shards. `{"shard": k, "wake": true}` is a
 * registration's wake (tick-wake.ts): a tick of shard k to the end of the scheduled slot.
 */
import {z} from 'zod';
import type {OutgoingMessage} from '../notify/publisher';
import {fieldProblems, type FieldProblem} from '../core/schemas';

/** The message a fan-out or a wake publishes, and the body that works shard k directly. */
export const shardSchema = z.strictObject({
  shard: z.number().int().min(0),
  wake: z.literal(true).optional(),
});

/** The Pub/Sub message that asks for a tick of `shard`: a fan-out's, or with `wake` a registration's. */
export function shardMessage(shard: number, wake = false): OutgoingMessage {
  const body: z.infer<typeof shardSchema> = wake ? {shard, wake} : {shard};
  return {
    data: Buffer.from(JSON.stringify(body)),
    attributes: {shard: String(shard)},
  };
}

/** A Pub/Sub push delivery: the message's data is the base64 of its JSON body. */
const pushEnvelopeSchema = z.object({
  message: z.object({data: z.base64()}),
  subscription: z.string().optional(),
});

/**
 * A poll call: the shard asked for, if any; `ignored` for a Pub/Sub delivery of a shard that does not exist
 * (published before POLL_SHARDS changed), to acknowledge rather than refuse, which Pub/Sub would redeliver for
 * as long as it keeps messages; or what is wrong with the body.
 */
export type PollRequest =
  | {ok: true; shard?: number; wake?: boolean; ignored?: string}
  | {ok: false; problems: FieldProblem[]};

/** Reads a poll call's body; `shards` is POLL_SHARDS, which the shard must be below. */
export function parsePollRequest(body: unknown, shards: number): PollRequest {
  const empty =
    body === undefined ||
    body === null ||
    (typeof body === 'object' && Object.keys(body).length === 0) ||
    (Buffer.isBuffer(body) && body.length === 0);
  if (empty) return {ok: true};

  let request = body;
  let prefix = '';
  const push = pushEnvelopeSchema.safeParse(body);
  if (push.success) {
    prefix = 'message.data';
    try {
      request = JSON.parse(
        Buffer.from(push.data.message.data, 'base64').toString('utf8'),
      );
    } catch {
      return {ok: false, problems: [{field: prefix, message: 'not JSON'}]};
    }
  }
  const parsed = shardSchema.safeParse(request);
  if (!parsed.success)
    return {
      ok: false,
      problems: fieldProblems(parsed.error, 'body', prefix ? [prefix] : []),
    };
  const {shard, wake} = parsed.data;
  if (shard < shards) return {ok: true, shard, wake};
  const problem = `must be below POLL_SHARDS (${shards})`;
  if (push.success) return {ok: true, ignored: `shard ${shard}: ${problem}`};
  return {ok: false, problems: [{field: 'shard', message: problem}]};
}
