/**
 * How a kind's learned durations are weighed, pure: kept apart per owner, decaying with age, and balanced so that
 * no single owner outweighs the rest.
 *
 * - **Per owner:** a history document holds sums per slot, a hash of the owner into {@link SLOTS}. Owners who
 *   share a slot only share its weight, so the document stays small however many owners a tenant has.
 * - **Decay:** a finished operation adds its sums weighted `2^((t - start of the era) / half-life)`, and reading
 *   at `now` scales an era's sums by `2^((start of the era - now) / half-life)`: each operation then weighs
 *   `2^-(age / half-life)`, with nothing but increments written. Eras of {@link ERA_HALF_LIVES} half-lives keep the
 *   weights within 2^32; only the current era and the one before can weigh anything.
 * - **Balance:** with two owners or more, each slot counts at most as much as all the others together, so one
 *   owner registering many operations of a kind cannot teach it a duration alone.
 */
import {createHash} from 'node:crypto';
import {
  durationModel,
  type DurationModel,
  type DurationSums,
} from './durations';

/** A finished operation's weight halves every this long: a week-old duration counts half. */
export const HALF_LIFE_MS = 7 * 86_400_000;
/** Half-lives per era. */
export const ERA_HALF_LIVES = 32;
const ERA_MS = ERA_HALF_LIVES * HALF_LIFE_MS;
/** Slots per history: owners are hashed into these. */
export const SLOTS = 64;

/** A history as stored: sums per era (its number, as text), per slot (its number, as text). */
export type StoredHistory = Record<string, Record<string, DurationSums>>;

/** The era of time `at`. */
export function eraOf(at: number): number {
  return Math.floor(at / ERA_MS);
}

/** The sums scaled by `factor`. */
export function scaled(sums: DurationSums, factor: number): DurationSums {
  return {
    count: sums.count * factor,
    sumLog: sums.sumLog * factor,
    sumLogSquares: sums.sumLogSquares * factor,
  };
}

/** The sum of two sums. */
export function added(a: DurationSums, b: DurationSums): DurationSums {
  return {
    count: a.count + b.count,
    sumLog: a.sumLog + b.sumLog,
    sumLogSquares: a.sumLogSquares + b.sumLogSquares,
  };
}

/** What one finished operation adds, learned at `at`: its sums weighted for its era. */
export function learnedSums(sums: DurationSums, at: number): DurationSums {
  return scaled(sums, 2 ** ((at - eraOf(at) * ERA_MS) / HALF_LIFE_MS));
}

/** The slot of `owner`. */
export function slotOf(owner: string): string {
  const digest = createHash('sha256').update(owner).digest();
  return String(digest.readUInt32BE(0) % SLOTS);
}

/** Each slot's sums, decayed to `now`. */
function decayedSlots(history: StoredHistory, now: number): DurationSums[] {
  const current = eraOf(now);
  const slots = new Map<string, DurationSums>();
  for (const [era, bySlot] of Object.entries(history)) {
    const number = Number(era);
    // Sums of older eras weigh under 2^-32 of a fresh one.
    if (number !== current && number !== current - 1) continue;
    const factor = 2 ** ((number * ERA_MS - now) / HALF_LIFE_MS);
    for (const [slot, sums] of Object.entries(bySlot)) {
      const decayed = scaled(sums, factor);
      const kept = slots.get(slot);
      slots.set(slot, kept ? added(kept, decayed) : decayed);
    }
  }
  return [...slots.values()];
}

/** The slots' sums combined, each slot counting at most as much as all the others together (when there are others). */
export function balanced(slots: DurationSums[]): DurationSums {
  const total = slots.reduce((sum, slot) => sum + slot.count, 0);
  const owners = slots.filter(slot => slot.count > 0);
  const empty = {count: 0, sumLog: 0, sumLogSquares: 0};
  if (owners.length <= 1) return owners[0] ?? empty;
  return owners.reduce(
    (sum, slot) =>
      added(
        sum,
        scaled(slot, Math.min(slot.count, total - slot.count) / slot.count),
      ),
    empty,
  );
}

/** The model of a stored history at `now`: decayed, balanced; undefined while it weighs too little. */
export function historyModel(
  history: StoredHistory,
  now: number,
): DurationModel | undefined {
  return durationModel(balanced(decayedSlots(history, now)));
}
