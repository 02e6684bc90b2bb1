/**
 * Progress while `wait` blocks, on stderr: on a terminal a live progress bar (cli-progress) with the ETA;
 * otherwise (CI logs, pipes) a plain line when something changed, and at least every half minute so a log shows
 * life.
 */
import {MultiBar, Presets, type SingleBar} from 'cli-progress';

/** What the progress line shows. */
export interface ProgressState {
  registrationId?: string;
  state?: string;
  attempts?: number;
  /** From the operation's metadata, e.g. `45%` or `1200/5000 documents`. */
  progress?: string;
  /** A passing problem, e.g. opwatch briefly unreachable. */
  note?: string;
  /** The share done, 0 to 100, as opwatch read it (the registration's `progressPercent`). */
  percent?: number;
  /** When opwatch expects the operation done (the registration's `estimatedDoneAt`). */
  estimatedDoneAt?: string;
}

/** `ETA 2m10s`, or `ETA any moment` once the estimate has passed; undefined without an estimate. */
export function describeEta(
  estimatedDoneAt: string | undefined,
  now = Date.now(),
): string | undefined {
  const at = estimatedDoneAt === undefined ? NaN : Date.parse(estimatedDoneAt);
  if (!Number.isFinite(at)) return undefined;
  return at > now ? `ETA ${formatElapsed(at - now)}` : 'ETA any moment';
}

const PLAIN_HEARTBEAT_MS = 30_000;

const num = (value: unknown) =>
  typeof value === 'number' || (typeof value === 'string' && value !== '')
    ? Number(value)
    : undefined;

/**
 * What an operation says about its progress, read from the fields the watched families use: `progressPercent`
 * (Vertex AI, Spanner's `progress`), Compute's `progress`, Firestore's `progressDocuments` and `operationState`.
 */
export function describeProgress(
  operation: Record<string, unknown>,
): string | undefined {
  const metadata = (operation.metadata ?? {}) as Record<string, unknown>;
  const nested = (metadata.progress ?? {}) as Record<string, unknown>;
  const percent =
    num(metadata.progressPercent) ??
    num(metadata.progressPercentage) ??
    num(nested.progressPercent) ??
    num(operation.progress);
  const documents = metadata.progressDocuments as
    {completedWork?: unknown; estimatedWork?: unknown} | undefined;
  const parts: string[] = [];
  if (percent !== undefined && Number.isFinite(percent))
    parts.push(`${percent}%`);
  if (documents && num(documents.completedWork) !== undefined) {
    const estimated = num(documents.estimatedWork);
    parts.push(
      `${num(documents.completedWork)}${estimated ? `/${estimated}` : ''} documents`,
    );
  }
  const state = metadata.operationState ?? metadata.state;
  if (typeof state === 'string') parts.push(state);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** `1m05s`. */
export function formatElapsed(ms: number): string {
  const total = Math.floor(ms / 1000);
  const [h, m, s] = [
    Math.floor(total / 3600),
    Math.floor(total / 60) % 60,
    total % 60,
  ];
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0
    ? `${h}h${pad(m)}m${pad(s)}s`
    : m > 0
      ? `${m}m${pad(s)}s`
      : `${s}s`;
}

/** Draws progress on a stream; {@link stop} before printing anything else to it. */
export class ProgressReporter {
  private readonly started = Date.now();
  private state: ProgressState = {};
  private readonly bars: MultiBar | undefined;
  private readonly bar: SingleBar | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPlain = '';
  private lastPlainAt = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly enabled = true,
    private readonly tty = stream.isTTY === true,
  ) {
    if (enabled && this.tty) {
      this.bars = new MultiBar(
        {
          stream,
          format: '{bar} {shown} · {text}',
          barsize: 24,
          hideCursor: true,
          clearOnComplete: true,
          // The bar draws on a terminal only; elsewhere the plain lines below tell the same.
          noTTYOutput: false,
        },
        Presets.shades_classic,
      );
      this.bar = this.bars.create(100, 0, this.payload());
      // Elapsed time and the ETA count down between updates.
      this.timer = setInterval(() => this.draw(), 1000);
      this.timer.unref();
    }
  }

  /** Merges `state` into what is shown. */
  update(state: ProgressState): void {
    this.state = {...this.state, ...state};
    if (!this.enabled) return;
    if (this.bar) return this.draw();
    const text = this.text(false);
    const now = Date.now();
    if (
      text !== this.lastPlain ||
      now - this.lastPlainAt >= PLAIN_HEARTBEAT_MS
    ) {
      this.stream.write(`opwatch: ${this.text(true)}\n`);
      this.lastPlain = text;
      this.lastPlainAt = now;
    }
  }

  /** Writes a line above the bar. */
  log(line: string): void {
    if (this.bars) this.bars.log(`opwatch: ${line}\n`);
    else this.stream.write(`opwatch: ${line}\n`);
  }

  /** Clears the bar and stops redrawing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.bars?.stop();
  }

  private draw(): void {
    this.bar?.update(this.state.percent ?? 0, this.payload());
  }

  private payload(): {shown: string; text: string} {
    const {percent} = this.state;
    return {
      shown:
        percent === undefined ? '  ?%' : `${percent.toFixed(0).padStart(3)}%`,
      text: this.text(true),
    };
  }

  private text(withElapsed: boolean): string {
    const {registrationId, state, attempts, progress, note, estimatedDoneAt} =
      this.state;
    return [
      withElapsed
        ? `waiting ${formatElapsed(Date.now() - this.started)}`
        : 'waiting',
      // Plain lines change when the estimate does, not every second as it counts down.
      withElapsed ? describeEta(estimatedDoneAt) : estimatedDoneAt && 'ETA',
      registrationId && `registration ${registrationId}`,
      state,
      attempts !== undefined && `${attempts} polls`,
      progress,
      note,
    ]
      .filter(Boolean)
      .join(' · ');
  }
}
