/**
 * A tick's lease renewals.
 */
import {within} from '../platform/deadline';
import type {PollLease} from './lease';

/** What a renewal that fails stops. */
export interface Stoppable {
  stop(reason: string): void;
}

/**
 * A tick's lease renewals, one after the other: each waits for the previous one to settle, so a slow renewal
 * never meets the next under the same precondition (where the loser would take the lease for lost).
 */
export class Renewals {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();

  constructor(
    private readonly lease: PollLease,
    private readonly everyMs: number,
    private readonly deadlineMs: number,
    private readonly run: Stoppable,
  ) {
    this.schedule();
  }

  /** Stops renewing; resolves once a renewal under way has settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.renewing;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.renewing = this.renew().then(() => {
        if (!this.stopped) this.schedule();
      });
    }, this.everyMs);
  }

  private async renew(): Promise<void> {
    try {
      const held = await within(
        this.lease.renew(),
        this.deadlineMs,
        'renewing the lease',
      );
      if (!held) this.fail('lease taken by another tick');
    } catch (error) {
      this.fail(`lease renewal failed: ${(error as Error).message}`);
    }
  }

  private fail(reason: string): void {
    this.stopped = true;
    this.run.stop(reason);
  }
}
