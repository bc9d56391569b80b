// What the gateway logs of an exception it did not expect (a bug, a library throwing): enough to find the cause, never
// a credential. pino's redaction matches paths (`*.authorization`), not text inside a message or a stack.
/** Compact JWS/JWE (delegation tokens, DPoP proofs, assertions): a base64url JSON header starts `eyJ`. */
const JWT = /\beyJ[\w-]*\.[\w-]*(?:\.[\w-]*){0,3}/g;
/** RFC 6750 §2.1 / RFC 9449 §7.1 credentials as they appear in an Authorization header. */
const CREDENTIAL = /\b(Bearer|DPoP)\s+[^\s"',;]+/gi;

/** `String(value)`, or a placeholder for a value that cannot be printed (a null-prototype object, a throwing toString). */
function printable(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '(unprintable)';
  }
}

const scrub = (text: string) => text.replace(JWT, '[redacted]').replace(CREDENTIAL, '$1 [redacted]');

/** A failure as logged: its type, its `code` when a string, and its message and stack with tokens removed. */
export interface LoggedFailure {
  type: string;
  message: string;
  code?: string;
  stack?: string;
}

/**
 * The loggable part of a thrown value: name, string `code`, message and stack, tokens removed. No other property of
 * the error is copied (a library's error may carry the request it failed on, headers and all).
 *
 * @example
 * logger.error({ reqId, error: loggableFailure(err) }, 'gateway request failed');
 */
export function loggableFailure(err: unknown): LoggedFailure {
  if (!(err instanceof Error)) return { type: typeof err, message: scrub(printable(err)) };
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    message: scrub(err.message),
    ...(typeof code === 'string' ? { code } : {}),
    ...(err.stack !== undefined ? { stack: scrub(err.stack) } : {}),
  };
}
