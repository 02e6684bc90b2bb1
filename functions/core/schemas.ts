/**
 * The registration API's shapes, each defined once: the request it accepts, the registration it shows, a page of
 * them, and its error body. Validation parses with these, the handler's answers are typed by them, and
 * `/openapi.json` is generated from them (functions/registration/openapi.ts).
 */
import {z} from 'zod';
import {operationSchema, pollErrorSchema, stateSchema} from './model';
import type {PollPolicy} from './model';
import {DEFAULT_POLICY, MIN_POLL_INTERVAL_MS} from './policy';
import {TENANT_NAME} from './tenants';

export const MAX_NAME_LENGTH = 1024;
export const MAX_LABELS = 32;
export const DEFAULT_TIMEOUT_MS = 7 * 86_400_000;
export const MAX_TIMEOUT_MS = 30 * 86_400_000;

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;
const DURATION = /^(\d{1,10})(\.\d{1,9})?s$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;

/** Reads a google.protobuf.Duration in its JSON form (`"3600s"`, `"1.5s"`) as milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  return Math.round(Number(match[1] + (match[2] ?? '')) * 1000);
}

/** Writes milliseconds as a google.protobuf.Duration JSON string. */
export function formatDuration(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/** A registration id: a digest of the operation URL and the topic (model.ts registrationId). */
export const registrationIdSchema = z
  .string()
  .regex(/^[0-9a-f]{32}$/)
  .meta({description: 'Registration id: 32 hex digits.'});

/**
 * Floors on `pollPolicy`: a tighter policy would sort first forever, starving other watches and the quota. The
 * initial delay's is the poller's floor between two polls, which also holds after the jitter (core/policy.ts).
 */
export const MIN_INITIAL_DELAY_MS = MIN_POLL_INTERVAL_MS;
export const MIN_MAX_DELAY_MS = 5000;

/** The largest page `GET /operations` answers. */
export const MAX_PAGE_SIZE = 100;

/** The query of `GET /operations`. */
export const listQuerySchema = z.strictObject({
  state: stateSchema
    .optional()
    .meta({description: 'Only registrations in this state.'}),
  pageSize: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(50)
    .meta({description: 'Registrations per page.'}),
  pageToken: z
    .string()
    .max(512)
    .optional()
    .meta({description: 'nextPageToken of the previous page.'}),
  tenant: z.string().regex(TENANT_NAME).optional().meta({
    description:
      "Only this tenant's registrations (TENANTS): for an admin, every owner's of that tenant.",
  }),
});

/** A google.protobuf.Duration in its JSON form. */
export const durationSchema = z
  .string()
  .regex(DURATION, 'must be a duration like "3600s"')
  .meta({
    description:
      'A google.protobuf.Duration in its JSON form: seconds with up to 9 decimals and an "s", e.g. "3600s".',
    examples: ['3600s', '1.5s'],
  });

/** A duration in a request, read as milliseconds within bounds. */
export const durationWithin = (minMs: number, maxMs: number) =>
  durationSchema.transform((text, ctx) => {
    const ms = parseDuration(text)!;
    if (ms >= minMs && ms <= maxMs) return ms;
    ctx.addIssue({
      code: 'custom',
      message: `must be a duration like "3600s" between ${formatDuration(minMs)} and ${formatDuration(maxMs)}`,
    });
    return z.NEVER;
  });

/** The labels of a registration, copied to its notification. */
export const labelsSchema = z
  .record(
    z.string().regex(LABEL_KEY, 'label keys must match [a-z][a-z0-9_-]{0,62}'),
    z
      .string()
      .max(256)
      .refine(
        value => !CONTROL_CHARACTER.test(value),
        'label values must not contain control characters',
      ),
  )
  .refine(
    labels => Object.keys(labels).length <= MAX_LABELS,
    `at most ${MAX_LABELS} labels`,
  )
  .meta({
    description: `Up to ${MAX_LABELS} labels, copied to the notification (and to its attributes as label_KEY).`,
    maxProperties: MAX_LABELS,
  });

/** The backoff a request may ask for; absent fields take the defaults. */
export const pollPolicyRequestSchema = z
  .strictObject({
    initialDelay: durationWithin(MIN_INITIAL_DELAY_MS, 3_600_000).optional(),
    multiplier: z.number().min(1).max(10).optional(),
    maxDelay: durationWithin(MIN_MAX_DELAY_MS, 3_600_000).optional(),
    jitter: z.number().min(0).max(1).optional(),
  })
  .transform((policy): PollPolicy => ({
    initialDelayMs: policy.initialDelay ?? DEFAULT_POLICY.initialDelayMs,
    multiplier: policy.multiplier ?? DEFAULT_POLICY.multiplier,
    maxDelayMs: policy.maxDelay ?? DEFAULT_POLICY.maxDelayMs,
    jitter: policy.jitter ?? DEFAULT_POLICY.jitter,
  }))
  .refine(policy => policy.maxDelayMs >= policy.initialDelayMs, {
    message: 'maxDelay must not be below initialDelay',
  })
  .meta({
    description:
      'Backoff between polls: initialDelay x multiplier^(n-1), capped at maxDelay, less a random share of up to ' +
      'jitter of it. Defaults: 1s, 1.25, 60s, 0.2.',
  });

/**
 * The body of `POST /operations`. It fixes the shape; validateRegistration (validation.ts) then checks what a
 * schema cannot say well: the host, version and name rules, and which fields go together.
 */
export const registrationRequestSchema = z
  .strictObject({
    operation: z.string().max(2048).optional().meta({
      description:
        'https://{service}/{version}/{name}, on a *.googleapis.com host (or one in ENDPOINT_OVERRIDES).',
    }),
    service: z
      .string()
      .max(253)
      .optional()
      .meta({description: 'API host, e.g. firestore.googleapis.com.'}),
    name: z.string().optional().meta({
      description:
        "Operation name, fitting the service's operations.get template, e.g. projects/P/databases/D/operations/X.",
    }),
    version: z
      .string()
      .max(64)
      .optional()
      .meta({description: 'API version path, e.g. v1, v1beta or compute/v1.'}),
    topic: z.string().max(512).optional().meta({
      description:
        "Topic id (in opwatch's project) or projects/P/topics/T; default: the configured DEFAULT_TOPIC.",
    }),
    labels: labelsSchema.optional(),
    timeout: durationWithin(1000, MAX_TIMEOUT_MS)
      .optional()
      .meta({
        description: `How long to watch before giving up with expired: 1s to ${formatDuration(MAX_TIMEOUT_MS)}; default ${formatDuration(DEFAULT_TIMEOUT_MS)}.`,
      }),
    pollPolicy: pollPolicyRequestSchema.optional(),
    scopes: z
      .array(z.string())
      .min(1)
      .max(20)
      .optional()
      .meta({
        description:
          "OAuth scopes the poller asks for: a subset of those the service's operations.get accepts; default: " +
          "the service's preset (cloud-platform for most).",
      }),
    subject: z
      .email()
      .max(254)
      .optional()
      .meta({
        description:
          'A user the poller acts as through domain-wide delegation (Google Workspace APIs); requires "scopes" ' +
          '(those the admin authorised). Needs key-based service-account credentials; others end the watch ' +
          'with poll_error.',
      }),
  })
  .meta({
    description:
      'The operation to watch, as its URL (`operation`) or as `service` and `name` (and optionally `version`, ' +
      "else the service's default), not both; and where and how to report its end.",
  });

/** A time as the API and the notification show it: RFC 3339 in UTC. */
export const timestampSchema = z.iso.datetime();

/** A poll policy as the API shows it. */
export const pollPolicyViewSchema = z.object({
  initialDelay: durationSchema,
  multiplier: z.number(),
  maxDelay: durationSchema,
  jitter: z.number(),
});

/** What is kept of an ended watch when the operation is registered again. */
export const previousWatchSchema = z
  .object({
    state: stateSchema,
    finishedAt: timestampSchema.optional(),
    attempts: z.int().min(0),
    lastError: pollErrorSchema.optional(),
  })
  .meta({
    description:
      'The watch this registration replaced: the operation had been registered for the same topic before and ' +
      'that watch had ended.',
  });

/** A registration as the API shows it (`GET /operations/{id}` and the register answer). */
export const registrationViewSchema = z
  .object({
    id: registrationIdSchema,
    owner: z.string().meta({
      description:
        "Who registered it: the caller's verified e-mail, or anonymous where ALLOW_UNAUTHENTICATED=true.",
    }),
    tenant: z.string().optional().meta({
      description: "The owner's tenant when it was registered (TENANTS).",
    }),
    state: stateSchema,
    operationUrl: z.string(),
    watchId: registrationIdSchema.optional().meta({
      description:
        'The watch that found the operation under its parent (POST /watches); absent when registered directly.',
    }),
    service: z.string(),
    version: z.string(),
    name: z.string(),
    topic: z.string(),
    labels: labelsSchema,
    timeout: durationSchema,
    scopes: z.array(z.string()),
    subject: z.string().optional(),
    pollPolicy: pollPolicyViewSchema.optional(),
    attempts: z.int().min(0).meta({description: 'Polls made.'}),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
    deadline: timestampSchema.meta({description: 'When the watch gives up.'}),
    lastPolledAt: timestampSchema.optional(),
    nextPollAt: timestampSchema
      .optional()
      .meta({description: 'Only while pending.'}),
    finishedAt: timestampSchema.optional(),
    progressPercent: z.number().min(0).max(100).optional().meta({
      description:
        'Share of the work done, 0 to 100, as the operation last reported it; only while pending.',
    }),
    estimatedDoneAt: timestampSchema.optional().meta({
      description:
        "When the operation will likely be done, from its reported progress or its kind's learned durations; " +
        'only while pending, when known.',
    }),
    lastError: pollErrorSchema.optional(),
    lastOperation: operationSchema.optional().meta({
      description:
        'The latest operation the API returned (while pending only its name and done when it was over 16 KiB; ' +
        'once ended, over 256 KiB).',
    }),
    previous: previousWatchSchema
      .optional()
      .meta({description: 'Only in the answer that started a watch again.'}),
  })
  .meta({
    description: 'A registration as the API shows it: times in RFC 3339.',
  });
export type RegistrationView = z.infer<typeof registrationViewSchema>;

/** A page of `GET /operations`. */
export const registrationListSchema = z.object({
  registrations: z.array(registrationViewSchema),
  unreadable: z
    .array(z.object({id: z.string(), problem: z.string()}))
    .optional()
    .meta({
      description:
        'Registrations of this page stored in a form this version cannot read, left out of registrations: ' +
        'each ends poll_error (pollError.kind corrupt).',
    }),
  nextPageToken: z.string().optional().meta({
    description: 'Pass as pageToken for the next page; absent on the last.',
  }),
});
export type RegistrationList = z.infer<typeof registrationListSchema>;

/** A request field at fault, with a message a caller can act on. */
export const fieldProblemSchema = z.object({
  field: z.string(),
  message: z.string(),
});
export type FieldProblem = z.infer<typeof fieldProblemSchema>;

/**
 * What zod found wrong, as the API names it: each field by its path under `prefix`, `whole` for the value itself,
 * unknown fields listed by name.
 */
export function fieldProblems(
  error: z.ZodError,
  whole: string,
  prefix: readonly PropertyKey[] = [],
): FieldProblem[] {
  return error.issues.map(issue => ({
    field: [...prefix, ...issue.path].map(String).join('.') || whole,
    message:
      issue.code === 'unrecognized_keys'
        ? `unknown field(s): ${issue.keys.join(', ')}`
        : issue.message,
  }));
}

/** Every error answer, in the shape Google APIs use. */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.int().min(400).max(599),
      status: z
        .string()
        .meta({examples: ['INVALID_ARGUMENT', 'NOT_FOUND', 'UNAVAILABLE']}),
      message: z.string(),
      field: z.string().optional().meta({
        description: 'The first field at fault, for 400s about a field.',
      }),
      details: z
        .array(fieldProblemSchema)
        .min(1)
        .optional()
        .meta({description: 'Every field at fault.'}),
    }),
  })
  .meta({
    description:
      'Every error answer, in the shape Google APIs use. 400s about fields name the first as `field` and all in ' +
      '`details`.',
  });
export type ErrorBody = z.infer<typeof errorBodySchema>;
