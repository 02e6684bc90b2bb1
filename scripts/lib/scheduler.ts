/**
 * A stand-in for Cloud Scheduler: POSTs `{}` to the poll function at a fixed interval and prints one line per tick.
 */

/** A running ticker. */
export interface Ticker {
  /** Stops ticking; a request in flight is abandoned. */
  stop(): void;
}

/** Poll takes up to its budget (50 s by default); give it that and some. */
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * Flattens the numbers in a JSON answer into `key=value` pairs (nested objects as `a.b=1`), which is what a poll
 * summary is about, whatever else the answer holds.
 */
export function summarizeCounts(answer: unknown, prefix = ''): string[] {
  if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) {
    return [];
  }
  return Object.entries(answer).flatMap(([key, value]) => {
    if (typeof value === 'number') return [`${prefix}${key}=${value}`];
    return summarizeCounts(value, `${prefix}${key}.`);
  });
}

async function tick(url: string, log: (line: string) => void): Promise<void> {
  const began = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: '{}',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    const took = `${response.status} in ${Date.now() - began} ms`;
    let counts: string[] = [];
    try {
      counts = summarizeCounts(JSON.parse(text));
    } catch {
      // not JSON: show the start of the body instead
    }
    const detail = counts.length
      ? counts.join(' ')
      : text.replace(/\s+/g, ' ').slice(0, 200);
    log(`poll ${took}: ${detail}`);
  } catch (error) {
    log(
      `poll failed after ${Date.now() - began} ms: ${(error as Error).message}`,
    );
  }
}

/**
 * Ticks now and then every `intervalMs` after the previous tick ended: unlike Cloud Scheduler it never overlaps
 * runs, which keeps the local log readable when a poll is slow.
 */
export function startTicker(options: {
  url: string;
  intervalMs: number;
  log: (line: string) => void;
}): Ticker {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  // A request in flight when we stop ends in an error the shutdown caused; not worth a line.
  const log = (line: string) => {
    if (!stopped) options.log(line);
  };
  const loop = async () => {
    const began = Date.now();
    await tick(options.url, log);
    if (stopped) return;
    const wait = Math.max(0, options.intervalMs - (Date.now() - began));
    timer = setTimeout(() => void loop(), wait);
  };
  void loop();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
