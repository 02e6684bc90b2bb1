/**
 * What `GET /stats` answers, defined once: the route builds it, the CLI prints it, and the OpenAPI document is
 * generated from it.
 */
import {z} from 'zod';
import {outcomeSchema, stateSchema} from './model';
import {registrationIdSchema, timestampSchema} from './schemas';
import {TENANT_NAME} from './tenants';

/** A pending registration is overdue once it has been due this long without a poll. */
export const OVERDUE_AFTER_MS = 60_000;

const count = z.int().min(0);

/** One shard's pending registrations. */
export const shardStatsSchema = z.object({
  shard: z.int().min(0),
  buckets: z.object({from: z.int().min(0), to: z.int().min(1)}).meta({
    description: 'The buckets the shard owns: from inclusive, to exclusive.',
  }),
  pending: count,
  overdue: count.meta({
    description: 'Pending registrations due for more than 60 s without a poll.',
  }),
});

/** The pending registration due the longest without a poll. */
export const overdueSchema = z.object({
  id: registrationIdSchema,
  shard: z.int().min(0),
  nextPollAt: timestampSchema,
  overdueSeconds: z.number().min(0),
});

/** The query of `GET /stats`. */
export const statsQuerySchema = z.object({
  tenant: z.string().regex(TENANT_NAME).optional().meta({
    description:
      "Only this tenant's figures (TENANTS). A tenant's admins always get their own tenant's.",
  }),
});

/** The answer of `GET /stats`. */
export const statsSchema = z
  .object({
    at: timestampSchema.meta({description: 'When the figures were read.'}),
    tenant: z.string().optional().meta({
      description:
        "The tenant whose registrations and notifications the figures count; absent: the whole deployment's.",
    }),
    tenants: z
      .record(z.string(), z.object({pending: count}))
      .optional()
      .meta({
        description:
          "Pending registrations of each tenant of TENANTS; in the whole deployment's figures only.",
      }),
    states: z.record(stateSchema, count).meta({
      description:
        'Registrations by state, as stored (finished ones until RETENTION_DAYS).',
    }),
    shards: z.array(shardStatsSchema).meta({
      description:
        'Pending and overdue registrations of each of the POLL_SHARDS shards.',
    }),
    oldestOverdue: overdueSchema.nullable().meta({
      description:
        'The registration due the longest, once due for more than 60 s without a poll; null when none is.',
    }),
    lastHour: z
      .object({
        notifications: z.record(outcomeSchema, count).meta({
          description:
            'Watches that ended in the last hour, by outcome; undeliverable ones are those Pub/Sub never accepted.',
        }),
        lagSeconds: z
          .object({
            count,
            p50: z.number().min(0).nullable(),
            p99: z.number().min(0).nullable(),
          })
          .meta({
            description:
              "Notification lag: from the operation's end (the end time it reports, or when opwatch first saw " +
              'it end) to Pub/Sub accepting the notification. Percentiles of a histogram with 19 % wide ' +
              'buckets; null without notifications.',
          }),
      })
      .meta({
        description:
          'The last 60 minutes, summed from per-minute figures the poller keeps.',
      }),
  })
  .meta({
    description:
      "How the deployment is doing, read with Firestore's count() aggregations and per-minute figures, never a " +
      'scan of the registrations.',
  });
export type Stats = z.infer<typeof statsSchema>;
