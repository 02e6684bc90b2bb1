/**
 * Every constant of the forecaster, in one place. They were chosen on the benchmark's tuning families only
 * (bench/families.ts, `role: 'tuning'`); the held-out families are evaluated with them as they are, and nothing in
 * the benchmark changes them.
 */

/** No forecast polls sooner than this after a poll. */
export const MIN_WAIT_MS = 1000;
/** Random share taken off a forecast wait, so a burst of one kind does not poll in lock-step. */
export const JITTER = 0.1;

// Progress (rule 2).

/** How long after an extrapolated finish to poll: progress at 100 % is often a moment ahead of `done`. */
export const PROGRESS_MARGIN_MS = 500;
/**
 * Below this share done, a steady estimate is still a long extrapolation, and a small error in the reading (it
 * was taken somewhere between the request and the answer) grows with it: go {@link EARLY_JUMP_SHARE} of the way,
 * and let the next reading, much further on, place the finish.
 */
export const EARLY_FRACTION = 0.5;
export const EARLY_JUMP_SHARE = 0.9;
/**
 * A steady estimate may wait past the cap, but at most this share of the operation's age: progress that looks
 * straight over a short stretch (the foot of an S-curve) can point far beyond the real finish, and a wait no longer
 * than the age lets the curve show itself before much time is lost.
 */
export const JUMP_AGE_SHARE = 1;
/**
 * Past an extrapolated finish, wait this share of the time elapsed; and while progress is not steady, never less:
 * halving the way to an estimate that keeps moving would otherwise poll every second as it is neared.
 */
export const OVERDUE_SHARE = 0.05;
/** Rates (since the start, and since the last poll) that differ by no more than this share count as steady. */
export const STEADY_TOLERANCE = 0.15;

// Learned durations (rule 3).

/** Finished operations a kind needs before its history overrides the priors. */
export const MIN_HISTORY = 5;
/** A floor on the spread: a handful of near-identical durations must not make the forecast overconfident. */
export const MIN_SIGMA = 0.05;
/**
 * A history of n operations predicts the next one less surely than its spread says: the spread is widened by
 * this share over n (40 % at 5 operations, 2 % at 100), a plain stand-in for the t distribution's wider tails.
 */
export const SMALL_HISTORY_WIDENING = 2;
/**
 * The forecast skips the time before this many (widened) standard deviations below the median: about 0.5 % of
 * a log-normal kind is done by then, so few operations wait long for a poll.
 */
export const TAIL_Z = 2.58;
/**
 * What one poll is worth in delay: within a kind's durations, each wait minimises delay plus this much per
 * poll, which makes it sqrt(2 x this / hazard), the hazard being the chance per millisecond that a running
 * operation of that age finishes.
 */
export const DELAY_PER_POLL_MS = 2500;

// Unsure waits (rules 2 to 5).

/**
 * An unsure wait (progress that does not run straight, a history at its wide end, nothing known) is at most this
 * base plus {@link AGE_SHARE} of the operation's age, within the cap: a short operation is not kept waiting many
 * times its duration, and a young one's polls are spaced as a geometric backoff's are (1 s x1.25 waits a quarter
 * of the age plus 1 s), a little wider, so as many operations are noticed as soon for fewer polls.
 */
export const UNSURE_BASE_MS = 2500;
/** The share of the age an unsure wait may add to {@link UNSURE_BASE_MS}: a delay within that share of the duration. */
export const AGE_SHARE = 0.2;
