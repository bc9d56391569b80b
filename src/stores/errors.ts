// The errors a store throws: its backend cannot answer (an outage, 503, not a bug, 500), or a consume was refused.

/** The backing store (Redis) failed or could not be reached: the caller fails closed with 503, never "not revoked". */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable';
  constructor(cause: unknown) {
    super(`store unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Wraps every async method of `store` so that any rejection becomes a StoreUnavailable (already wrapped ones pass
 * through). For backends whose failures are all I/O (Redis replies, connection, script errors); methods bound once.
 */
export function storeFailuresAsUnavailable<T extends object>(store: T): T {
  const wrapped = Object.create(store) as Record<string, unknown>;
  for (let proto = Object.getPrototypeOf(store); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = (store as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof method !== 'function' || Object.hasOwn(wrapped, name)) continue;
      wrapped[name] = (...args: unknown[]) => {
        try {
          const result = (method as (...a: unknown[]) => unknown).apply(store, args);
          return result instanceof Promise ? result.catch(toUnavailable) : result;
        } catch (err) {
          return toUnavailable(err);
        }
      };
    }
  }
  return wrapped as T;
}

export function toUnavailable(err: unknown): never {
  // A TypeError is a caller's malformed argument (e.g. normalizeRevocation) or a bug, a refused consume an answer: never an outage.
  throw err instanceof StoreUnavailable || err instanceof TypeError || err instanceof AlreadyConsumed ? err : new StoreUnavailable(err);
}

/** AlreadyConsumed's stable `code`. */
export const ALREADY_CONSUMED = 'ERR_ALREADY_CONSUMED';

/**
 * `consume` refused: the record was already consumed, or is gone (revoked or expired since it was read). A second use
 * of a one-time grant (RFC 6749 §4.1.2, RFC 9700 §4.14.2), never an outage: the caller refuses the use and ends
 * `grantId`'s grant when known. Matched on `code` across layers (provider/ does not import stores/).
 */
export class AlreadyConsumed extends Error {
  override name = 'AlreadyConsumed';
  readonly code = ALREADY_CONSUMED;
  constructor(
    readonly model: string,
    /** The grant the record was issued under, when the record could still be read. */
    readonly grantId: string | undefined,
  ) {
    // Never the record id in the message: an opaque token's id is the token itself.
    super(`${model} already consumed`);
  }
}
