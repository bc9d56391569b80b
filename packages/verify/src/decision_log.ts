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
  /**
   * The arguments as received; only with `logArguments: true`. Nested as deep as the caller's body allows: past a few
   * thousand levels JSON.stringify throws RangeError on them (`jsonLinesDecisionSink` writes any depth).
   */
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
    logger.info(eventLine(event));
  };
}

// JSON.stringify recurses and throws RangeError a few thousand levels down. The raw arguments (`logArguments`) are the
// one member a caller can nest that deep, so on that error they are written by `canonicalJson` (the same value, its
// member names sorted) after the rest of the event, and the decision is still logged.
function eventLine(event: DecisionEvent): string {
  try {
    return JSON.stringify(event);
  } catch (err) {
    if (!(err instanceof RangeError) || event.arguments === undefined) throw err;
    const { arguments: args, ...rest } = event;
    const head = JSON.stringify(rest);
    return `${head === '{}' ? '{' : `${head.slice(0, -1)},`}"arguments":${canonicalJson(args)}}`;
  }
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
 * The arguments are the caller's and JSON.parse builds any depth their body holds, so the walk keeps its own stack of
 * open containers instead of recursing: any depth that fits in memory is written. A value inside itself (never one
 * JSON.parse made) is a TypeError, as in JSON.stringify, rather than a walk without end.
 */
export function canonicalJson(value: unknown): string {
  let text = '';
  const open: OpenContainer[] = [];
  const enclosing = new Set<object>();
  let item: unknown = value;
  write: for (;;) {
    if (item === null || typeof item !== 'object') {
      text += JSON.stringify(item) ?? 'null';
    } else {
      if (enclosing.has(item)) throw new TypeError('canonicalJson: the value contains itself');
      enclosing.add(item);
      if (Array.isArray(item)) {
        text += '[';
        open.push({ container: item, names: undefined, length: item.length, next: 0, written: 0 });
      } else {
        const names = Object.keys(item).sort();
        text += '{';
        open.push({ container: item, names, length: names.length, next: 0, written: 0 });
      }
    }
    // The next member to write, closing each container that has none left on the way out.
    for (let top = open.at(-1); top !== undefined; top = open.at(-1)) {
      if (top.names === undefined) {
        const array = top.container as unknown[];
        while (top.next < top.length) {
          const index = top.next++;
          if (index > 0) text += ',';
          // A hole stays empty between its commas, as Array.prototype.map and join left it (JSON.parse makes none).
          if (!(index in array)) continue;
          item = array[index];
          continue write;
        }
        text += ']';
      } else {
        const record = top.container as Record<string, unknown>;
        while (top.next < top.length) {
          const name = top.names[top.next++]!;
          item = record[name];
          if (item === undefined) continue;
          text += `${top.written++ > 0 ? ',' : ''}${JSON.stringify(name)}:`;
          continue write;
        }
        text += '}';
      }
      open.pop();
      enclosing.delete(top.container);
    }
    return text;
  }
}

/** An array or object `canonicalJson` is writing: its members in the order written, and how far it has got. */
interface OpenContainer {
  readonly container: object;
  /** An object's member names, sorted; undefined for an array, whose members are its indexes. */
  readonly names: string[] | undefined;
  /** Elements or names, read once when the container is opened (as Array.prototype.map reads an array's length). */
  readonly length: number;
  /** The next index, or the next name's index in `names`. */
  next: number;
  /** An object's members written so far (its `undefined` members are dropped, so this may trail `next`). */
  written: number;
}
