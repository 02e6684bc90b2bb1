/**
 * Progress while `wait` blocks, on stderr: on a terminal one line redrawn in place with a spinner; otherwise
 * (CI logs, pipes) a plain line when something changed, and at least every half minute so a log shows life.
 */

/** What the progress line shows. */
export interface ProgressState {
  registrationId?: string;
  state?: string;
  attempts?: number;
  /** From the operation's metadata, e.g. `45%` or `1200/5000 documents`. */
  progress?: string;
  /** A passing problem, e.g. opwatch briefly unreachable. */
  note?: string;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
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
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private lastPlain = '';
  private lastPlainAt = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly enabled = true,
    private readonly tty = stream.isTTY === true,
  ) {
    if (enabled && this.tty) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
  }

  /** Merges `state` into what is shown. */
  update(state: ProgressState): void {
    this.state = {...this.state, ...state};
    if (!this.enabled) return;
    if (this.tty) return this.draw();
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

  /** Writes a line without garbling the spinner. */
  log(line: string): void {
    if (this.enabled && this.tty) this.stream.write('\r\x1b[K');
    this.stream.write(`opwatch: ${line}\n`);
  }

  /** Clears the line and stops redrawing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled && this.tty) this.stream.write('\r\x1b[K');
  }

  private draw(): void {
    this.frame = (this.frame + 1) % SPINNER.length;
    this.stream.write(`\r\x1b[K${SPINNER[this.frame]} ${this.text(true)}`);
  }

  private text(withElapsed: boolean): string {
    const {registrationId, state, attempts, progress, note} = this.state;
    return [
      withElapsed
        ? `waiting ${formatElapsed(Date.now() - this.started)}`
        : 'waiting',
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
