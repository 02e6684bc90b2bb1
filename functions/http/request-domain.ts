/**
 * The Functions Framework runs every request of an HTTP function inside a `node:domain` (its function wrappers),
 * to turn an uncaught exception into a 500. Each promise made inside a domain gets a `domain` property and every
 * callback an enter and an exit: profiled, that was an eighth of the poll process's CPU, and more of a
 * registration's. opwatch's handlers catch their own errors, so they leave the domain before any work.
 */

/** Leaves the request's domain, if any: what the handler does from here on carries no domain bookkeeping. */
export function leaveRequestDomain(): void {
  // Node.js sets process.domain while one is entered; @types/node leaves the deprecated property out.
  (process as {domain?: {exit(): void}}).domain?.exit();
}
