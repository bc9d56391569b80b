// What the gateway logs of an exception it did not expect (a bug, a library throwing): enough to find the cause, never
// a credential. pino's redaction matches paths (`*.authorization`), not text inside a message or a stack.
/** Compact JWS/JWE (delegation tokens, DPoP proofs, assertions): a base64url JSON header starts `eyJ`. */
const JWT = /\beyJ[\w-]*\.[\w-]*(?:\.[\w-]*){0,3}/g;
/** RFC 7617 §2 / RFC 6750 §2.1 / RFC 9449 §7.1 credentials as they appear in an Authorization header. */
const CREDENTIAL = /\b(Basic|Bearer|DPoP)\s+[^\s"',;]+/gi;
/** Form or query parameters that carry a secret (RFC 6749 §2.3.1, §4.1.4, §6; RFC 7523 §2.2; RFC 8693 §2.1). */
const SECRET_PARAMETER = /\b(client_secret|client_assertion|refresh_token|access_token|subject_token|actor_token|assertion)=[^\s&"',;]+/gi;

/** `String(value)`, or a placeholder for a value that cannot be printed (a null-prototype object, a throwing toString). */
function printable(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '(unprintable)';
  }
}

/** Any value as loggable text: a string as it is, anything else printed; credentials removed either way. */
const scrub = (value: unknown) =>
  (typeof value === 'string' ? value : printable(value)).replace(JWT, '[redacted]').replace(CREDENTIAL, '$1 [redacted]').replace(SECRET_PARAMETER, '$1=[redacted]');

/** A failure as logged: its type, its `code` when a string, and its message and stack with tokens removed. */
export interface LoggedFailure {
  type: string;
  message: string;
  code?: string;
  stack?: string;
}

/**
 * The loggable part of a thrown value: name, string `code`, message and stack, credentials removed. No other property
 * of the error is copied (a library's error may carry the request it failed on, headers and all). Never throws: it runs
 * in the handlers of last resort (a throw here would leave a request unaudited, or end the process while an answer
 * streams), so a `message` or `stack` that is not a string is printed, and a getter that throws gives a placeholder.
 *
 * @example
 * logger.error({ reqId, error: loggableFailure(err) }, 'gateway request failed');
 */
export function loggableFailure(err: unknown): LoggedFailure {
  try {
    if (!(err instanceof Error)) return { type: typeof err, message: scrub(err) };
    const { name, message, stack } = err;
    const code = (err as { code?: unknown }).code;
    return {
      type: typeof name === 'string' ? name : scrub(name),
      message: scrub(message),
      ...(typeof code === 'string' ? { code } : {}),
      ...(stack !== undefined ? { stack: scrub(stack) } : {}),
    };
  } catch {
    // A getter (or a Proxy trap) that throws: nothing of it can be read safely.
    return { type: 'unknown', message: '(unprintable)' };
  }
}
