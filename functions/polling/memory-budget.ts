/**
 * The poll function's memory, budgeted from what it is given (POLL_MEMORY_MB, the Terraform value of the
 * function's memory): what the runtime itself holds, the stored registrations a tick holds, and what is left,
 * shared by the polls that run at once. Each poll's answer is capped so that all of them together fit: an answer
 * over the cap is its registration's poll error (the operations client refuses it as it arrives, never reading it
 * whole), never the instance's out-of-memory kill, which would stop every poll of the tick.
 */
import {ConfigError, type PollerConfig} from '../core/config';
import {MAX_PENDING_OPERATION_BYTES} from '../core/document';
import {MAX_ANSWER_BYTES} from '../google/operations-client';
import {PAGE_SIZE} from './tick-run';

const MIB = 1024 * 1024;
/**
 * What the poll process holds before any answer: Node.js, the Functions Framework, the worker thread and the
 * Firestore, Pub/Sub and HTTP clients. Measured: 181 MB resident after a tick of 20 polls, 194 MB at its peak.
 */
export const RUNTIME_RESERVE_BYTES = 200 * MIB;
/** A pending registration as read: its last operation (at most 16 KiB while pending) and the rest of its fields. */
const DOCUMENT_BYTES = MAX_PENDING_OPERATION_BYTES + 4096;
/**
 * Bytes held per byte of an answer while it is polled: its raw chunks, its text, the parsed value, the
 * notification's JSON and buffer. Parsing costs most for JSON of many tiny values: `[{},{},…]` holds an object of
 * about 30 bytes for every 3 bytes of text.
 */
export const ANSWER_EXPANSION = 16;
/** Below this, answers that real APIs give would be refused: the configuration is refused instead. */
export const MIN_ANSWER_BYTES = 64 * 1024;

/** What a tick may hold. */
export interface MemoryBudget {
  /** The largest answer read; a larger one is its registration's poll error. */
  maxAnswerBytes: number;
  /** The most one poll holds for its answer. */
  perPollBytes: number;
  /** The most a tick holds beyond the runtime: every poll at once, and the registrations in hand. */
  perTickBytes: number;
}

/**
 * The budget for `memoryMb` of memory at the configured concurrency.
 * @throws ConfigError when what is left for each poll is under {@link MIN_ANSWER_BYTES}.
 */
export function memoryBudget(
  config: Pick<PollerConfig, 'memoryMb' | 'concurrency'>,
): MemoryBudget {
  const documents = (config.concurrency + 2 * PAGE_SIZE) * DOCUMENT_BYTES;
  const forAnswers = config.memoryMb * MIB - RUNTIME_RESERVE_BYTES - documents;
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
    perTickBytes: perPollBytes * config.concurrency + documents,
  };
}
