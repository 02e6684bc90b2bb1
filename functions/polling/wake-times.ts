/**
 * When a tick's own registrations fall due again. The tick wrote each one's next poll time, so it need not wait
 * for its next idle look to find them: it wakes when the first of them is due. Without this, each poll of a short
 * operation came up to a second late (the idle recheck), a large share of a 2 s operation's duration.
 */

/** Wake-ups round up to a multiple of this, so registrations due close together share one read. */
export const WAKE_SLOT_MS = 50;

/** The slots in which registrations this tick wrote fall due: at most one entry per slot. */
export class WakeTimes {
  private readonly slots = new Set<number>();

  constructor(private readonly slotMs = WAKE_SLOT_MS) {}

  /** Notes a registration due at `at` (milliseconds since the epoch). */
  add(at: number): void {
    this.slots.add(Math.ceil(at / this.slotMs));
  }

  /** The earliest wake-up after `now`, if any; the slots at or before it are forgotten. */
  next(now: number): number | undefined {
    let earliest = Infinity;
    for (const slot of this.slots) {
      if (slot * this.slotMs <= now) this.slots.delete(slot);
      else earliest = Math.min(earliest, slot);
    }
    return earliest === Infinity ? undefined : earliest * this.slotMs;
  }
}
