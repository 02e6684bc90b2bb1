/**
 * The installed Google Cloud CLI: how to run it unattended, and a pre-flight check that it has what the emulators
 * need, so a newcomer gets one message naming what to install instead of a Java or Python stack trace.
 */
import {execFile} from 'node:child_process';
import {accessSync, constants, existsSync} from 'node:fs';
import {delimiter, join} from 'node:path';
import {promisify} from 'node:util';

const run = promisify(execFile);

/** What to install, for every message that finds something missing. */
export const INSTALL_HINT =
  'install the Google Cloud CLI, its emulators and a Java runtime: ' +
  'apt-get install google-cloud-cli google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator default-jre ' +
  '(from https://cloud.google.com/sdk/docs/install), or with a standalone SDK: ' +
  '`gcloud components install cloud-firestore-emulator pubsub-emulator beta` and a Java 11+ runtime on PATH';

/**
 * The environment gcloud runs in: the caller's, minus anything that could make it wait for a human or the network
 * (prompts, the daily update check, usage reporting), which with no internet would stall the emulator's start.
 */
export function gcloudEnv(
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  return {
    ...base,
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
  };
}

/** The full path of `command` on PATH, or undefined. */
export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function sdkRoot(): Promise<string> {
  const {stdout} = await run(
    'gcloud',
    ['info', '--format=value(installation.sdk_root)'],
    {
      env: gcloudEnv(),
      timeout: 60_000,
    },
  );
  return stdout.trim();
}

/** The major version `java -version` reports (`1.8.0` counts as 8), or undefined when it does not run. */
async function javaMajor(): Promise<number | undefined> {
  try {
    // java -version writes to stderr.
    const {stderr} = await run('java', ['-version'], {timeout: 30_000});
    const match = /version "(\d+)(?:\.(\d+))?/.exec(stderr);
    if (!match) return undefined;
    return match[1] === '1' ? Number(match[2]) : Number(match[1]);
  } catch {
    return undefined;
  }
}

async function findProblems(): Promise<string[]> {
  const problems: string[] = [];
  if (!onPath('gcloud')) {
    problems.push('`gcloud` is not on PATH');
  } else {
    let root: string | undefined;
    try {
      root = await sdkRoot();
    } catch (error) {
      problems.push(
        `\`gcloud info\` failed: ${(error as Error).message.trim()}`,
      );
    }
    if (root) {
      const components: Array<[string, string]> = [
        [
          'platform/cloud-firestore-emulator',
          'the Firestore emulator (cloud-firestore-emulator)',
        ],
        ['platform/pubsub-emulator', 'the Pub/Sub emulator (pubsub-emulator)'],
        // The Pub/Sub emulator command exists only as `gcloud beta emulators pubsub`.
        ['lib/surface/beta', 'the gcloud beta commands (beta)'],
      ];
      for (const [path, what] of components) {
        if (!existsSync(join(root, path)))
          problems.push(`${what} is missing from ${root}`);
      }
    }
  }
  if (!onPath('java')) {
    problems.push('`java` is not on PATH');
  } else {
    const major = await javaMajor();
    if (major === undefined) problems.push('`java -version` failed');
    else if (major < 11)
      problems.push(
        `the emulators need Java 11 or later; \`java\` is Java ${major}`,
      );
  }
  return problems;
}

let checked: Promise<void> | undefined;

/**
 * Resolves when gcloud, both emulators and Java are installed; otherwise rejects with every missing piece and
 * {@link INSTALL_HINT}. Checks once per process.
 */
export function assertEmulatorsInstalled(): Promise<void> {
  checked ??= findProblems().then(problems => {
    if (problems.length > 0) {
      checked = undefined; // let a caller retry after installing
      throw new Error(
        `the local emulators cannot run: ${problems.join('; ')}.\nTo fix: ${INSTALL_HINT}`,
      );
    }
  });
  return checked;
}
