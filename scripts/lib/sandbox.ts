/**
 * The local stack's sandbox: a stand-in for the Google APIs opwatch polls and for the metadata server that
 * mints its tokens, so a registered operation finishes and a notification goes out with no network and no
 * credentials.
 *
 * - The sandbox operations API is the tests' {@link FakeOperationsServer}, answering every operation name it
 *   is asked about by a naming convention on the operation id (the last path segment): see
 *   {@link sandboxBehavior}. An operation's clock starts at its first poll (or its first GET by hand), and from
 *   then on `ListOperations` of its parent lists it, so a watch of the parent finds it.
 * - The functions reach it through ENDPOINT_OVERRIDES ({@link sandboxEndpointOverrides}).
 * - When an operation finishes, the sandbox announces it as Cloud Audit Logs would, with its completion entry
 *   (`onCompleted`, for services whose preset reads such entries); the local stack publishes it to a local audit
 *   topic, from which a push subscription delivers it to `completions`.
 * - Their tokens come from the metadata-server stand-in, through google-auth-library's real Application Default
 *   Credentials path ({@link Sandbox.functionEnv}). That path must never find the user's own credentials: the
 *   poller would send a real token to the sandbox, and a token must only go to a host opwatch trusts for it.
 */
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {nameMatches, presetFor} from '../../functions/core/presets';
import {auditEntry, type AuditEntry} from './audit-entry';
import {
  type Behavior,
  FakeOperationsServer,
  googleError,
} from '../../test/support/fake-operations-server';
import {
  CREDENTIAL_VARIABLES,
  FakeMetadataServer,
} from '../../test/support/metadata-server';

/** The Google API hosts the sandbox stands in for (those of the README's examples). */
export const SANDBOX_HOSTS: readonly string[] = [
  'firestore.googleapis.com',
  'workspaceevents.googleapis.com',
  'apigateway.googleapis.com',
];

/** google.rpc.Code FAILED_PRECONDITION, what a sandbox `fail` operation ends with. */
const FAILED_PRECONDITION = 9;

const FIRESTORE_OPERATION = /^projects\/[^/]+\/databases\/[^/]+\/operations\//;

/**
 * What the sandbox answers for `name`, decided by its operation id (the last path segment, case ignored), first
 * match wins: `fail` fails after `operationMs`, `never` never finishes, `missing` answers 404, anything else
 * finishes after `operationMs` with a plausible response (an export's, for Firestore-looking names).
 */
export function sandboxBehavior(name: string, operationMs: number): Behavior {
  const id = name.slice(name.lastIndexOf('/') + 1).toLowerCase();
  if (id.includes('fail')) {
    return {
      kind: 'fail',
      afterMs: operationMs,
      error: {
        code: FAILED_PRECONDITION,
        message: 'sandbox: failed precondition',
      },
    };
  }
  if (id.includes('never')) return {kind: 'never'};
  if (id.includes('missing')) {
    return {
      kind: 'status',
      status: 404,
      body: googleError(404, `sandbox: operation ${name} not found`),
    };
  }
  const response = FIRESTORE_OPERATION.test(name)
    ? {
        '@type':
          'type.googleapis.com/google.firestore.admin.v1.ExportDocumentsResponse',
        outputUriPrefix: 'gs://sandbox/export',
      }
    : {
        '@type': 'type.googleapis.com/google.protobuf.Struct',
        value: {sandbox: 'finished'},
      };
  return {kind: 'finish', afterMs: operationMs, response};
}

/** One line on what {@link sandboxBehavior} chose, for the stack's log. */
export function describeBehavior(behavior: Behavior): string {
  const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
  switch (behavior.kind) {
    case 'finish':
      return `finishes ${seconds(behavior.afterMs)} after this first poll`;
    case 'fail':
      return `fails (code ${behavior.error.code}) ${seconds(behavior.afterMs)} after this first poll`;
    case 'never':
      return 'never finishes';
    case 'status':
      return `answers HTTP ${behavior.status}`;
    default:
      return behavior.kind;
  }
}

/**
 * ENDPOINT_OVERRIDES for the functions: every {@link SANDBOX_HOSTS} host to `sandboxUrl`, with the user's own
 * overrides (`userOverrides`, JSON, empty meaning none) on top, so a user's stand-in still wins for its host.
 * @throws when `userOverrides` is not a JSON object; its values are left to the functions to check.
 */
export function sandboxEndpointOverrides(
  userOverrides: string | undefined,
  sandboxUrl: string,
): Record<string, string> {
  let user: unknown = {};
  if (userOverrides !== undefined && userOverrides.trim() !== '') {
    try {
      user = JSON.parse(userOverrides);
    } catch {
      user = undefined;
    }
  }
  if (user === null || typeof user !== 'object' || Array.isArray(user)) {
    throw new Error(
      `ENDPOINT_OVERRIDES must be a JSON object of host to base URL, not ${JSON.stringify(userOverrides)}`,
    );
  }
  const sandbox = Object.fromEntries(
    SANDBOX_HOSTS.map(host => [host, sandboxUrl]),
  );
  return {...sandbox, ...(user as Record<string, string>)};
}

/**
 * The completion entry Cloud Logging would write when the sandbox operation `name` ends: of the sandbox's hosts
 * whose preset reads completion entries, the one whose name patterns fit. Undefined when none does.
 */
export function sandboxCompletionEntry(name: string): AuditEntry | undefined {
  const host = SANDBOX_HOSTS.find(candidate => {
    const preset = presetFor(candidate);
    return (
      preset?.completionEvents !== undefined &&
      preset.namePatterns.some(pattern => nameMatches(pattern, name))
    );
  });
  return host === undefined ? undefined : auditEntry(host, name);
}

/** A running sandbox. */
export interface Sandbox {
  readonly operationsApi: FakeOperationsServer;
  readonly metadata: FakeMetadataServer;
  /**
   * `base` for a function process, its credentials pointed at the metadata stand-in and nowhere else:
   * GCE_METADATA_HOST set, CLOUDSDK_CONFIG a directory that does not exist (so no gcloud
   * application_default_credentials.json), GOOGLE_APPLICATION_CREDENTIALS and its kind removed. `base` should
   * hold GOOGLE_CLOUD_PROJECT, or the library runs `gcloud` to find one.
   */
  functionEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Stops both servers. */
  stop(): Promise<void>;
}

/**
 * Starts the sandbox operations API on `port` (rejects when it is taken) and the metadata stand-in on a free
 * port. `log` gets a line the first time an operation is polled, saying how it will end.
 */
export async function startSandbox(options: {
  port: number;
  projectId: string;
  operationMs: number;
  log: (line: string) => void;
  /** Gets an operation's completion entry when it finishes or fails (see {@link sandboxCompletionEntry}). */
  onCompleted?: (entry: AuditEntry) => void;
}): Promise<Sandbox> {
  const {operationMs, log, onCompleted} = options;
  const announcements = new Set<NodeJS.Timeout>();
  const announce = (name: string, behavior: Behavior) => {
    if (!onCompleted || !sandboxCompletionEntry(name)) return;
    if (behavior.kind !== 'finish' && behavior.kind !== 'fail') return;
    const timer = setTimeout(() => {
      announcements.delete(timer);
      // Built now, so its timestamp is the completion's.
      onCompleted(sandboxCompletionEntry(name)!);
    }, behavior.afterMs);
    announcements.add(timer);
  };
  const operationsApi = await FakeOperationsServer.start({
    port: options.port,
    resolve: name => {
      const behavior = sandboxBehavior(name, operationMs);
      log(`${name}: ${describeBehavior(behavior)}`);
      announce(name, behavior);
      return behavior;
    },
  });
  let metadata: FakeMetadataServer;
  try {
    metadata = await FakeMetadataServer.start({projectId: options.projectId});
  } catch (error) {
    await operationsApi.stop();
    throw error;
  }
  // Our own fresh directory, so nothing can exist at a path inside it.
  const scratch = mkdtempSync(join(tmpdir(), 'opwatch-sandbox-'));
  const noGcloudConfig = join(scratch, 'no-gcloud-config');

  return {
    operationsApi,
    metadata,
    functionEnv(base) {
      const env: NodeJS.ProcessEnv = {...base};
      for (const variable of CREDENTIAL_VARIABLES) delete env[variable];
      env.GCE_METADATA_HOST = metadata.host;
      env.CLOUDSDK_CONFIG = noGcloudConfig;
      return env;
    },
    async stop() {
      for (const timer of announcements) clearTimeout(timer);
      await Promise.all([operationsApi.stop(), metadata.stop()]);
      rmSync(scratch, {recursive: true, force: true});
    },
  };
}
