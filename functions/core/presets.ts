/**
 * What opwatch knows about the services it watches: one row of data per API, no per-service branches in code.
 *
 * A preset gives the default API version, the operation-name patterns its `operations.get` accepts (gRPC
 * transcoding templates: `*` is one path segment, `**` one or more), the OAuth scopes any one of which
 * authorises `operations.get`, the scopes the poller asks for by default, and how to read "done" from the
 * service's operation resource. Services without a preset are still accepted on any `*.googleapis.com` host
 * the operator lists in WATCH_SERVICES, with `cloud-platform` alone and the google.longrunning shape.
 */

/** How a service's operation resource says it has finished. */
export type OperationStyle =
  /** google.longrunning.Operation: `done`, then `error` (google.rpc.Status) or `response`. */
  | 'longrunning'
  /** Compute Engine and Cloud SQL Admin: `status: "DONE"`, then `error.errors[]` when it failed. */
  | 'status-done';

/**
 * How a service's Admin Activity audit entries name the operation they report, in `operation.id`:
 * - `name`: the full operation name, as `operations.get` takes it;
 * - `short-id`: Compute's bare `operation-…` id; the project and the zone or region come from the entry's
 *   `resource.labels` (`project_id`, `zone` or `region`; neither is a global operation).
 */
export type AuditOperationId = 'name' | 'short-id';

/** What a service's completion entries (`operation.last == true`) look like, for services that write them. */
export interface CompletionEvents {
  /** `protoPayload.serviceName` of its entries (a regional host's entries carry the global name). */
  serviceName: string;
  operationId: AuditOperationId;
}

/** One known service. */
export interface ServicePreset {
  /** Host names it answers on; `*` in the first label stands for a region (e.g. `us-central1-aiplatform`). */
  hosts: readonly string[];
  defaultVersion: string;
  /** gRPC-transcoding templates of `operations.get`'s `name`. */
  namePatterns: readonly string[];
  /** Scopes any one of which authorises `operations.get`, as the API reference lists them. */
  acceptedScopes: readonly string[];
  /** What the poller asks for unless the registration narrows it. */
  defaultScopes: readonly string[];
  style: OperationStyle;
  /** Set when the service's audit entries announce its operations' completion (see docs/deploy.md). */
  completionEvents?: CompletionEvents;
  /**
   * The API owners' published poll settings (google.api.MethodSettings.LongRunning in googleapis' service YAML)
   * where they differ from {@link DEFAULT_LRO_SETTINGS}: by the verb or method the operation's metadata names, or
   * for every method (`*`).
   */
  lroSettings?: Readonly<Record<string, LroSettings>>;
}

/** google.api.MethodSettings.LongRunning, in milliseconds. */
export interface LroSettings {
  initialPollDelayMs: number;
  pollDelayMultiplier: number;
  maxPollDelayMs: number;
  totalPollTimeoutMs: number;
}

/** The LongRunning defaults every generated client uses when the service YAML names none: 5 s, x1.5, 45 s, 5 min. */
export const DEFAULT_LRO_SETTINGS: LroSettings = {
  initialPollDelayMs: 5_000,
  pollDelayMultiplier: 1.5,
  maxPollDelayMs: 45_000,
  totalPollTimeoutMs: 300_000,
};

const AUTH = 'https://www.googleapis.com/auth/';
/** The scope every Google Cloud API accepts. */
export const CLOUD_PLATFORM = `${AUTH}cloud-platform`;

const WORKSPACE_EVENTS_SCOPES = [
  'chat.bot',
  'chat.spaces',
  'chat.spaces.readonly',
  'chat.messages',
  'chat.messages.readonly',
  'chat.messages.reactions',
  'chat.messages.reactions.readonly',
  'chat.memberships',
  'chat.memberships.readonly',
  'meet.space.created',
  'meetings.space.created',
  'meetings.space.readonly',
  'drive',
  'drive.file',
  'drive.metadata',
  'drive.metadata.readonly',
  'drive.readonly',
].map(scope => AUTH + scope);

/** The table. Keep it sorted by host. */
export const SERVICE_PRESETS: readonly ServicePreset[] = [
  {
    hosts: ['aiplatform.googleapis.com', '*-aiplatform.googleapis.com'],
    defaultVersion: 'v1',
    namePatterns: [
      'projects/*/locations/*/operations/*',
      'projects/*/locations/*/**/operations/*',
    ],
    acceptedScopes: [CLOUD_PLATFORM],
    defaultScopes: [CLOUD_PLATFORM],
    style: 'longrunning',
    completionEvents: {
      serviceName: 'aiplatform.googleapis.com',
      operationId: 'name',
    },
  },
  {
    hosts: ['apigateway.googleapis.com'],
    defaultVersion: 'v1',
    namePatterns: ['projects/*/locations/*/operations/*'],
    acceptedScopes: [CLOUD_PLATFORM],
    defaultScopes: [CLOUD_PLATFORM],
    style: 'longrunning',
    completionEvents: {
      serviceName: 'apigateway.googleapis.com',
      operationId: 'name',
    },
  },
  {
    hosts: ['compute.googleapis.com'],
    defaultVersion: 'compute/v1',
    namePatterns: [
      'projects/*/global/operations/*',
      'projects/*/regions/*/operations/*',
      'projects/*/zones/*/operations/*',
      // globalOrganizationOperations: organization-level operations (firewall policies) have no project.
      'locations/global/operations/*',
    ],
    acceptedScopes: [
      CLOUD_PLATFORM,
      `${AUTH}compute`,
      `${AUTH}compute.readonly`,
    ],
    defaultScopes: [CLOUD_PLATFORM],
    style: 'status-done',
    completionEvents: {
      serviceName: 'compute.googleapis.com',
      operationId: 'short-id',
    },
  },
  {
    hosts: ['firestore.googleapis.com'],
    defaultVersion: 'v1',
    namePatterns: ['projects/*/databases/*/operations/*'],
    acceptedScopes: [`${AUTH}datastore`, CLOUD_PLATFORM],
    defaultScopes: [CLOUD_PLATFORM],
    style: 'longrunning',
    completionEvents: {
      serviceName: 'firestore.googleapis.com',
      operationId: 'name',
    },
  },
  {
    hosts: ['redis.googleapis.com'],
    defaultVersion: 'v1',
    namePatterns: ['projects/*/locations/*/operations/*'],
    acceptedScopes: [CLOUD_PLATFORM],
    defaultScopes: [CLOUD_PLATFORM],
    style: 'longrunning',
    // google/cloud/redis/v1/redis_v1.yaml: CreateInstance polls from 60 s up to 360 s, for up to 2 h. Its
    // operations' metadata (google.cloud.redis.v1.OperationMetadata) names it by the verb `create`.
    lroSettings: {
      create: {
        initialPollDelayMs: 60_000,
        pollDelayMultiplier: 1.5,
        maxPollDelayMs: 360_000,
        totalPollTimeoutMs: 7_200_000,
      },
    },
  },
  {
    hosts: ['run.googleapis.com'],
    defaultVersion: 'v2',
    namePatterns: ['projects/*/locations/*/operations/*'],
    acceptedScopes: [CLOUD_PLATFORM],
    defaultScopes: [CLOUD_PLATFORM],
    style: 'longrunning',
  },
  {
    hosts: ['spanner.googleapis.com'],
    defaultVersion: 'v1',
    namePatterns: [
      'projects/*/instanceConfigs/*/operations/*',
      'projects/*/instanceConfigs/*/ssdCaches/*/operations/*',
      'projects/*/instances/*/operations/*',
      'projects/*/instances/*/backups/*/operations/*',
      'projects/*/instances/*/databases/*/operations/*',
      'projects/*/instances/*/instancePartitions/*/operations/*',
    ],
    acceptedScopes: [CLOUD_PLATFORM, `${AUTH}spanner.admin`],
    defaultScopes: [CLOUD_PLATFORM],
    style: 'longrunning',
    completionEvents: {
      serviceName: 'spanner.googleapis.com',
      operationId: 'name',
    },
  },
  {
    hosts: ['sqladmin.googleapis.com'],
    defaultVersion: 'v1',
    namePatterns: ['projects/*/operations/*'],
    acceptedScopes: [CLOUD_PLATFORM, `${AUTH}sqlservice.admin`],
    defaultScopes: [CLOUD_PLATFORM],
    style: 'status-done',
  },
  {
    hosts: ['workspaceevents.googleapis.com'],
    defaultVersion: 'v1beta',
    namePatterns: ['operations/**'],
    acceptedScopes: WORKSPACE_EVENTS_SCOPES,
    defaultScopes: WORKSPACE_EVENTS_SCOPES,
    style: 'longrunning',
  },
];

/** What applies to a service with no preset. */
export const GENERIC_PRESET: ServicePreset = {
  hosts: ['*.googleapis.com'],
  defaultVersion: 'v1',
  namePatterns: ['**/operations/**', 'operations/**'],
  acceptedScopes: [CLOUD_PLATFORM],
  defaultScopes: [CLOUD_PLATFORM],
  style: 'longrunning',
};

/** True when `host` fits `pattern`, whose first label may be `*` (a region). */
export function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*')) return pattern === host;
  const suffix = pattern.slice(1);
  const prefix = host.slice(0, host.length - suffix.length);
  return host.endsWith(suffix) && /^[a-z0-9][a-z0-9-]*$/.test(prefix);
}

/**
 * The owners' poll settings for a verb or method of a service (as the operation's metadata names it: `create`,
 * or a full method name whose last part is used); undefined for a service without a preset.
 */
export function lroSettingsFor(
  host: string,
  verb: string | undefined,
): LroSettings | undefined {
  const preset = presetFor(host);
  if (!preset) return undefined;
  const short = verb?.split('.').at(-1);
  return (
    (short !== undefined ? preset.lroSettings?.[short] : undefined) ??
    preset.lroSettings?.['*'] ??
    DEFAULT_LRO_SETTINGS
  );
}

/** The preset for `host`, or undefined for a service opwatch has no row for. */
export function presetFor(host: string): ServicePreset | undefined {
  return SERVICE_PRESETS.find(preset =>
    preset.hosts.some(pattern => hostMatches(pattern, host)),
  );
}

const compiled = new Map<string, RegExp>();

/** True when `name` fits the gRPC-transcoding template `pattern`. */
export function nameMatches(pattern: string, name: string): boolean {
  let regex = compiled.get(pattern);
  if (!regex) {
    const body = pattern
      .split('/')
      .map(part =>
        part === '**'
          ? '[^/]+(?:/[^/]+)*'
          : part === '*'
            ? '[^/]+'
            : escape(part),
      )
      .join('/');
    regex = new RegExp(`^${body}$`);
    compiled.set(pattern, regex);
  }
  return regex.test(name);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
