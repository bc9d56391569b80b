// The JSON-RPC request ids in flight per MCP session, at this replica: a second request reusing one is refused.

/** Ids of requests whose answers are still open, per `Mcp-Session-Id` (one registry per route). */
export class InFlightRequests {
  readonly #bySession = new Map<string, Set<string>>();

  /**
   * Claims `id` in `session`: a release function, or undefined when a request with that id is still in flight there.
   * JSON-RPC keeps `1` and `"1"` apart, as the MCP SDK's transport does (a Map keyed by the id).
   */
  claim(session: string, id: string | number): (() => void) | undefined {
    const key = `${typeof id}:${id}`;
    let ids = this.#bySession.get(session);
    if (ids?.has(key)) return undefined;
    if (!ids) {
      ids = new Set();
      this.#bySession.set(session, ids);
    }
    ids.add(key);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      ids.delete(key);
      if (ids.size === 0 && this.#bySession.get(session) === ids) this.#bySession.delete(session);
    };
  }

  /** Sessions with a request in flight (tests). */
  get size(): number {
    return this.#bySession.size;
  }
}
