/**
 * JSON answers, errors included, in the shape Google APIs use (`{"error": {"code", "status", "message"}}`), so
 * a caller's error handling for Google APIs reads opwatch's too.
 */
import type {Response} from 'express';
import type {ErrorBody, FieldProblem} from '../core/schemas';

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** Builds an error body. */
export function errorBody(
  code: number,
  message: string,
  problems?: FieldProblem[],
): ErrorBody {
  return {
    error: {
      code,
      status:
        STATUS_NAMES[code] ??
        (code >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION'),
      message,
      ...(problems &&
        problems.length > 0 && {field: problems[0].field, details: problems}),
    },
  };
}

/** Answers with an error. */
export function sendError(
  res: Response,
  code: number,
  message: string,
  problems?: FieldProblem[],
): void {
  res.status(code).json(errorBody(code, message, problems));
}

/** Answers 400 naming the fields at fault. */
export function sendInvalid(res: Response, problems: FieldProblem[]): void {
  const summary = problems
    .map(problem => `${problem.field}: ${problem.message}`)
    .join('; ');
  sendError(res, 400, `invalid request: ${summary}`, problems);
}
