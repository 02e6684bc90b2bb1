/**
 * What goes to DEAD_LETTER_TOPIC, for the operator: the notification of a watch that ended `undeliverable`, and
 * the report of a stored registration this version cannot read (corrupt, or hidden from the poller's query by a
 * field of the wrong type). The `deadLetter` attribute says which, so a subscription can route the two apart.
 * Pure: building a message does no I/O.
 */
import {z} from 'zod';
import {timestampSchema} from '../core/schemas';
import type {Notification} from './notification';
import type {OutgoingMessage} from './publisher';

/** Pub/Sub's limit on an attribute value, in bytes. */
const MAX_ATTRIBUTE_BYTES = 1024;

/** Why a message is on the dead-letter topic, in its `deadLetter` attribute. */
export type DeadLetterReason = 'undeliverable' | 'corrupt';

/** The JSON in the data of a corrupt registration's report. */
export const corruptReportSchema = z
  .object({
    registrationId: z.string().meta({description: 'The document id.'}),
    problem: z.string().meta({
      description: 'Why this version cannot read it: the fields at fault.',
    }),
    reportedAt: timestampSchema,
  })
  .meta({
    description:
      'On DEAD_LETTER_TOPIC, attribute deadLetter = "corrupt": a stored registration this version cannot read ' +
      '(or that the poller cannot see, a field it queries on having the wrong type). Its watch ends poll_error ' +
      '(pollError.kind corrupt) with no notification on its own topic, which cannot be trusted.',
  });
export type CorruptReport = z.infer<typeof corruptReportSchema>;

/** `text` cut to at most `bytes` UTF-8 bytes. */
export function truncate(text: string, bytes: number): string {
  const encoded = Buffer.from(text);
  if (encoded.byteLength <= bytes) return text;
  // A cut through a multi-byte character decodes to U+FFFD, which may be longer: leave room for it.
  return encoded.subarray(0, bytes - 3).toString('utf8');
}

/** The report of stored registration `registrationId`, unreadable for `problem`, made at `now`. */
export function corruptReport(
  registrationId: string,
  problem: string,
  now: number,
): OutgoingMessage {
  const report: CorruptReport = {
    registrationId,
    problem,
    reportedAt: new Date(now).toISOString(),
  };
  return {
    data: Buffer.from(JSON.stringify(report)),
    attributes: {
      deadLetter: 'corrupt' satisfies DeadLetterReason,
      registrationId: truncate(registrationId, MAX_ATTRIBUTE_BYTES),
    },
  };
}

/** The notification of a watch ended `undeliverable`, with the topic that refused it and why. */
export function undeliverableLetter(
  notification: Notification,
  topic: string,
  publishError: string,
): OutgoingMessage {
  return {
    data: notification.data,
    attributes: {
      ...notification.attributes,
      deadLetter: 'undeliverable' satisfies DeadLetterReason,
      topic,
      publishError: truncate(publishError, MAX_ATTRIBUTE_BYTES),
    },
  };
}
