/**
 * The fault suites' two sizes. `quick` runs inside `npm test` (`test:all`), a few minutes on a 2-core machine:
 * the same faults with smaller counts and shorter outages. `full` is `npm run test:faults`, whose figures
 * docs/reliability.md reports. FAULT_PROFILE picks one; unset, it is `quick`.
 */
export type FaultProfile = 'quick' | 'full';

function readProfile(value: string | undefined): FaultProfile {
  if (value === undefined || value === '' || value === 'quick') return 'quick';
  if (value === 'full') return 'full';
  throw new Error(`FAULT_PROFILE must be quick or full, not ${value}`);
}

/** The profile of this run. */
export const PROFILE: FaultProfile = readProfile(process.env.FAULT_PROFILE);

/** The value for this run's profile. */
export function byProfile<T>(values: Record<FaultProfile, T>): T {
  return values[PROFILE];
}
