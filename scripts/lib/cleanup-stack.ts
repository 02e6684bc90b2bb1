/**
 * What a long-running script has started, stopped in reverse order on the first reason to stop.
 */

/** Cleanups registered as things start; {@link CleanupStack.shutdown} runs them newest first, then exits. */
export class CleanupStack {
  private readonly cleanups: Array<[string, () => Promise<void>]> = [];
  private stoppingFlag = false;

  constructor(private readonly log: (line: string) => void) {}

  /** True once shutdown began; exits after that are expected. */
  get stopping(): boolean {
    return this.stoppingFlag;
  }

  /** Registers how to stop `what`. */
  defer(what: string, cleanup: () => Promise<void>): void {
    this.cleanups.push([what, cleanup]);
  }

  /**
   * Stops everything and exits with `code`; later calls do nothing, so the first reason wins. Whatever starts while
   * this runs is left to its own safety net (the emulators' watchers; the functions die with our process group).
   */
  async shutdown(code: number, reason?: string): Promise<void> {
    if (this.stoppingFlag) return;
    this.stoppingFlag = true;
    if (reason) this.log(reason);
    this.log('stopping...');
    for (let entry = this.cleanups.pop(); entry; entry = this.cleanups.pop()) {
      const [what, cleanup] = entry;
      // One failure must not leave the rest running.
      await cleanup().catch(error =>
        this.log(`stopping ${what} failed: ${(error as Error).message}`),
      );
    }
    this.log('stopped');
    process.exit(code);
  }
}
