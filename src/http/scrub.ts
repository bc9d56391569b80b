// What a log line may carry of a failure or of a request's headers, at the service and the gateway alike (logger.ts
// serializers): enough to find a cause, never a credential. pino's redaction matches paths (`*.authorization`), not
// text inside a message or a stack, nor a property a library's error hangs the failed request on.
/** Compact JWS/JWE (delegation tokens, DPoP proofs, assertions): a base64url JSON header starts `eyJ`. */
const JWT = /\beyJ[\w-]*\.[\w-]*(?:\.[\w-]*){0,3}/g;
/** RFC 7617 §2 / RFC 6750 §2.1 / RFC 9449 §7.1 credentials as they appear in an Authorization header. */
const CREDENTIAL = /\b(Basic|Bearer|DPoP)\s+[^\s"',;]+/gi;
/** Form or query parameters that carry a secret (RFC 6749 §2.3.1, §4.1.3, §4.1.4, §6; RFC 7636 §4.5; RFC 7523 §2.2; RFC 8693 §2.1). */
const SECRET_PARAMETER = /\b(client_secret|client_assertion|refresh_token|access_token|subject_token|actor_token|assertion|code|code_verifier)=[^\s&"',;]+/gi;
/** A Cookie or Set-Cookie header line as text (RFC 6265 §4): a session cookie is a credential. */
const COOKIE = /\b(set-cookie|cookie):[^\r\n]*/gi;
/** Request headers whose value is a credential, whole (RFC 9110 §11.6.2, §11.7.2; RFC 6265 §4; RFC 9449 §4.1). */
const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'dpop']);
/** How deep a chain of `cause`s is followed. */
const MAX_CAUSES = 3;

/** `String(value)`, or a placeholder for a value that cannot be printed (a null-prototype object, a throwing toString). */
function printable(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '(unprintable)';
  }
}

/**
 * Any value as loggable text: a string as it is, anything else printed; credentials removed either way.
 *
 * @example
 * scrub('POST /token client_secret=s3cr3t'); // 'POST /token client_secret=[redacted]'
 */
export const scrub = (value: unknown): string =>
  (typeof value === 'string' ? value : printable(value))
    .replace(JWT, '[redacted]')
    .replace(CREDENTIAL, '$1 [redacted]')
    .replace(SECRET_PARAMETER, '$1=[redacted]')
    .replace(COOKIE, '$1: [redacted]');

/** A failure as logged: its type, its `code` when a string, its message and stack with tokens removed, and its cause's. */
export interface LoggedFailure {
  type: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: LoggedFailure;
}

/** `err.cause`, or undefined when there is none or it cannot be read. */
function causeOf(err: Error): unknown {
  try {
    return err.cause;
  } catch {
    return undefined;
  }
}

/**
 * The loggable part of a thrown value: name, string `code`, message and stack, credentials removed, and the same of its
 * `cause` (a few levels). No other property of the error is copied (a library's error may carry the request it failed
 * on, headers and all; ioredis's the command's arguments). Never throws: it runs in the handlers of last resort (a throw
 * here would leave a request unaudited, or end the process while an answer streams), so a `message` or `stack` that is
 * not a string is printed, and a getter that throws gives a placeholder.
 *
 * @example
 * logger.error({ reqId, error: loggableFailure(err) }, 'gateway request failed');
 */
export function loggableFailure(err: unknown, depth = 0): LoggedFailure {
  try {
    if (!(err instanceof Error)) return { type: typeof err, message: scrub(err) };
    const { name, message, stack } = err;
    const code = (err as { code?: unknown }).code;
    const cause = depth < MAX_CAUSES ? causeOf(err) : undefined;
    return {
      type: typeof name === 'string' ? name : scrub(name),
      message: scrub(message),
      ...(typeof code === 'string' ? { code } : {}),
      ...(stack !== undefined ? { stack: scrub(stack) } : {}),
      ...(cause !== undefined ? { cause: loggableFailure(cause, depth + 1) } : {}),
    };
  } catch {
    // A getter (or a Proxy trap) that throws: nothing of it can be read safely.
    return { type: 'unknown', message: '(unprintable)' };
  }
}

/**
 * Request or response headers as logged: a credential header's value replaced whole, every other value scrubbed. A
 * plain object (Node's `IncomingHttpHeaders`) or a fetch `Headers`; anything else as it is.
 *
 * @example
 * loggableHeaders({ authorization: 'Bearer abc', accept: 'application/json' }); // { authorization: '[redacted]', accept: 'application/json' }
 */
export function loggableHeaders(headers: unknown): unknown {
  if (headers === null || typeof headers !== 'object') return headers;
  const entries = headers instanceof Headers ? [...headers] : Object.entries(headers);
  return Object.fromEntries(
    entries.map(([name, value]: [string, unknown]) => [name, SECRET_HEADERS.has(name.toLowerCase()) ? '[redacted]' : Array.isArray(value) ? value.map(scrub) : typeof value === 'string' ? scrub(value) : value]),
  );
}
