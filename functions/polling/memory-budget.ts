/**
 * The poll function's memory, budgeted from what it is given (POLL_MEMORY_MB, the Terraform value of the
 * function's memory). Answers are parsed on the tick's worker thread, whose JavaScript heap Node.js sizes at half
 * the memory the function runs in (V8's default under the container's memory limit), and the process's memory
 * beyond that heap is Node.js's own. What the heap holds before any answer, and the stored registrations a tick
 * holds, come off it; what is left is shared by the polls that run at once. Each poll's answer is capped so that
 * all of them together fit: an answer over the cap is its registration's poll error (the operations client
 * refuses it as it arrives, never reading it whole), never the heap running out, which kills the instance and
 * every poll of its tick.
 */
import {ConfigError, type PollerConfig} from '../core/config';
import {MAX_PENDING_OPERATION_BYTES} from '../core/document';
import {MAX_ANSWER_BYTES} from '../google/operations-client';
import {PAGE_SIZE} from './tick-run';

const MIB = 1024 * 1024;
/** The share of the function's memory Node.js gives a thread's JavaScript heap under a memory limit. */
export const HEAP_SHARE = 0.5;
/**
 * What the process holds outside the JavaScript heap: Node.js, gRPC's native side, sockets and buffers. Measured:
 * 194 MB resident at the peak of a tick of 20 polls, of which about 34 MB heap.
 */
export const NATIVE_RESERVE_BYTES = 160 * MIB;
/** The worker's heap before any answer: the Firestore, Pub/Sub and HTTP clients (34 MB measured, after a call each). */
export const RUNTIME_HEAP_BYTES = 48 * MIB;
/** A pending registration as read: its last operation (at most 16 KiB while pending) and the rest of its fields. */
const DOCUMENT_BYTES = MAX_PENDING_OPERATION_BYTES + 4096;
/**
 * Heap held per byte of an answer while it is polled: its text, the parsed value, the notification's JSON, the
 * stored copy. Parsing costs most for JSON of many tiny values: `[{},{},…]` holds 64 bytes for every 3 bytes of
 * text. Measured: 32 such answers polled at once (read, parsed, notification built, stored copy made) exhaust a
 * 304 MB heap at 320 KiB each and fit at 304 KiB, about 31 bytes per byte of answer.
 */
export const ANSWER_EXPANSION = 32;
/** Below this, answers that real APIs give would be refused: the configuration is refused instead. */
export const MIN_ANSWER_BYTES = 64 * 1024;

/** What a tick may hold. */
export interface MemoryBudget {
  /** The largest answer read; a larger one is its registration's poll error. */
  maxAnswerBytes: number;
  /** The most one poll holds for its answer. */
  perPollBytes: number;
  /** The most a tick holds on the heap beyond the runtime: every poll at once, and the registrations in hand. */
  perTickBytes: number;
  /** The worker's JavaScript heap, as Node.js sizes it under the function's memory. */
  heapBytes: number;
}

/**
 * The budget for `memoryMb` of memory at the configured concurrency.
 * @throws ConfigError when what is left for each poll is under {@link MIN_ANSWER_BYTES}.
 */
export function memoryBudget(
  config: Pick<PollerConfig, 'memoryMb' | 'concurrency'>,
): MemoryBudget {
  const memory = config.memoryMb * MIB;
  const heap = Math.min(memory * HEAP_SHARE, memory - NATIVE_RESERVE_BYTES);
  const documents = (config.concurrency + 2 * PAGE_SIZE) * DOCUMENT_BYTES;
  const forAnswers = heap - RUNTIME_HEAP_BYTES - documents;
  const maxAnswerBytes = Math.min(
    MAX_ANSWER_BYTES,
    Math.floor(forAnswers / (config.concurrency * ANSWER_EXPANSION)),
  );
  if (maxAnswerBytes < MIN_ANSWER_BYTES) {
    throw new ConfigError(
      `invalid configuration: POLL_MEMORY_MB: ${config.memoryMb} MB leaves under ${MIN_ANSWER_BYTES / 1024} KiB ` +
        `for each of POLL_CONCURRENCY=${config.concurrency} answers; give the function more memory or poll fewer at once`,
    );
  }
  const perPollBytes = maxAnswerBytes * ANSWER_EXPANSION;
  return {
    maxAnswerBytes,
    perPollBytes,
    heapBytes: heap,
    perTickBytes: perPollBytes * config.concurrency + documents,
  };
}
