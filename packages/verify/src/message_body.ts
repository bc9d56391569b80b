// Whether a request that should carry JSON-RPC messages reaches the tool authorization without a parsed body: such a
// body was never decided, and an MCP transport handed no parsed body reads and runs the raw one itself.

/**
 * MCP Streamable HTTP: GET opens or resumes a stream and DELETE ends a session, without a message; "Every JSON-RPC
 * message sent from the client MUST be a new HTTP POST request to the MCP endpoint".
 */
const WITHOUT_MESSAGES = new Set(['GET', 'HEAD', 'DELETE']);

/**
 * True when `method` is one that carries messages (anything but GET, HEAD and DELETE) and `body` is not what a JSON
 * parser builds; false when `method` is undefined (a caller handing over a message it parsed itself, as the gateway
 * does). Internal.
 */
export function unparsedMessages(method: string | undefined, body: unknown): boolean {
  return method !== undefined && !WITHOUT_MESSAGES.has(method.toUpperCase()) && !parsedJson(body);
}

/**
 * A body a JSON parser built: an array (a batch) or an object with members. Not one: `undefined` (Express 5's
 * `express.json()` skipped a Content-Type it does not read as JSON, such as `application/json\u00a0`, which the MCP
 * SDK's transport trims and accepts, then reads the raw body itself), `{}` (what Express 4's parser and
 * `@koa/bodyparser` leave when they skip it, and never a JSON-RPC message), a string or a Buffer (a text or raw parser).
 */
function parsedJson(body: unknown): boolean {
  if (Array.isArray(body)) return true;
  if (typeof body !== 'object' || body === null) return false;
  const prototype = Object.getPrototypeOf(body);
  return (prototype === Object.prototype || prototype === null) && Object.keys(body).length > 0;
}
