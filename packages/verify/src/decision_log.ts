// The one decision hook's record, the keyed digest of a call's arguments, and a ready-made JSON-lines sink.
import { createHmac } from 'node:crypto';
import type { ArgumentViolation } from './decision.js';
import type { Actor } from './types.js';

/**
 * One tool decision, allowed or denied, as the `onDecision` hook receives it. Never holds the token; holds the
 * arguments only as a keyed digest unless the operator opts in to raw values.
 *
 * @example
 * ```ts
 * const onDecision = (event: DecisionEvent) => audit.write(event) // { time, sub, sid, actors, client_id, tool, ... }
 * ```
 */
export interface DecisionEvent {
  /** ISO 8601 time of the decision. */
  time: string;
  sub: string;
  sid: string;
  /** The whole RFC 8693 `act` chain, current actor first. */
  actors: readonly Actor[];
  client_id: string;
  jti: string;
  tool: string;
  decision: 'allow' | 'deny';
  /** Empty when allowed; `insufficient_scope` or `insufficient_authorization_details` when denied. */
  reasons: string[];
  /** For `insufficient_authorization_details`: the first violation of each of the token's entries for the tool. */
  violations?: readonly ArgumentViolation[];
  /**
   * base64url HMAC-SHA256, under the deployment's `argumentsKey`, of the canonical JSON (sorted member names, no
   * whitespace) of the call's arguments: equal calls give equal digests, yet a low-entropy amount or id cannot be
   * recovered by hashing guesses without the key.
   */
  arguments_hmac: string;
  /** The arguments as received; only with `logArguments: true`. */
  arguments?: unknown;
}

/**
 * Anything with an `info(message)` method: `console`, pino, winston, bunyan.
 *
 * @example
 * ```ts
 * const logger: InfoLogger = console
 * ```
 */
export interface InfoLogger {
  info(message: string): unknown;
}

/**
 * A decision hook that writes each event as one JSON line through `logger.info`. For a structured logger that
 * merges objects (pino), pass your own hook instead: `onDecision: (event) => log.info(event, 'tool decision')`.
 *
 * @example
 * ```ts
 * import { expressToolAuthorization, jsonLinesDecisionSink } from 'delegation-token-verify'
 *
 * app.post('/mcp', auth, expressToolAuthorization({
 *   resourceMetadataUrl, argumentsKey: process.env.DECISION_LOG_KEY!, onDecision: jsonLinesDecisionSink(console),
 * }), mcpHandler)
 * ```
 */
export function jsonLinesDecisionSink(logger: InfoLogger): (event: DecisionEvent) => void {
  return (event) => {
    logger.info(JSON.stringify(event));
  };
}

// RFC 2104 §3: keys shorter than the hash output (32 bytes for SHA-256) are strongly discouraged.
const MIN_KEY_BYTES = 32;

/** Check the deployment key once, at construction; returns a digest function over canonical JSON. */
export function argumentsDigester(key: string | Uint8Array): (args: unknown) => string {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < MIN_KEY_BYTES) {
    throw new TypeError(`argumentsKey must be at least ${MIN_KEY_BYTES} bytes`);
  }
  const copy = Uint8Array.from(bytes);
  return (args) => createHmac('sha256', copy).update(canonicalJson(args)).digest('base64url');
}

/**
 * RFC 8785-style canonical JSON: member names sorted by UTF-16 code units, no whitespace, numbers and strings as
 * JSON.stringify writes them (which is what RFC 8785 §3.2.2 specifies). `undefined` members are dropped, as in JSON.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const members: string[] = [];
  for (const name of Object.keys(record).sort()) {
    if (record[name] !== undefined) members.push(`${JSON.stringify(name)}:${canonicalJson(record[name])}`);
  }
  return `{${members.join(',')}}`;
}
